package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/marvel-serverless/marvel/pmem"
)

// DefaultCacheBytes is the cache size when MARVEL_CACHE_BYTES is not set.
const DefaultCacheBytes = 64 << 20

// State is a function's persistent key–value state with a cache in front.
// Reads are served from the cache when it holds the key, else from the
// region (and then cached); writes go to the region first and return once
// durable, then update the cache. Only this process writes the region (the
// runtime holds its lock), so the cache is never stale.
//
// A State is safe for concurrent use.
type State struct {
	store *pmem.Store
	cache *ristretto.Cache[string, []byte]
	name  string
	max   int64 // cache capacity in bytes

	// mu serializes writers to the store (one writer at a time) and keeps a
	// write and its cache update together, so a reader never caches a value
	// older than one already written.
	mu sync.Mutex

	hits, misses atomic.Uint64
}

// liveStates is every State not closed, so that the serve loop can tell
// when one has failed a persistence operation and the process must go.
var liveStates struct {
	sync.Mutex
	states map[*State]struct{}
}

// poisoned returns why a State of this process refuses writes, or nil.
func poisoned() error {
	liveStates.Lock()
	defer liveStates.Unlock()
	for s := range liveStates.states {
		if err := s.store.Poisoned(); err != nil {
			return fmt.Errorf("state %s: %w", s.name, err)
		}
	}
	return nil
}

var (
	stateOnce sync.Once
	state     *State
	stateErr  error
)

// OpenState returns the function's state, opening its region on the first
// call. Later calls, in this activation or later warm ones, return the same
// State with its cache as warm as it was left.
func OpenState() (*State, error) {
	stateOnce.Do(func() { state, stateErr = openStateFromEnv() })
	return state, stateErr
}

func openStateFromEnv() (*State, error) {
	opts := pmem.Options{}
	if m := os.Getenv("MARVEL_PMEM_MODE"); m != "" {
		mode, err := pmem.ParseMode(m)
		if err != nil {
			return nil, fmt.Errorf("sdk: MARVEL_PMEM_MODE: %w", err)
		}
		opts.Mode = mode
	}
	if s := os.Getenv("MARVEL_REGION_MAX"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("sdk: MARVEL_REGION_MAX=%q is not a byte count", s)
		}
		opts.MaxSize = n
	}
	cacheBytes := int64(DefaultCacheBytes)
	if s := os.Getenv("MARVEL_CACHE_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("sdk: MARVEL_CACHE_BYTES=%q is not a byte count", s)
		}
		cacheBytes = n
	}
	name := os.Getenv("MARVEL_REGION")
	var store *pmem.Store
	var err error
	switch fdText, path := os.Getenv("MARVEL_REGION_FD"), os.Getenv("MARVEL_REGION_PATH"); {
	case fdText != "":
		fd, perr := strconv.Atoi(fdText)
		if perr != nil || fd < 3 {
			return nil, fmt.Errorf("sdk: MARVEL_REGION_FD=%q is not an inherited descriptor", fdText)
		}
		f := os.NewFile(uintptr(fd), "region "+name)
		store, err = pmem.OpenFile(f, opts)
		// f stays open: it carries the runtime's lock for the process's life.
	case path != "":
		store, err = openOrCreatePath(path, opts)
	default:
		return nil, fmt.Errorf("%w: MARVEL_REGION_FD and MARVEL_REGION_PATH are unset; run the action under `marvel runtime` initialised with the action's namespace and name, or set MARVEL_REGION_PATH", ErrNoRegion)
	}
	if err != nil {
		return nil, fmt.Errorf("sdk: open state region %s: %w", name, err)
	}
	return NewState(store, name, cacheBytes)
}

// NewState puts a cache of cacheBytes (0: no caching) in front of store.
// The State owns the store from now on.
func NewState(store *pmem.Store, name string, cacheBytes int64) (*State, error) {
	s := &State{store: store, name: name, max: cacheBytes}
	if cacheBytes > 0 {
		counters := max(cacheBytes/256, 1024) // ~10× the items expected at 2.5 KiB each
		c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
			NumCounters: counters,
			MaxCost:     cacheBytes,
			BufferItems: 64,
			Metrics:     true,
		})
		if err != nil {
			return nil, fmt.Errorf("sdk: state cache of %d bytes: %w", cacheBytes, err)
		}
		s.cache = c
	}
	liveStates.Lock()
	if liveStates.states == nil {
		liveStates.states = map[*State]struct{}{}
	}
	liveStates.states[s] = struct{}{}
	liveStates.Unlock()
	return s, nil
}

// cost is what a cached entry counts against the cache size.
func cost(key string, value []byte) int64 { return int64(len(key) + len(value) + 64) }

// cacheLocked caches a copy of value. ristretto applies sets from a buffer
// on its own goroutine; waiting for that makes the next Get of the key (the
// next warm activation, typically) a hit, not a race with that goroutine,
// for a few microseconds on a path that has just made a write durable or
// read the region. mu is held.
func (s *State) cacheLocked(key string, value []byte) {
	s.cache.Set(key, append([]byte(nil), value...), cost(key, value))
	s.cache.Wait()
}

// Get returns a copy of key's value, or an error wrapping ErrNotFound.
func (s *State) Get(key string) ([]byte, error) {
	if s.cache != nil {
		if v, ok := s.cache.Get(key); ok {
			s.hits.Add(1)
			return append([]byte(nil), v...), nil
		}
	}
	s.misses.Add(1)
	// Under mu, so no write can slip between the read and the caching and
	// leave an older value cached.
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.store.Get(key)
	if err != nil {
		if errors.Is(err, pmem.ErrNotFound) {
			return nil, fmt.Errorf("%w: key %q", ErrNotFound, key)
		}
		return nil, fmt.Errorf("sdk: get %q: %w", key, err)
	}
	if s.cache != nil {
		s.cacheLocked(key, v)
	}
	return v, nil
}

// View calls fn with key's value read in place from persistent memory (no
// copy, no cache). The slice is valid only during fn.
func (s *State) View(key string, fn func(value []byte) error) error {
	err := s.store.View(key, fn)
	if errors.Is(err, pmem.ErrNotFound) {
		return fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	return err
}

// Put stores value under key durably, then caches it.
func (s *State) Put(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.Put(key, value); err != nil {
		if s.cache != nil {
			s.cache.Del(key)
		}
		return fmt.Errorf("sdk: put %q: %w", key, err)
	}
	if s.cache != nil {
		s.cacheLocked(key, value)
	}
	return nil
}

// Delete removes key (a missing key is not an error).
func (s *State) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache != nil {
		s.cache.Del(key)
	}
	if err := s.store.Delete(key); err != nil && !errors.Is(err, pmem.ErrNotFound) {
		return fmt.Errorf("sdk: delete %q: %w", key, err)
	}
	return nil
}

// Keys returns the keys that start with prefix, sorted.
func (s *State) Keys(prefix string) []string { return s.store.KeysWithPrefix(prefix) }

// GetJSON decodes key's value into a T.
func GetJSON[T any](s *State, key string) (T, error) {
	var v T
	b, err := s.Get(key)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("sdk: key %q does not hold a JSON %T: %w", key, v, err)
	}
	return v, nil
}

// PutJSON stores v encoded as JSON under key.
func PutJSON[T any](s *State, key string, v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sdk: put %q: encode %T: %w", key, v, err)
	}
	return s.Put(key, b)
}

// StateStats describe the state and its cache.
type StateStats struct {
	Region     string  `json:"region"`
	Mode       string  `json:"mode"`   // devdax, fsdax or emulated
	Method     string  `json:"method"` // the persistence primitive
	Keys       int     `json:"keys"`
	RegionSize int64   `json:"region_bytes"`
	LiveBytes  int64   `json:"live_bytes"`
	CacheMax   int64   `json:"cache_max_bytes"`
	CacheUsed  int64   `json:"cache_bytes"`
	CacheItems int64   `json:"cache_items"`
	Hits       uint64  `json:"hits"`
	Misses     uint64  `json:"misses"`
	HitRatio   float64 `json:"hit_ratio"`
}

// Stats returns the state's figures. Hits and misses count Get calls since
// the process started.
func (s *State) Stats() StateStats {
	st := s.store.Stats()
	info := s.store.Info()
	out := StateStats{
		Region:     s.name,
		Mode:       info.Mode.String(),
		Method:     info.Method,
		Keys:       st.Keys,
		RegionSize: st.Size,
		LiveBytes:  st.LiveBytes,
		CacheMax:   s.max,
		Hits:       s.hits.Load(),
		Misses:     s.misses.Load(),
	}
	if total := out.Hits + out.Misses; total > 0 {
		out.HitRatio = float64(out.Hits) / float64(total)
	}
	if s.cache != nil {
		m := s.cache.Metrics
		out.CacheUsed = int64(m.CostAdded() - m.CostEvicted())
		out.CacheItems = int64(m.KeysAdded() - m.KeysEvicted())
	}
	return out
}

// Close closes the cache and the region. The next OpenState in this process
// fails; actions normally never close their state.
func (s *State) Close() error {
	liveStates.Lock()
	delete(liveStates.states, s)
	liveStates.Unlock()
	if s.cache != nil {
		s.cache.Close()
	}
	return s.store.Close()
}

// openOrCreatePath opens the region at path, creating it (as a file) if it
// does not exist.
func openOrCreatePath(path string, opts pmem.Options) (*pmem.Store, error) {
	s, err := pmem.OpenPath(path, opts)
	if !errors.Is(err, pmem.ErrNotExist) {
		return s, err
	}
	s, err = pmem.CreatePath(path, opts)
	if errors.Is(err, pmem.ErrExist) {
		return pmem.OpenPath(path, opts)
	}
	return s, err
}
