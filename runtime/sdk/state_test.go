package sdk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

func newState(t *testing.T, cacheBytes int64) (*State, string) {
	dir := t.TempDir()
	store, err := pmem.Create(dir, "fn+guest+t", pmem.Options{})
	require.NoError(t, err)
	s, err := NewState(store, "fn+guest+t", cacheBytes)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestStateCacheServesWarmReads(t *testing.T) {
	s, _ := newState(t, 1<<20)
	_, err := s.Get("missing")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Put("k", []byte("v1")))
	for range 10 {
		v, err := s.Get("k")
		require.NoError(t, err)
		require.Equal(t, "v1", string(v))
		v[0] = 'X' // callers get copies: the cache is not corrupted
	}
	st := s.Stats()
	require.EqualValues(t, 10, st.Hits)
	require.EqualValues(t, 1, st.Misses)
	require.InDelta(t, 10.0/11, st.HitRatio, 1e-9)
	require.Positive(t, st.CacheUsed)
	require.Equal(t, 1, st.Keys)
	require.Equal(t, "emulated", st.Mode)

	require.NoError(t, s.Put("k", []byte("v2")))
	v, err := s.Get("k")
	require.NoError(t, err)
	require.Equal(t, "v2", string(v), "a write replaces the cached value")
	require.NoError(t, s.Delete("k"))
	_, err = s.Get("k")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Delete("k"), "deleting a missing key is fine")
}

func TestStateConcurrentReadersNeverSeeOldValues(t *testing.T) {
	s, _ := newState(t, 1<<20)
	require.NoError(t, s.Put("n", []byte("0")))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := s.Get("n")
				var n int
				if err == nil {
					_, err = fmt.Sscan(string(b), &n)
				}
				if err == nil && n < last {
					err = fmt.Errorf("read %d after %d", n, last)
				}
				if err != nil {
					errs <- err
					return
				}
				last = n
			}
		}()
	}
	for i := 1; i <= 300; i++ {
		require.NoError(t, s.Put("n", []byte(fmt.Sprint(i))))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestStateJSONAndPersistence(t *testing.T) {
	s, dir := newState(t, 0) // no cache
	require.NoError(t, PutJSON(s, "doc", map[string]int{"a": 1}))
	got, err := GetJSON[map[string]int](s, "doc")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"a": 1}, got)
	_, err = GetJSON[int](s, "doc")
	require.Error(t, err)
	require.NoError(t, s.View("doc", func(v []byte) error { require.Equal(t, `{"a":1}`, string(v)); return nil }))
	require.ErrorIs(t, s.View("nope", func([]byte) error { return nil }), ErrNotFound)
	require.Equal(t, []string{"doc"}, s.Keys("d"))
	require.NoError(t, s.Close())

	store, err := pmem.Open(dir, "fn+guest+t", pmem.Options{})
	require.NoError(t, err)
	defer store.Close()
	v, err := store.Get("doc")
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, string(v), "what Put acknowledged is in the region")
}

func TestOpenStateFromEnvironment(t *testing.T) {
	// openStateFromEnv is what OpenState runs once per process.
	t.Setenv("MARVEL_REGION_FD", "")
	t.Setenv("MARVEL_REGION_PATH", "")
	_, err := openStateFromEnv()
	require.ErrorIs(t, err, ErrNoRegion)

	dir := t.TempDir()
	t.Setenv("MARVEL_REGION_PATH", filepath.Join(dir, "mine.region"))
	t.Setenv("MARVEL_CACHE_BYTES", "4096")
	s, err := openStateFromEnv()
	require.NoError(t, err)
	require.NoError(t, s.Put("a", []byte("b")))
	require.EqualValues(t, 4096, s.Stats().CacheMax)
	require.NoError(t, s.Close())

	path := filepath.Join(dir, "mine.region")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	fd, err := dupTo(f)
	require.NoError(t, err)
	t.Setenv("MARVEL_REGION_PATH", "")
	t.Setenv("MARVEL_REGION_FD", fmt.Sprint(fd))
	s, err = openStateFromEnv()
	require.NoError(t, err)
	v, err := s.Get("a")
	require.NoError(t, err)
	require.Equal(t, "b", string(v))
	require.NoError(t, s.Close())

	for k, v := range map[string]string{"MARVEL_CACHE_BYTES": "-1", "MARVEL_PMEM_MODE": "bogus", "MARVEL_REGION_MAX": "lots"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			_, err := openStateFromEnv()
			require.Error(t, err)
			require.Contains(t, err.Error(), k)
		})
	}
	t.Setenv("MARVEL_REGION_FD", "x")
	_, err = openStateFromEnv()
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrNoRegion))
}
