package shuffle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/internal/servertest"
)

// configs returns, per store kind, a function giving the configuration of a
// fresh store: a new temporary directory for pmem (emulated) and disk, the
// shared server for redis and s3 (skipping the test if its binary is
// missing and servers are not required).
func configs() []struct {
	kind   string
	config func(t testing.TB) shuffle.Config
} {
	return []struct {
		kind   string
		config func(t testing.TB) shuffle.Config
	}{
		{shuffle.KindPMEM, func(t testing.TB) shuffle.Config {
			return shuffle.Config{Kind: shuffle.KindPMEM, Dir: t.TempDir(), Mode: "emulated"}
		}},
		{shuffle.KindDisk, func(t testing.TB) shuffle.Config {
			return shuffle.Config{Kind: shuffle.KindDisk, Dir: t.TempDir()}
		}},
		{shuffle.KindRedis, func(t testing.TB) shuffle.Config { return servertest.Redis(t).Config() }},
		{shuffle.KindS3, func(t testing.TB) shuffle.Config { return servertest.S3(t).Config() }},
	}
}

// open opens c's store; the test's cleanup closes it.
func open(t testing.TB, c shuffle.Config) shuffle.Store {
	t.Helper()
	s, err := shuffle.Open(context.Background(), c)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// testPrefix is a key prefix of the test's own ("TestConformance-redis-
// RoundTrip/"), so tests sharing a server do not meet. The test's cleanup
// deletes it.
func testPrefix(t testing.TB, s shuffle.Store) string {
	p := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, t.Name()) + "/"
	t.Cleanup(func() { assert.NoError(t, s.DeletePrefix(context.Background(), p)) })
	return p
}

// seededRand returns a generator whose seed the test prints.
func seededRand(t testing.TB) *rand.Rand {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed>>1))
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

// tooLarge is one byte over the bound; its pages are never touched.
var tooLarge = sync.OnceValue(tooLargeValue)

// TestConformance runs the same contract against every store kind.
func TestConformance(t *testing.T) {
	for _, k := range configs() {
		t.Run(k.kind, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				fn   func(t *testing.T, c shuffle.Config)
			}{
				{"RoundTrip", testRoundTrip},
				{"Overwrite", testOverwrite},
				{"NotFound", testNotFound},
				{"DeletePrefix", testDeletePrefix},
				{"Concurrent", testConcurrent},
				{"InvalidKeys", testInvalidKeys},
				{"Cancel", testCancel},
				{"Latency", testLatency},
				{"Close", testClose},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, k.config(t)) })
			}
		})
	}
}

func testRoundTrip(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	require.Equal(t, c.Kind, s.Kind())
	p := testPrefix(t, s)
	r := seededRand(t)
	ctx := context.Background()
	for _, n := range []int{0, 1, 4097, 8 << 20} {
		key := fmt.Sprintf("%sv/%d", p, n)
		data := randomBytes(r, n)
		require.NoError(t, s.Put(ctx, key, data))
		got, err := s.Get(ctx, key)
		require.NoError(t, err)
		require.NotNil(t, got, "an empty value is an empty slice, not nil")
		require.True(t, bytes.Equal(data, got), "%d bytes: Get differs", n)
		calls := 0
		require.NoError(t, s.View(ctx, key, func(b []byte) error {
			calls++
			require.NotNil(t, b)
			require.True(t, bytes.Equal(data, b), "%d bytes: View differs", n)
			return nil
		}))
		require.Equal(t, 1, calls)
	}
	// View returns fn's error as is.
	errMine := errors.New("mine")
	require.ErrorIs(t, s.View(ctx, p+"v/1", func([]byte) error { return errMine }), errMine)
	// The longest key.
	long := p
	for len(long) < shuffle.MaxKeyLen {
		n := min(shuffle.MaxComponentLen, shuffle.MaxKeyLen-len(long))
		long += strings.Repeat("k", n)
		if len(long) < shuffle.MaxKeyLen-1 {
			long += "/"
		}
	}
	require.NoError(t, shuffle.ValidKey(long))
	require.Len(t, long, shuffle.MaxKeyLen)
	require.NoError(t, s.Put(ctx, long, []byte("long")))
	got, err := s.Get(ctx, long)
	require.NoError(t, err)
	require.Equal(t, "long", string(got))
}

func testOverwrite(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	p := testPrefix(t, s)
	ctx := context.Background()
	key := p + "k"
	for _, v := range []string{"first value, the longest", "second", "", "third"} {
		require.NoError(t, s.Put(ctx, key, []byte(v)))
		got, err := s.Get(ctx, key)
		require.NoError(t, err)
		require.Equal(t, v, string(got))
	}
	// A second store on the same configuration sees the same values.
	s2 := open(t, c)
	got, err := s2.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "third", string(got))
}

func testNotFound(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	p := testPrefix(t, s)
	ctx := context.Background()
	_, err := s.Get(ctx, p+"missing")
	require.ErrorIs(t, err, shuffle.ErrNotFound)
	require.ErrorContains(t, err, p+"missing", "the error names the key")
	err = s.View(ctx, p+"missing", func([]byte) error {
		t.Error("View called fn for a missing key")
		return nil
	})
	require.ErrorIs(t, err, shuffle.ErrNotFound)
	// A key's prefix is not a key, nor is a path below a key.
	require.NoError(t, s.Put(ctx, p+"dir/leaf", []byte("x")))
	_, err = s.Get(ctx, p+"dir")
	require.ErrorIs(t, err, shuffle.ErrNotFound)
	_, err = s.Get(ctx, p+"dir/leaf/below")
	require.ErrorIs(t, err, shuffle.ErrNotFound)
}

func testDeletePrefix(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	p := testPrefix(t, s)
	ctx := context.Background()
	keys := []string{
		"job-1/map-0/part-0", "job-1/map-0/part-1", "job-1/map-1/part-0",
		"job-10/map-0/part-0", "job-2/map-0/part-0", "job-2/map-1/part-0",
	}
	for _, k := range keys {
		require.NoError(t, s.Put(ctx, p+k, []byte(k)))
	}
	present := func(k string) bool {
		_, err := s.Get(ctx, p+k)
		if errors.Is(err, shuffle.ErrNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	require.NoError(t, s.DeletePrefix(ctx, p+"job-1/"))
	require.False(t, present("job-1/map-0/part-0"))
	require.False(t, present("job-1/map-0/part-1"))
	require.False(t, present("job-1/map-1/part-0"))
	require.True(t, present("job-10/map-0/part-0"), `"job-1/" leaves job-10`)
	require.True(t, present("job-2/map-0/part-0"))

	// A prefix is a string prefix, not only a directory.
	require.NoError(t, s.DeletePrefix(ctx, p+"job-2/map-1"))
	require.False(t, present("job-2/map-1/part-0"))
	require.True(t, present("job-2/map-0/part-0"))
	require.NoError(t, s.DeletePrefix(ctx, p+"job-1"))
	require.False(t, present("job-10/map-0/part-0"), `"job-1" takes job-10 too`)
	require.True(t, present("job-2/map-0/part-0"))

	// Deleting nothing is not an error; the store stays usable.
	require.NoError(t, s.DeletePrefix(ctx, p+"job-9/"))
	require.NoError(t, s.DeletePrefix(ctx, p+"job-2/map-0/part-0/x"))
	require.NoError(t, s.Put(ctx, p+"job-1/map-0/part-0", []byte("again")))
	require.True(t, present("job-1/map-0/part-0"))

	err := s.DeletePrefix(ctx, "")
	require.ErrorIs(t, err, shuffle.ErrInvalidKey, "the empty prefix would delete everything")
	require.True(t, present("job-2/map-0/part-0"))
}

func testConcurrent(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	p := testPrefix(t, s)
	ctx := context.Background()
	const workers, rounds = 16, 4
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	shared := p + "shared"
	var sharedValues sync.Map
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := range rounds {
				key := fmt.Sprintf("%sw%d/r%d", p, w, i)
				data := randomBytes(r, r.IntN(64<<10))
				if !assert.NoError(t, s.Put(ctx, key, data)) {
					return
				}
				got, err := s.Get(ctx, key)
				if !assert.NoError(t, err) || !assert.True(t, bytes.Equal(data, got), "worker %d round %d: Get differs", w, i) {
					return
				}
				assert.NoError(t, s.View(ctx, key, func(b []byte) error {
					assert.True(t, bytes.Equal(data, b), "worker %d round %d: View differs", w, i)
					return nil
				}))
				v := fmt.Sprintf("worker %d round %d", w, i)
				sharedValues.Store(v, true)
				assert.NoError(t, s.Put(ctx, shared, []byte(v)))
				_, err = s.Get(ctx, shared) // whoever's it is now
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Get(ctx, shared)
	require.NoError(t, err)
	_, ok := sharedValues.Load(string(got))
	require.True(t, ok, "the shared key holds %q, which no worker wrote whole", got)
}

func testInvalidKeys(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	ctx := context.Background()
	for _, k := range badKeys {
		require.ErrorIs(t, s.Put(ctx, k, []byte("x")), shuffle.ErrInvalidKey, "Put %q", k)
		_, err := s.Get(ctx, k)
		require.ErrorIs(t, err, shuffle.ErrInvalidKey, "Get %q", k)
		require.ErrorIs(t, s.View(ctx, k, func([]byte) error { return nil }), shuffle.ErrInvalidKey, "View %q", k)
		if k != "a/" { // a valid prefix: a key and "/"
			require.ErrorIs(t, s.DeletePrefix(ctx, k), shuffle.ErrInvalidKey, "DeletePrefix %q", k)
		}
	}
	p := testPrefix(t, s)
	err := s.Put(ctx, p+"big", tooLarge())
	require.ErrorIs(t, err, shuffle.ErrTooLarge)
	_, err = s.Get(ctx, p+"big")
	require.ErrorIs(t, err, shuffle.ErrNotFound)
}

func testCancel(t *testing.T, c shuffle.Config) {
	s := open(t, c)
	p := testPrefix(t, s)
	require.NoError(t, s.Put(context.Background(), p+"there", []byte("x")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Put(ctx, p+"k", []byte("x")), context.Canceled)
	_, err := s.Get(ctx, p+"there")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.View(ctx, p+"there", func([]byte) error { return nil }), context.Canceled)
	require.ErrorIs(t, s.DeletePrefix(ctx, p), context.Canceled)
	_, err = s.Get(context.Background(), p+"k")
	require.ErrorIs(t, err, shuffle.ErrNotFound, "a cancelled Put stored nothing")

	// A deadline cuts a request short, here while the injected latency
	// runs: the error comes at the deadline, not after the latency. (Open
	// of a remote store sleeps it too, before its first request.)
	const latency = time.Second
	c.Latency = latency
	slow := open(t, c)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = slow.Get(ctx, p+"there")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), latency)
}

func testLatency(t *testing.T, c shuffle.Config) {
	const latency, n = 20 * time.Millisecond, 5
	c.Latency = latency
	s := open(t, c)
	p := testPrefix(t, s)
	ctx := context.Background()
	start := time.Now()
	for i := range n {
		key := fmt.Sprintf("%sk%d", p, i)
		require.NoError(t, s.Put(ctx, key, []byte("v")))
		_, err := s.Get(ctx, key)
		require.NoError(t, err)
	}
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 2*n*latency, "%d requests with %v injected each took %v", 2*n, latency, took)
	t.Logf("%d requests with %v injected latency took %v", 2*n, latency, took)
}

func testClose(t *testing.T, c shuffle.Config) {
	s, err := shuffle.Open(context.Background(), c)
	require.NoError(t, err)
	p := testPrefix(t, open(t, c))
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, p+"k", []byte("v")))
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Put(ctx, p+"k", []byte("v")), shuffle.ErrClosed)
	_, err = s.Get(ctx, p+"k")
	require.ErrorIs(t, err, shuffle.ErrClosed)
	require.ErrorIs(t, s.View(ctx, p+"k", func([]byte) error { return nil }), shuffle.ErrClosed)
	require.ErrorIs(t, s.DeletePrefix(ctx, p), shuffle.ErrClosed)
	require.NoError(t, s.Close(), "closing twice is harmless")
}
