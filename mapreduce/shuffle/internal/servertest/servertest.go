// Package servertest shares one redis-server and one MinIO among the tests
// and benchmarks of a test binary, started on first use and stopped by
// StopAll (call it from TestMain).
//
// A test that needs a server whose binary is missing is skipped, saying
// how to install it, unless MARVEL_REQUIRE_SERVERS=1 (scripts/test.sh sets
// it), in which case it fails; with MARVEL_REQUIRE_SERVERS=1 a missing
// MinIO is built (minutes, once per machine).
package servertest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle/servers"
)

// Required reports whether MARVEL_REQUIRE_SERVERS=1: missing servers fail
// tests instead of skipping them.
func Required() bool { return os.Getenv("MARVEL_REQUIRE_SERVERS") == "1" }

var (
	mu    sync.Mutex // guards the fields below
	base  string     // temporary directory holding the servers' directories
	redis *servers.Redis
	s3    *servers.S3
	errs  = map[string]error{} // a start that failed, by server
)

// baseLocked creates the temporary directory of the servers.
func baseLocked() (string, error) {
	if base == "" {
		d, err := os.MkdirTemp("", "marvel-shuffle-servers-")
		if err != nil {
			return "", err
		}
		base = d
	}
	return base, nil
}

// Redis returns the shared redis-server, starting it on first use.
func Redis(tb testing.TB) *servers.Redis {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if redis == nil && errs["redis"] == nil {
		var err error
		if redis, err = startRedis(); err != nil {
			redis, errs["redis"] = nil, err
		}
	}
	Check(tb, errs["redis"])
	return redis
}

func startRedis() (*servers.Redis, error) {
	b, err := baseLocked()
	if err != nil {
		return nil, err
	}
	return servers.StartRedis(context.Background(), b+"/redis")
}

// S3 returns the shared MinIO server, starting it on first use.
func S3(tb testing.TB) *servers.S3 {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if s3 == nil && errs["s3"] == nil {
		var err error
		if s3, err = startS3(); err != nil {
			s3, errs["s3"] = nil, err
		}
	}
	Check(tb, errs["s3"])
	return s3
}

func startS3() (*servers.S3, error) {
	b, err := baseLocked()
	if err != nil {
		return nil, err
	}
	opts := servers.DefaultS3Options()
	opts.NoBuild = !Required()
	return servers.StartS3With(context.Background(), b+"/s3", opts)
}

// Check skips tb if err says a server binary is missing and servers are not
// required, and fails it for any other error.
func Check(tb testing.TB, err error) {
	tb.Helper()
	switch {
	case err == nil:
	case errors.Is(err, servers.ErrNotInstalled) && !Required():
		tb.Skipf("%v (set MARVEL_REQUIRE_SERVERS=1 to fail instead, and to build MinIO if missing)", err)
	default:
		tb.Fatal(err)
	}
}

// StopAll stops the servers started and removes their directories.
func StopAll() error {
	mu.Lock()
	defer mu.Unlock()
	var all []error
	if redis != nil {
		all = append(all, redis.Close())
		redis = nil
	}
	if s3 != nil {
		all = append(all, s3.Close())
		s3 = nil
	}
	if base != "" {
		all = append(all, os.RemoveAll(base))
		base = ""
	}
	return errors.Join(all...)
}
