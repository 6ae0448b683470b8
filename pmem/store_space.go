package pmem

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Space management: semispaces.
//
// The region's heap [DataStart, size) is split at mid = size/2 (page
// aligned) into a front and a back half. The log lives in one half:
// [logStart, tail) grows up to logEnd, which is mid for a log in the front
// half and size for one in the back half. Compaction copies the live records
// to the start of the other half — bytes no committed root refers to — and
// then switches roots, so a crash at any point leaves the old or the new
// state. An append is allowed only if the other half could still take every
// live record afterwards, so compaction is always possible. When an append
// does not fit:
//
//   - if at least half the log is garbage, compact;
//   - otherwise grow the region (at least double it, at most to MaxSize),
//     which moves mid so the log's half grows with it;
//   - if growing is impossible, compact whatever garbage there is;
//   - if it still does not fit, fail with ErrFull.
//
// Live data can therefore use at most half of a region that cannot grow.
// After a growth that does not double the region (because of MaxSize) the log
// may straddle mid; it then runs to the end of the region and compacts to the
// front.

const growQuantum = 64 << 10

// prefaultWindow is how far ahead of the tail the store maps pages, in
// chunks of prefaultChunk bytes.
const (
	prefaultWindow = 8 << 20
	prefaultChunk  = 2 << 20
)

// midOf is where the back half of a region of size bytes starts.
func midOf(size int64) int64 { return max(layout.DataStart, size/2&^(4<<10-1)) }

// logEndFor is the end of a log [start, tail) in a region of size bytes.
func logEndFor(start, tail, size int64) int64 {
	if mid := midOf(size); start < mid && tail <= mid {
		return mid
	}
	return size
}

// compactDestLocked is where compaction would copy the live records, and how
// many bytes fit there.
func (s *Store) compactDestLocked() (dest, room int64) {
	size := int64(s.root.Size)
	if int64(s.root.LogEnd) < size { // front half: go to the back half
		mid := int64(s.root.LogEnd)
		return mid, size - mid
	}
	return layout.DataStart, int64(s.root.LogStart) - layout.DataStart
}

// fitsLocked reports whether need bytes can be appended while compaction
// stays possible.
func (s *Store) fitsLocked(need int64) bool {
	_, room := s.compactDestLocked()
	return int64(s.root.Tail)+need <= int64(s.root.LogEnd) && s.live+need <= room
}

func (s *Store) garbageLocked() int64 { return int64(s.root.Tail-s.root.LogStart) - s.live }

// prefaultLocked asks the medium to map the pages of [off, off+n), and of
// the window after it, that were not mapped before in this mapping. Pages
// stay mapped once faulted (Grow uses mremap, which keeps them), and the
// semispaces reuse the same pages, so each chunk is prefaulted once.
func (s *Store) prefaultLocked(off, n int64) {
	pf, ok := s.m.(Prefaulter)
	if !ok {
		return
	}
	end := min(off+n+prefaultWindow, int64(s.root.Size))
	first, last := off/prefaultChunk, (end-1)/prefaultChunk
	if need := int(last/64 + 1); len(s.faulted) < need {
		s.faulted = append(s.faulted, make([]uint64, need-len(s.faulted))...)
	}
	for c := first; c <= last; {
		if s.faulted[c/64]&(1<<(c%64)) != 0 {
			c++
			continue
		}
		run := c
		for c <= last && s.faulted[c/64]&(1<<(c%64)) == 0 {
			s.faulted[c/64] |= 1 << (c % 64)
			c++
		}
		pf.Prefault(run*prefaultChunk, (c-run)*prefaultChunk, true)
	}
}

// reserveLocked makes room for need bytes of records at the tail, and maps
// the pages they will go to.
func (s *Store) reserveLocked(need int64) error {
	err := s.reserveSpaceLocked(need)
	if err == nil {
		s.prefaultLocked(int64(s.root.Tail), need)
	}
	return err
}

func (s *Store) reserveSpaceLocked(need int64) error {
	if s.fitsLocked(need) {
		return nil
	}
	if g := s.garbageLocked(); g > 0 && g*2 >= int64(s.root.Tail-s.root.LogStart) {
		if err := s.compactLocked(); err != nil && !isSpaceErr(err) {
			return err
		}
		if s.fitsLocked(need) {
			return nil
		}
	}
	// Double, and enough that the log's half takes the append and the other
	// half all live data.
	target := max(2*int64(s.root.Size), 2*(int64(s.root.Tail)+need), 2*(s.live+need+layout.DataStart))
	growErr := s.growLocked(target)
	if growErr == nil && s.fitsLocked(need) {
		return nil
	}
	if growErr != nil && !isSpaceErr(growErr) {
		return growErr
	}
	if s.garbageLocked() > 0 {
		if err := s.compactLocked(); err != nil && !isSpaceErr(err) {
			return err
		}
		if s.fitsLocked(need) {
			return nil
		}
	}
	reason := "the region grew but not enough"
	if growErr != nil {
		reason = growErr.Error()
	}
	return fmt.Errorf("%w: %s cannot take %d more bytes: %d bytes live in a region of %d, limit %d (live data may use about half a region that cannot grow; delete values or raise the limit): %s",
		ErrFull, s.where(), need, s.live, s.root.Size, s.opts.MaxSize, reason)
}

func isSpaceErr(err error) bool {
	return errors.Is(err, ErrFull) || errors.Is(err, ErrCannotGrow) || errors.Is(err, ErrNoCapacity)
}

// growLocked grows the region towards target bytes (capped at MaxSize) and
// commits a root describing the new size. It fails if the region cannot grow
// at all.
func (s *Store) growLocked(target int64) error {
	size := int64(s.root.Size)
	target = (target + growQuantum - 1) / growQuantum * growQuantum
	if s.opts.MaxSize > 0 {
		target = min(target, s.opts.MaxSize)
	}
	if target <= size {
		return fmt.Errorf("%s is %d bytes, at its limit of %d: %w", s.where(), size, s.opts.MaxSize, ErrCannotGrow)
	}
	if s.m.Size() < target {
		s.mu.Lock() // no reader may touch the mapping while it is replaced
		err := s.m.Grow(target)
		s.mem = s.m.Bytes()
		s.mu.Unlock()
		if err != nil {
			if _, ok := s.m.(*Region); ok {
				return err // it says what it was growing, from and to what
			}
			return fmt.Errorf("pmem: grow %s from %d to %d bytes: %w", s.where(), size, target, err)
		}
	}
	newSize := min(s.m.Size(), max(target, size))
	r := s.root
	r.Gen++
	r.Size = uint64(newSize)
	r.LogEnd = uint64(logEndFor(int64(r.LogStart), int64(r.Tail), newSize))
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
	layout.StoreWord(s.mem[layout.CommitOff:], r.Gen)
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
	slices.SortFunc(live, func(a, b *entry) int { return cmp.Compare(a.off, b.off) })

	dest, room := s.compactDestLocked()
	if s.live > room {
		return fmt.Errorf("%w: %s: %d live bytes do not fit the %d free bytes of the other half", ErrFull, s.where(), s.live, room)
	}
	s.prefaultLocked(dest, s.live)
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
	r.Tail = uint64(at)
	r.LogEnd = uint64(logEndFor(dest, at, int64(r.Size)))
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
	if size <= int64(s.root.Size) {
		return nil
	}
	return s.growLocked(size)
}
