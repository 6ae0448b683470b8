package pmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Space management.
//
// The log occupies [logStart, logEnd) and grows at tail; logEnd is always the
// end of the region. When an append does not fit:
//
//   - if at least half the used log is garbage, compact: copy the live records
//     into free space that the current log does not occupy — to the front of
//     the heap [DataStart, logStart) when they fit there, else just after the
//     tail (growing the region if needed) — then switch roots;
//   - otherwise grow the region (double it, at least to what is needed, at
//     most to MaxSize);
//   - if growing is impossible, compact whatever garbage there is;
//   - if it still does not fit, fail with ErrFull.
//
// Every step writes only to bytes no committed root refers to before it
// switches roots, so a crash at any point leaves the old or the new state.

const growQuantum = 64 << 10

// reserveLocked makes room for need bytes of records at the tail.
func (s *Store) reserveLocked(need int64) error {
	if s.fitsLocked(need) {
		return nil
	}
	used := int64(s.root.Tail - s.root.LogStart)
	garbage := used - s.live
	if garbage > 0 && garbage*2 >= used {
		if err := s.compactLocked(need); err != nil && !isSpaceErr(err) {
			return err
		}
		if s.fitsLocked(need) {
			return nil
		}
	}
	growErr := s.growLocked(int64(s.root.Tail) + need)
	if growErr == nil {
		return nil
	}
	if !isSpaceErr(growErr) {
		return growErr
	}
	if int64(s.root.Tail-s.root.LogStart) > s.live {
		if err := s.compactLocked(need); err != nil && !isSpaceErr(err) {
			return err
		}
		if s.fitsLocked(need) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s needs %d more bytes; %d live in %d (max %d): %w",
		ErrFull, s.Path(), need, s.live, s.root.Size, s.opts.MaxSize, growErr)
}

func isSpaceErr(err error) bool {
	return errors.Is(err, ErrFull) || errors.Is(err, ErrCannotGrow) || errors.Is(err, ErrNoCapacity)
}

func (s *Store) fitsLocked(need int64) bool {
	return int64(s.root.Tail)+need <= int64(s.root.LogEnd)
}

// growLocked grows the region so that it holds at least min bytes, and
// commits a root describing the new size.
func (s *Store) growLocked(minSize int64) error {
	size := int64(s.root.Size)
	if minSize <= size {
		return nil
	}
	if s.opts.MaxSize > 0 && minSize > s.opts.MaxSize {
		return fmt.Errorf("%w: %s would need %d bytes, above its limit of %d", ErrFull, s.Path(), minSize, s.opts.MaxSize)
	}
	target := max(size*2, minSize)
	if s.opts.MaxSize > 0 {
		target = min(target, s.opts.MaxSize)
	}
	target = (target + growQuantum - 1) / growQuantum * growQuantum
	if s.opts.MaxSize > 0 && target > s.opts.MaxSize {
		target = max(minSize, s.opts.MaxSize)
	}
	if s.m.Size() < target {
		s.mu.Lock() // no reader may touch the old mapping while it is replaced
		err := s.m.Grow(target)
		s.mem = s.m.Bytes()
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("pmem: grow %s from %d to %d bytes: %w", s.Path(), size, target, err)
		}
	}
	newSize := s.m.Size()
	r := s.root
	r.Gen++
	r.Size = uint64(newSize)
	r.LogEnd = uint64(newSize)
	if err := s.commitRootLocked(r, nil); err != nil {
		return err
	}
	s.grows.Add(1)
	s.lg.Info("region grown", "path", s.Path(), "from", size, "to", newSize, "mode", s.m.Stats().Mode)
	return nil
}

// commitRootLocked writes r (whose Gen is the active one plus one) into the
// inactive root slot, persists it, then switches the commit word to r.Gen —
// the atomic step — and persists that. Once durable, r becomes the store's
// root and publish (if not nil) runs under the same exclusive lock, so readers
// see the new root and whatever publish changes together.
func (s *Store) commitRootLocked(r layout.Root, publish func()) error {
	off := layout.RootOffset(layout.SlotOf(r.Gen))
	r.Encode(s.mem[off : off+layout.RootSize])
	s.m.Flush(off, layout.RootSize)
	if err := s.m.Fence(); err != nil {
		return s.failLocked("write root", err)
	}
	binary.LittleEndian.PutUint64(s.mem[layout.CommitOff:], r.Gen)
	s.m.Flush(layout.CommitOff, 8)
	if err := s.m.Fence(); err != nil {
		return s.failLocked("switch root", err)
	}
	s.mu.Lock()
	s.root = r
	if publish != nil {
		publish()
	}
	s.mu.Unlock()
	return nil
}

// Compact reclaims the space of overwritten and deleted values now.
func (s *Store) Compact() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	return s.compactLocked(0)
}

// compactLocked copies the live records to free space, leaving room for need
// more bytes, and switches to a root whose log holds only them.
func (s *Store) compactLocked(need int64) error {
	s.mu.RLock()
	live := make([]*entry, 0, len(s.index))
	for _, e := range s.index {
		live = append(live, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(live, func(a, b *entry) int { return int(a.off - b.off) })

	dest := int64(layout.DataStart)
	if s.live > int64(s.root.LogStart)-layout.DataStart {
		dest = int64(s.root.Tail) // after the log: never overlaps a live record
		if err := s.growLocked(dest + s.live + need); err != nil {
			return err
		}
	}
	mem := s.mem
	newOff := make([]int64, len(live))
	at := dest
	for i, e := range live {
		size := e.size()
		s.m.CopyNT(at, mem[e.off:e.off+size])
		newOff[i] = at
		at += size
	}
	// No fence of its own: the fence that persists the new root (below) also
	// makes these copies durable, and both precede the commit word.
	r := s.root
	r.Gen++
	r.LogStart = uint64(dest)
	r.LogEnd = r.Size
	r.Tail = uint64(at)
	before := int64(s.root.Tail - s.root.LogStart)
	// The index moves to the copies together with the root, before any append
	// can overwrite the old records.
	if err := s.commitRootLocked(r, func() {
		for i, e := range live {
			e.off = newOff[i]
		}
	}); err != nil {
		return err
	}
	s.compactions.Add(1)
	s.lg.Info("region compacted", "path", s.Path(), "log_before", before, "log_after", at-dest, "keys", len(live))
	return nil
}

// Grow grows the region to at least size bytes (within MaxSize).
func (s *Store) Grow(size int64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	return s.growLocked(size)
}
