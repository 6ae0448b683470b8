// Package pmemtest holds media for testing code built on pmem: a crashable
// in-memory medium that keeps only what was flushed and fenced, and an
// error-injecting wrapper around any medium.
package pmemtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/marvel-serverless/marvel/pmem"
)

// ErrCrashed is returned by every persistence operation after the simulated
// crash point.
var ErrCrashed = errors.New("pmemtest: simulated crash")

// Survival says which of the bytes that were written but not yet durable at
// a crash survive it.
type Survival int

const (
	// KeepNone: only what was flushed and fenced survives.
	KeepNone Survival = iota
	// KeepAll: every store survives (as after a process crash on a shared
	// mapping).
	KeepAll
	// KeepRandom: each 8-byte word that is not yet durable independently keeps
	// its durable value, a value it was flushed with, or its current value.
	KeepRandom
)

func (s Survival) String() string {
	return [...]string{"keep-none", "keep-all", "keep-random"}[s]
}

// Op names a persistence operation.
type Op int

const (
	OpFlush Op = iota
	OpCopyNT
	OpFence
	OpGrow
)

func (o Op) String() string { return [...]string{"flush", "copynt", "fence", "grow"}[o] }

type pending struct {
	off  int64
	data []byte
}

// CrashMedium is an in-memory pmem.Medium that models persistent memory
// behind a volatile CPU cache. Stores to Bytes() are volatile; Flush and
// CopyNT snapshot bytes on their way to the media; Fence makes the snapshots
// durable. CrashAt arranges a crash before the k-th persistence operation
// (Flush, CopyNT, Fence or Grow, counted from 1): at that moment the image the
// media would hold is captured, and every later persistence operation does
// nothing (Fence and Grow return ErrCrashed), so a writer cannot acknowledge
// anything after the crash.
//
// Grow is treated as immediately durable for the new (zero) bytes, as the real
// region fsyncs a resized file before using it.
type CrashMedium struct {
	mu       sync.Mutex
	cur      []byte // what the program sees
	durable  []byte // what the media holds for certain
	pend     []pending
	ops      int
	crashAt  int
	survival Survival
	rng      *rand.Rand
	image    []byte // captured at the crash
	closed   bool

	flushes, flushBytes, ntBytes, fences, grows atomic.Uint64
}

// NewCrashMedium returns a zeroed medium of size bytes that never crashes
// until CrashAt is called.
func NewCrashMedium(size int64) *CrashMedium {
	return &CrashMedium{cur: make([]byte, size), durable: make([]byte, size)}
}

// FromImage returns a medium whose durable and visible bytes are image (as
// after a restart).
func FromImage(image []byte) *CrashMedium {
	return &CrashMedium{cur: append([]byte(nil), image...), durable: append([]byte(nil), image...)}
}

// CrashAt arranges a crash before persistence operation k (1-based; k <= 0
// disables). seed drives KeepRandom.
func (m *CrashMedium) CrashAt(k int, survival Survival, seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAt, m.survival = k, survival
	m.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Ops is the number of persistence operations performed so far.
func (m *CrashMedium) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// Crashed reports whether the crash point was reached.
func (m *CrashMedium) Crashed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.image != nil
}

// Image returns the bytes that survived the crash (nil before it).
func (m *CrashMedium) Image() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.image
}

// Durable returns a copy of what is durable now.
func (m *CrashMedium) Durable() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.durable...)
}

// stepLocked counts an operation; it reports false if the medium has crashed
// (possibly at this very operation).
func (m *CrashMedium) stepLocked() bool {
	if m.image != nil {
		return false
	}
	m.ops++
	if m.crashAt > 0 && m.ops == m.crashAt {
		m.crashLocked()
		return false
	}
	return true
}

func (m *CrashMedium) crashLocked() {
	img := append([]byte(nil), m.durable...)
	switch m.survival {
	case KeepAll:
		copy(img, m.cur)
	case KeepRandom:
		flushed := append([]byte(nil), m.durable...)
		for _, p := range m.pend {
			copy(flushed[p.off:], p.data)
		}
		for w := 0; w+8 <= len(img); w += 8 {
			switch m.rng.IntN(3) {
			case 1:
				copy(img[w:w+8], flushed[w:w+8])
			case 2:
				copy(img[w:w+8], m.cur[w:w+8])
			}
		}
	}
	m.image = img
	m.pend = nil
}

func (m *CrashMedium) clamp(off, n int64) (int64, int64) {
	size := int64(len(m.cur))
	if off < 0 {
		n += off
		off = 0
	}
	if off > size {
		off = size
	}
	if n < 0 {
		n = 0
	}
	if off+n > size {
		n = size - off
	}
	return off, n
}

// Bytes implements pmem.Medium.
func (m *CrashMedium) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Flush implements pmem.Medium.
func (m *CrashMedium) Flush(off, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stepLocked() {
		return
	}
	off, n = m.clamp(off, n)
	m.flushes.Add(1)
	m.flushBytes.Add(uint64(n))
	m.pend = append(m.pend, pending{off, append([]byte(nil), m.cur[off:off+n]...)})
}

// CopyNT implements pmem.Medium.
func (m *CrashMedium) CopyNT(off int64, src []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, n := m.clamp(off, int64(len(src)))
	copy(m.cur[o:o+n], src)
	if !m.stepLocked() {
		return
	}
	m.ntBytes.Add(uint64(n))
	m.pend = append(m.pend, pending{o, append([]byte(nil), m.cur[o:o+n]...)})
}

// Fence implements pmem.Medium.
func (m *CrashMedium) Fence() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return pmem.ErrClosed
	}
	if !m.stepLocked() {
		return ErrCrashed
	}
	for _, p := range m.pend {
		copy(m.durable[p.off:], p.data)
	}
	m.pend = m.pend[:0]
	m.fences.Add(1)
	return nil
}

// Grow implements pmem.Medium.
func (m *CrashMedium) Grow(size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return pmem.ErrClosed
	}
	if !m.stepLocked() {
		return ErrCrashed
	}
	if size <= int64(len(m.cur)) {
		return nil
	}
	// A new slice, as a remap gives a new address: old slices go stale.
	cur := make([]byte, size)
	copy(cur, m.cur)
	m.cur = cur
	durable := make([]byte, size)
	copy(durable, m.durable)
	m.durable = durable
	m.grows.Add(1)
	return nil
}

// Size implements pmem.Medium.
func (m *CrashMedium) Size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.cur))
}

// Stats implements pmem.Medium.
func (m *CrashMedium) Stats() pmem.MediumStats {
	return pmem.MediumStats{
		Mode: pmem.ModeSimulated, Method: "sim", Size: m.Size(),
		Flushes: m.flushes.Load(), FlushBytes: m.flushBytes.Load(), NTBytes: m.ntBytes.Load(),
		Fences: m.fences.Load(), Grows: m.grows.Load(),
	}
}

// Close implements pmem.Medium.
func (m *CrashMedium) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return pmem.ErrClosed
	}
	m.closed = true
	return nil
}

// String describes the medium's crash configuration, for test failures.
func (m *CrashMedium) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("CrashMedium{size=%d ops=%d crashAt=%d survival=%v crashed=%v}",
		len(m.cur), m.ops, m.crashAt, m.survival, m.image != nil)
}
