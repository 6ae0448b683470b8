package shuffle_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/internal/servertest"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestRedisUnreachable(t *testing.T) {
	addr := closedAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := shuffle.Open(ctx, shuffle.Config{Kind: shuffle.KindRedis, Addr: addr})
	require.Error(t, err)
	require.ErrorContains(t, err, "redis at "+addr)
	require.ErrorContains(t, err, "connection refused")
	require.ErrorContains(t, err, "is redis-server running at that address? (the bench harness starts one")
}

func TestS3Unreachable(t *testing.T) {
	addr := closedAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := shuffle.Open(ctx, shuffle.Config{Kind: shuffle.KindS3, Addr: addr, Bucket: "b-1", AccessKey: "a", SecretKey: "b"})
	require.Error(t, err)
	require.ErrorContains(t, err, "s3 at "+addr)
	require.ErrorContains(t, err, "connection refused")
	require.ErrorContains(t, err, "is the S3 server running at that address? (the bench harness starts one")
}

func TestS3WrongCredentials(t *testing.T) {
	c := servertest.S3(t).Config()
	c.SecretKey += "-wrong"
	_, err := shuffle.Open(context.Background(), c)
	require.Error(t, err)
	require.ErrorContains(t, err, "check the config's accessKey and secretKey")
}

// TestS3CreatesBucket opens a store on a bucket that does not exist yet,
// twice at once, as two tasks of a job would.
func TestS3CreatesBucket(t *testing.T) {
	c := servertest.S3(t).Config()
	c.Bucket = "created-by-open"
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := shuffle.Open(context.Background(), c)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	s := open(t, c)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, "created/k", []byte("v")))
	require.NoError(t, s.DeletePrefix(ctx, "created/"))
}
