//go:build linux

package pmem_test

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// anonMedium is a pmem.Medium over anonymous mapped memory (outside the Go
// heap, like a region's mapping) with free persistence calls, so that a writer
// spends as much of its time as possible in its stores.
type anonMedium struct{ mem []byte }

func newAnonMedium(t *testing.T, size int) *anonMedium {
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(mem) })
	return &anonMedium{mem: mem}
}

func (m *anonMedium) Bytes() []byte                { return m.mem }
func (m *anonMedium) Flush(off, n int64)           {}
func (m *anonMedium) CopyNT(off int64, src []byte) { copy(m.mem[off:], src) }
func (m *anonMedium) Fence() error                 { return nil }
func (m *anonMedium) Grow(size int64) error        { return pmem.ErrCannotGrow }
func (m *anonMedium) Size() int64                  { return int64(len(m.mem)) }
func (m *anonMedium) Stats() pmem.MediumStats {
	return pmem.MediumStats{Mode: pmem.ModeSimulated, Method: "sim", Size: int64(len(m.mem))}
}
func (m *anonMedium) Close() error { return nil }

// TestTailCommitIsOneStore is the regression test for a region that could not
// be reopened after kill -9 (crashproc, CI: "record of 1992 bytes runs past
// the log tail 1122024"). A process can die between any two instructions, and
// a kill -9 keeps every store made before it, so the 8-byte tail word must
// change in one store: the log is committed up to the old tail or the new one.
// The tail used to be written with binary.LittleEndian.PutUint64, which the
// compiler turns into eight 1-byte stores when it instruments for the race
// detector (as CI builds the tests); a kill after the first of them left the
// new low byte over the old high bytes (tail 1121824 = 0x111E20 moving to
// 1123816 = 0x1125E8 read back as 0x111EE8 = 1122024): a tail 200 bytes into
// the record being appended, and every acknowledged write lost with the
// region.
//
// The test watches the tail word from another core while a writer commits
// records of 1992 and 264 bytes (so every commit changes its two low bytes) and fails
// if it ever holds a value that is not a record boundary. The torn states it
// looks for exist only in builds that split the store (go test -race).
func TestTailCommitIsOneStore(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two CPUs to watch a store from another core")
	}
	// Without race instrumentation the compiler merges the byte stores of
	// PutUint64 into one, so there is nothing to see: one round is enough
	// to check the test itself.
	budget := time.Duration(0)
	if raceEnabled {
		budget = 5 * time.Second
	}
	start := time.Now()
	var commits, loads int64
	for round := 0; ; round++ {
		c, l, torn := watchTailCommits(t, 1992) // as in the CI failure
		commits, loads = commits+c, loads+l
		if torn != "" {
			t.Fatalf("round %d, after %d commits: %s", round, commits, torn)
		}
		c, l, torn = watchTailCommits(t, 264) // cheaper puts, more commits
		commits, loads = commits+c, loads+l
		if torn != "" {
			t.Fatalf("round %d, after %d commits: %s", round, commits, torn)
		}
		if time.Since(start) >= budget {
			break
		}
	}
	t.Logf("%d tail commits watched by %d loads in %v: never torn", commits, loads, time.Since(start))
}

// watchTailCommits appends records of recSize bytes to a fresh store until
// its front half is full, while another goroutine watches the tail word. It
// returns the number of commits and loads, and a description of the first
// torn tail seen ("" if none).
func watchTailCommits(t *testing.T, recSize uint64) (commits, loads int64, torn string) {
	key := "key-41"
	value := make([]byte, recSize-layout.RecordHeaderSize-uint64(len(key)))
	require.Equal(t, int64(recSize), layout.RecordSize(len(key), int64(len(value))))

	m := newAnonMedium(t, 32<<20)
	s, err := pmem.Format(m, pmem.Options{})
	require.NoError(t, err)
	st := s.Stats()
	logStart := uint64(st.LogStart)
	tailOff := layout.RootOffset(layout.SlotOf(st.Gen)) + layout.RootTailOff
	tailWord := (*uint64)(unsafe.Pointer(&m.mem[tailOff]))
	// Puts that fit the front half need no compaction or growth, so the
	// active root (and the word watched) stays the same.
	puts := int64((uint64(st.LogEnd) - logStart) / recSize)

	var stop atomic.Bool
	var bad atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			for range 256 {
				v := atomic.LoadUint64(tailWord)
				if bigEndian {
					v = bits.ReverseBytes64(v)
				}
				if v < logStart || (v-logStart)%recSize != 0 {
					bad.CompareAndSwap(0, v)
				}
			}
			loads += 256
		}
	}()
	for commits = 0; commits < puts && bad.Load() == 0; commits++ {
		require.NoError(t, s.Put(key, value))
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != 0 {
		return commits, loads, fmt.Sprintf("the tail word held %d (%#x), %d bytes into a record of %d: "+
			"the tail was not committed with one 8-byte store, and a kill at that moment leaves a region that cannot be opened",
			v, v, (v-logStart)%recSize, recSize)
	}
	require.Equal(t, logStart+uint64(commits)*recSize, uint64(s.Stats().Tail))
	require.NoError(t, s.Close())
	return commits, loads, ""
}

// bigEndian tells whether the host stores words most significant byte first
// (the tail word is little-endian on every host).
var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
