package shuffle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store keeps each value as an object of one bucket of an S3-compatible
// object store, spoken to over plain HTTP with SigV4 by minio-go. Put
// returns when the server acknowledged the PUT.
type s3Store struct {
	addr      string
	bucket    string
	c         *minio.Client
	transport *http.Transport
	closed    atomic.Bool
}

// s3MaxRetries bounds minio-go's retries of a failed request, so a wrong
// address fails within a few seconds.
const s3MaxRetries = 3

func openS3(ctx context.Context, c Config) (*s3Store, error) {
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		return nil, fmt.Errorf("shuffle: open s3 store at %s: %w", c.Addr, err)
	}
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, redisPoolSize())
	var rt http.RoundTripper = tr
	if c.Latency > 0 {
		rt = latencyTransport{next: tr, d: c.Latency}
	}
	client, err := minio.New(c.Addr, &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       false,
		Transport:    rt,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   s3MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("shuffle: open s3 store at %s: %w", c.Addr, err)
	}
	s := &s3Store{addr: c.Addr, bucket: c.Bucket, c: client, transport: tr}
	if err := s.ensureBucket(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("shuffle: open s3 store: %w", err)
	}
	return s, nil
}

// ensureBucket creates the bucket unless it exists (another task may create
// it at the same time).
func (s *s3Store) ensureBucket(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.annotate("check bucket", "", err)
	}
	if ok {
		return nil
	}
	err = s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: "us-east-1"})
	if code := s3Code(err); code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	if err != nil {
		return s.annotate("create bucket", "", err)
	}
	return nil
}

func (s *s3Store) Kind() string { return KindS3 }

func s3Code(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// annotate says where err happened and, when it can tell, what to do.
func (s *s3Store) annotate(op, key string, err error) error {
	what := op
	if key != "" {
		what = fmt.Sprintf("%s %q", op, key)
	}
	return fmt.Errorf("shuffle: s3 at %s bucket %s: %s: %w%s", s.addr, s.bucket, what, err, s3Hint(err))
}

func s3Hint(err error) string {
	var op *net.OpError
	switch code := s3Code(err); {
	case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial":
		return ": is the S3 server running at that address? (the bench harness starts one: servers.StartS3)"
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied":
		return ": check the config's accessKey and secretKey"
	case code == "NoSuchBucket":
		return ": the bucket was deleted after Open; open the store again to recreate it"
	}
	return ""
}

func (s *s3Store) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: s3 at %s bucket %s: %s %q", ErrClosed, s.addr, s.bucket, op, key)
	}
	if err := ctx.Err(); err != nil {
		return s.annotate(op, key, err)
	}
	return nil
}

func (s *s3Store) Put(ctx context.Context, key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return s.annotate("put", key, err)
	}
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	// One PUT: values are at most 1 GiB, below S3's 5 GiB single-PUT limit.
	_, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		DisableMultipart: true,
	})
	if err != nil {
		return s.annotate("put", key, err)
	}
	return nil
}

func (s *s3Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return nil, s.annotate("get", key, err)
	}
	if err := s.begin(ctx, "get", key); err != nil {
		return nil, err
	}
	// One GET (minio.Core): Client.GetObject may send a second, conditional
	// request for the body, which fails if the key was overwritten between.
	body, info, _, err := minio.Core{Client: s.c}.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.getError(key, err)
	}
	defer body.Close()
	if info.Size < 0 || info.Size > MaxValueSize {
		return nil, fmt.Errorf("%w: s3 at %s bucket %s: key %q: object is %d bytes (at most %d); it was not written by this package",
			ErrTooLarge, s.addr, s.bucket, key, info.Size, MaxValueSize)
	}
	b := make([]byte, info.Size)
	if _, err := io.ReadFull(body, b); err != nil {
		return nil, s.getError(key, err)
	}
	return b, nil
}

func (s *s3Store) getError(key string, err error) error {
	if s3Code(err) == "NoSuchKey" {
		return fmt.Errorf("%w: s3 at %s bucket %s: key %q", ErrNotFound, s.addr, s.bucket, key)
	}
	return s.annotate("get", key, err)
}

func (s *s3Store) View(ctx context.Context, key string, fn func([]byte) error) error {
	b, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	return fn(b)
}

// DeletePrefix lists the objects under prefix and removes them in batches
// (S3 DeleteObjects, up to 1000 keys a request).
func (s *s3Store) DeletePrefix(ctx context.Context, prefix string) error {
	if err := validPrefix(prefix); err != nil {
		return s.annotate("delete prefix", prefix, err)
	}
	if err := s.begin(ctx, "delete prefix", prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := make(chan minio.ObjectInfo)
	listed := make(chan error, 1)
	go func() { // ends when the listing does or ctx is cancelled
		defer close(objs)
		for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				listed <- o.Err
				return
			}
			select {
			case objs <- o:
			case <-ctx.Done():
				listed <- ctx.Err()
				return
			}
		}
		listed <- nil
	}()
	var errs []error
	for e := range s.c.RemoveObjects(ctx, s.bucket, objs, minio.RemoveObjectsOptions{}) {
		errs = append(errs, fmt.Errorf("remove %q: %w", e.ObjectName, e.Err))
		if len(errs) == 10 {
			cancel() // enough to report; stop the listing
		}
	}
	cancel()
	if err := <-listed; err != nil && !(len(errs) > 0 && errors.Is(err, context.Canceled)) {
		errs = append(errs, fmt.Errorf("list: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return s.annotate("delete prefix", prefix, err)
	}
	return nil
}

func (s *s3Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.transport.CloseIdleConnections()
	return nil
}

// latencyTransport sleeps before every HTTP request.
type latencyTransport struct {
	next http.RoundTripper
	d    time.Duration
}

func (t latencyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := sleep(req.Context(), t.d); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}
