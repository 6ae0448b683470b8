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
// The log occupies [logStart, tail) and may grow up to logEnd, which is the
// end of the region. Space outside the log is free: a front gap
// [DataStart, logStart) and a back gap [tail, size). Compaction copies the live
// records into one of the gaps — bytes no committed root refers to — and then
// switches roots, so a crash at any point leaves the old or the new state.
//
// To keep compaction always possible, an append is allowed only if afterwards
// one gap could still hold every live record (the invariant "some gap >=
// live"). So live data may fill at most about half of a region that cannot
// grow; the rest is compaction headroom. When an append would break the
// invariant:
//
//   - if at least half the used log is garbage, compact;
//   - otherwise grow the region (double it, at least to what the invariant
//     needs, at most to MaxSize);
//   - if growing is impossible, compact whatever garbage there is;
//   - if the append still breaks the invariant, fail with ErrFull.

const growQuantum = 64 << 10

// reserveLocked makes room for need bytes of records at the tail.
func (s *Store) reserveLocked(need int64) error {
	if s.roomLocked(need) {
		return nil
	}
	if g := s.garbageLocked(); g > 0 && g*2 >= int64(s.root.Tail-s.root.LogStart) {
		if err := s.compactLocked(); err != nil && !isSpaceErr(err) {
			return err
		}
		if s.roomLocked(need) {
			return nil
		}
	}
	// Room for the append plus a back gap that holds all live data after it.
	growErr := s.growLocked(int64(s.root.Tail) + 2*need + s.live)
	if growErr == nil && s.roomLocked(need) {
		return nil
	}
	if growErr != nil && !isSpaceErr(growErr) {
		return growErr
	}
	if s.garbageLocked() > 0 {
		if err := s.compactLocked(); err != nil && !isSpaceErr(err) {
			return err
		}
		if s.roomLocked(need) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s cannot take %d more bytes: %d bytes live in a region of %d, limit %d (live data may use about half a region that cannot grow; delete values or raise the limit): grow: %w",
		ErrFull, s.where(), need, s.live, s.root.Size, s.opts.MaxSize, growErr)
}

func isSpaceErr(err error) bool {
	return errors.Is(err, ErrFull) || errors.Is(err, ErrCannotGrow) || errors.Is(err, ErrNoCapacity)
}

func (s *Store) garbageLocked() int64 { return int64(s.root.Tail-s.root.LogStart) - s.live }

// roomLocked reports whether need bytes can be appended while keeping a gap
// that holds all live data (counting the new records as live).
func (s *Store) roomLocked(need int64) bool {
	tail := int64(s.root.Tail) + need
	if tail > int64(s.root.LogEnd) {
		return false
	}
	front := int64(s.root.LogStart) - layout.DataStart
	back := int64(s.root.Size) - tail
	return max(front, back) >= s.live+need
}

// growLocked grows the region so that it holds at least min bytes, and
// commits a root describing the new size.
func (s *Store) growLocked(minSize int64) error {
	size := int64(s.root.Size)
	if minSize <= size {
		return nil
	}
	if s.opts.MaxSize > 0 && minSize > s.opts.MaxSize {
		return fmt.Errorf("%s would need %d bytes, above its limit of %d: %w", s.where(), minSize, s.opts.MaxSize, ErrCannotGrow)
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
			return fmt.Errorf("pmem: grow %s from %d to %d bytes: %w", s.where(), size, target, err)
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
	s.lg.Info("region grown", "path", s.where(), "from", size, "to", newSize, "mode", s.m.Stats().Mode)
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
	return s.compactLocked()
}

// compactLocked copies the live records into a free gap and switches to a
// root whose log holds only them.
func (s *Store) compactLocked() error {
	s.mu.RLock()
	live := make([]*entry, 0, len(s.index))
	for _, e := range s.index {
		live = append(live, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(live, func(a, b *entry) int { return int(a.off - b.off) })

	var dest int64
	switch {
	case s.live <= int64(s.root.LogStart)-layout.DataStart:
		dest = layout.DataStart
	default:
		dest = int64(s.root.Tail) // after the log: never overlaps a live record
		if err := s.growLocked(dest + s.live); err != nil {
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
	s.lg.Info("region compacted", "path", s.where(), "log_before", before, "log_after", at-dest, "keys", len(live))
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
