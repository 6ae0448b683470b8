package servers_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/internal/servertest"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/servers"
)

// roundTrip stores and reads back a value through the shuffle store of c.
func roundTrip(t *testing.T, c shuffle.Config) {
	t.Helper()
	ctx := context.Background()
	s, err := shuffle.Open(ctx, c)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.Put(ctx, "servers-test/k", []byte("value")))
	got, err := s.Get(ctx, "servers-test/k")
	require.NoError(t, err)
	require.Equal(t, "value", string(got))
	require.NoError(t, s.DeletePrefix(ctx, "servers-test/"))
}

// requireRefused checks that nothing listens at addr any more.
func requireRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "%s still accepts connections", addr)
}

func TestStartRedis(t *testing.T) {
	dir := t.TempDir()
	r, err := servers.StartRedis(context.Background(), dir)
	servertest.Check(t, err)
	t.Cleanup(func() { r.Close() })
	require.True(t, strings.HasPrefix(r.Addr, "127.0.0.1:"), r.Addr)
	c := r.Config()
	require.Equal(t, shuffle.Config{Kind: "redis", Addr: r.Addr}, c)
	roundTrip(t, c)
	require.FileExists(t, filepath.Join(dir, "redis.log"))

	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "closing twice is harmless")
	requireRefused(t, r.Addr)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.Equal(t, "redis.log", e.Name(), "no persistence files")
	}
}

// TestRedisExitReported: Close says so when the server had exited by
// itself.
func TestRedisExitReported(t *testing.T) {
	r, err := servers.StartRedis(context.Background(), t.TempDir())
	servertest.Check(t, err)
	t.Cleanup(func() { r.Close() })
	c, err := net.Dial("tcp", r.Addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("SHUTDOWN NOSAVE\r\n"))
	require.NoError(t, err)
	select {
	case <-r.Exited():
	case <-time.After(time.Minute):
		t.Fatal("redis-server did not exit after SHUTDOWN")
	}
	err = r.Close()
	require.ErrorContains(t, err, "redis-server had exited by itself")
	require.ErrorContains(t, err, "redis.log")
}

func TestStartRedisNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := servers.StartRedis(context.Background(), t.TempDir())
	require.ErrorIs(t, err, servers.ErrNotInstalled)
	require.ErrorContains(t, err, "apt-get install -y redis-server")
}

func TestStartS3(t *testing.T) {
	dir := t.TempDir()
	opts := servers.DefaultS3Options()
	opts.NoBuild = !servertest.Required()
	opts.Bucket = "own-bucket"
	s, err := servers.StartS3With(context.Background(), dir, opts)
	servertest.Check(t, err)
	t.Cleanup(func() { s.Close() })
	c := s.Config()
	require.Equal(t, shuffle.KindS3, c.Kind)
	require.Equal(t, s.Addr, c.Addr)
	require.Equal(t, "own-bucket", c.Bucket)
	require.NotEmpty(t, c.AccessKey)
	require.GreaterOrEqual(t, len(c.SecretKey), 8)
	roundTrip(t, c)
	require.DirExists(t, filepath.Join(dir, "data", "own-bucket"), "objects live under dir")

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")
	requireRefused(t, s.Addr)
}

func TestStartS3NotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	bin := t.TempDir()
	_, err := servers.StartS3With(context.Background(), t.TempDir(), servers.S3Options{BinDir: bin, NoBuild: true})
	require.ErrorIs(t, err, servers.ErrNotInstalled)
	require.ErrorContains(t, err, "GOBIN="+bin+" GOFLAGS=-mod=mod go install github.com/minio/minio@"+servers.MinIOVersion)

	// Building needs the go command, which PATH no longer has.
	_, err = servers.StartS3With(context.Background(), t.TempDir(), servers.S3Options{BinDir: bin})
	require.ErrorIs(t, err, servers.ErrNotInstalled)
	require.ErrorContains(t, err, "go command")

	_, err = servers.StartS3With(context.Background(), t.TempDir(), servers.S3Options{Binary: filepath.Join(bin, "nothing")})
	require.ErrorIs(t, err, servers.ErrNotInstalled)
}

// TestFindMinIO: a minio already in the binary directory is used as is.
func TestFindMinIO(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	bin := t.TempDir()
	_, ok := servers.FindMinIO(servers.S3Options{BinDir: bin})
	require.False(t, ok)
	exe := filepath.Join(bin, "minio")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	got, ok := servers.FindMinIO(servers.S3Options{BinDir: bin})
	require.True(t, ok)
	require.Equal(t, exe, got)
	built, err := servers.BuildMinIO(context.Background(), bin, nil)
	require.NoError(t, err, "nothing to build")
	require.Equal(t, exe, built)
}

func TestDefaultS3Options(t *testing.T) {
	t.Setenv("MARVEL_MINIO", "/opt/minio-bin")
	t.Setenv("MINIO_ROOT_USER", "")
	o := servers.DefaultS3Options()
	require.Equal(t, "/opt/minio-bin", o.BinDir)
	require.Empty(t, o.AccessKey, "random credentials unless both are set")

	t.Setenv("MARVEL_MINIO", "")
	t.Setenv("XDG_CACHE_HOME", "/var/cache/me")
	t.Setenv("MINIO_ROOT_USER", "user")
	t.Setenv("MINIO_ROOT_PASSWORD", "password1")
	o = servers.DefaultS3Options()
	require.Equal(t, "/var/cache/me/marvel/minio", o.BinDir)
	require.Equal(t, "user", o.AccessKey)
	require.Equal(t, "password1", o.SecretKey)
}

// TestRedisLargeValue stores a value above Redis's default 512 MB bulk
// limit (MARVEL_LONG=1 only: it moves gigabytes).
func TestRedisLargeValue(t *testing.T) {
	if os.Getenv("MARVEL_LONG") != "1" {
		t.Skip("moves gigabytes; set MARVEL_LONG=1")
	}
	r := servertest.Redis(t)
	ctx := context.Background()
	s, err := shuffle.Open(ctx, r.Config())
	require.NoError(t, err)
	defer s.Close()
	v := make([]byte, 600<<20)
	v[len(v)-1] = 7
	require.NoError(t, s.Put(ctx, "large/v", v))
	got, err := s.Get(ctx, "large/v")
	require.NoError(t, err)
	require.Len(t, got, len(v))
	require.Equal(t, byte(7), got[len(got)-1])
	require.NoError(t, s.DeletePrefix(ctx, "large/"))
}
