package servers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// DefaultBucket is the bucket of the S3 server's Config.
const DefaultBucket = "marvel-shuffle"

// S3Options configure StartS3With.
type S3Options struct {
	// Binary is the minio executable to run. Empty: FindMinIO, and if that
	// finds none, BuildMinIO into BinDir.
	Binary string
	// BinDir is where the minio executable is looked for and built.
	BinDir string
	// NoBuild makes StartS3With fail (wrapping ErrNotInstalled) instead of
	// building MinIO when it finds none.
	NoBuild bool
	// AccessKey and SecretKey are the server's root credentials (at least 3
	// and 8 characters). Empty: random.
	AccessKey, SecretKey string
	// Bucket is the bucket of Config (created by shuffle.Open). Empty:
	// DefaultBucket.
	Bucket string
	// Logger receives the build's progress. nil logs nothing.
	Logger *slog.Logger
}

// DefaultS3Options returns the options of StartS3, read from the
// environment: BinDir is $MARVEL_MINIO, else $XDG_CACHE_HOME/marvel/minio
// (~/.cache/marvel/minio); the credentials are $MINIO_ROOT_USER and
// $MINIO_ROOT_PASSWORD when both are set, else random.
func DefaultS3Options() S3Options {
	o := S3Options{BinDir: os.Getenv("MARVEL_MINIO")}
	if o.BinDir == "" {
		if c, err := os.UserCacheDir(); err == nil {
			o.BinDir = filepath.Join(c, "marvel", "minio")
		} else {
			o.BinDir = filepath.Join(os.TempDir(), "marvel-minio")
		}
	}
	if u, p := os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD"); u != "" && p != "" {
		o.AccessKey, o.SecretKey = u, p
	}
	return o
}

// S3 is a MinIO server child process: a real S3-compatible object store
// speaking the S3 REST protocol (SigV4) on 127.0.0.1.
type S3 struct {
	Addr      string // 127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Bucket    string
	Dir       string // data/ holds the objects, minio.log its output

	p *process
}

// StartS3 runs MinIO on 127.0.0.1 and a free port, storing under dir, with
// DefaultS3Options. See StartS3With.
func StartS3(ctx context.Context, dir string) (*S3, error) {
	return StartS3With(ctx, dir, DefaultS3Options())
}

// StartS3With runs `minio server dir/data --address 127.0.0.1:PORT` and
// returns once /minio/health/live and /minio/health/ready answer 200. If no
// minio executable is found it is built first (BuildMinIO: minutes, once per
// machine). Close stops it.
func StartS3With(ctx context.Context, dir string, opts S3Options) (*S3, error) {
	bin, ok := FindMinIO(opts)
	if !ok {
		switch {
		case opts.Binary != "":
			return nil, fmt.Errorf("%w: minio executable %s not found", ErrNotInstalled, opts.Binary)
		case opts.NoBuild || opts.BinDir == "":
			return nil, fmt.Errorf("%w: minio is not in PATH or %q: build it with `%s`", ErrNotInstalled, opts.BinDir, MinIOInstallCommand(opts.BinDir))
		}
		var err error
		if bin, err = BuildMinIO(ctx, opts.BinDir, opts.Logger); err != nil {
			return nil, err
		}
	}
	if opts.AccessKey == "" || opts.SecretKey == "" {
		opts.AccessKey, opts.SecretKey = "marvel-"+randomHex(4), randomHex(16)
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("servers: s3 directory: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("servers: s3 directory: %w", err)
	}
	for attempt := 1; ; attempt++ {
		s, err := startMinIO(ctx, bin, dir, opts)
		if errors.Is(err, errAddrInUse) && attempt < startAttempts {
			continue
		}
		return s, err
	}
}

func startMinIO(ctx context.Context, bin, dir string, opts S3Options) (*S3, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"server", filepath.Join(dir, "data"),
		"--address", addr,
		"--certs-dir", filepath.Join(dir, "certs"),
		"--quiet"}
	p, err := startProcess("minio", bin, args, minioEnv(opts), filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	s := &S3{Addr: addr, AccessKey: opts.AccessKey, SecretKey: opts.SecretKey, Bucket: opts.Bucket, Dir: dir, p: p}
	if err := p.waitReady(ctx, s.healthy); err != nil {
		if p.addrInUse() {
			return nil, errAddrInUse
		}
		p.stop()
		return nil, err
	}
	return s, nil
}

// minioEnv is this process's environment without MINIO_ settings, plus the
// credentials and no console, update check or telemetry.
func minioEnv(opts S3Options) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"MINIO_ROOT_USER="+opts.AccessKey,
		"MINIO_ROOT_PASSWORD="+opts.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
}

var healthClient = &http.Client{Timeout: time.Second}

// healthy checks MinIO's liveness and readiness endpoints.
func (s *S3) healthy(ctx context.Context) error {
	for _, path := range []string{"/minio/health/live", "/minio/health/ready"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr+path, nil)
		if err != nil {
			return err
		}
		resp, err := healthClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
	}
	return nil
}

// Config returns the shuffle configuration of a store in this server.
func (s *S3) Config() shuffle.Config {
	return shuffle.Config{Kind: shuffle.KindS3, Addr: s.Addr, Bucket: s.Bucket, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
}

// Exited is closed once the server's process has exited (after Close, or
// by itself: a harness can watch it to notice a crashed server).
func (s *S3) Exited() <-chan struct{} { return s.p.done }

// Close stops the server (SIGTERM, then SIGKILL after 10 s) and waits for
// it. It fails if the server had exited by itself. Closing twice is
// harmless.
func (s *S3) Close() error { return s.p.stop() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
