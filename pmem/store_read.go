package pmem

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Get returns a copy of the value stored under key, or an error wrapping
// ErrNotFound. The value's checksum is verified on the first read of the
// record since open; a mismatch is a *CorruptError. The copy is the caller's
// to keep: this is the safe path.
func (s *Store) Get(key string) ([]byte, error) {
	return s.AppendValue(nil, key)
}

// AppendValue appends the value stored under key to dst, verifying its
// checksum, and returns the extended slice. It lets a caller reuse buffers.
func (s *Store) AppendValue(dst []byte, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.lookupLocked(key)
	if err != nil {
		return dst, err
	}
	v, err := s.verifiedLocked(key, e)
	if err != nil {
		return dst, err
	}
	s.gets.Add(1)
	return append(dst, v...), nil
}

func (s *Store) lookupLocked(key string) (*entry, error) {
	if s.closed {
		return nil, ErrClosed
	}
	e, ok := s.index[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return e, nil
}

// verifiedLocked returns the value of e, checking its checksum the first
// time the record is read since the store was opened. Committed records are
// never rewritten in place, so one check per record and open suffices to catch
// damage done while the region was closed; Check re-verifies everything.
func (s *Store) verifiedLocked(key string, e *entry) ([]byte, error) {
	v := e.value(s.mem)
	if !e.verified.Load() {
		if got := layout.CRC(v); got != e.valueCRC {
			return nil, s.valueCorrupt(key, e, got)
		}
		e.verified.Store(true)
	}
	return v, nil
}

func (s *Store) valueCorrupt(key string, e *entry, got uint32) error {
	return &CorruptError{Path: s.Path(), Offset: e.valueOff(), What: "record value", Kind: ErrCorrupt,
		Reason: fmt.Sprintf("checksum mismatch for key %q (stored %08x, computed %08x)", key, e.valueCRC, got)}
}

// View calls fn with the value stored under key as a slice of the mapped
// region itself: no copy is made, which is what big values and the HDFS bridge
// want.
//
// The slice is valid only until fn returns: after that a compaction may
// overwrite the bytes and a Grow or Close unmaps them. fn must not keep the
// slice, write through it, or call any method of the Store (it runs under the
// store's read lock, which writers that compact, grow or close wait for).
// The value's checksum is verified as for Get.
func (s *Store) View(key string, fn func(value []byte) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.lookupLocked(key)
	if err != nil {
		return err
	}
	v, err := s.verifiedLocked(key, e)
	if err != nil {
		return err
	}
	s.gets.Add(1)
	return fn(v)
}

// Has reports whether key holds a value.
func (s *Store) Has(key string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, err := s.lookupLocked(key)
	return err == nil
}

// Len returns the length of the value under key.
func (s *Store) Len(key string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.lookupLocked(key)
	if err != nil {
		return 0, err
	}
	return e.valueLen, nil
}

// Keys returns, in order, the keys k with lo <= k < hi; hi == "" means no
// upper bound.
func (s *Store) Keys(lo, hi string) []string {
	s.mu.RLock()
	keys := make([]string, 0, len(s.index))
	for k := range s.index {
		if k >= lo && (hi == "" || k < hi) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

// KeysWithPrefix returns, in order, the keys that start with prefix.
func (s *Store) KeysWithPrefix(prefix string) []string {
	s.mu.RLock()
	var keys []string
	for k := range s.index {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

// Range calls fn, in key order, with each key k (lo <= k < hi; hi == "" for
// no bound) and a copy of its value; the copy is reused after fn returns, so
// fn must copy what it keeps. Keys written or deleted while Range runs
// may or may not be seen. Range stops at the first error fn returns and
// returns it.
func (s *Store) Range(lo, hi string, fn func(key string, value []byte) error) error {
	var buf []byte
	for _, k := range s.Keys(lo, hi) {
		v, err := s.AppendValue(buf[:0], k)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // deleted since Keys
			}
			return err
		}
		buf = v
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}
