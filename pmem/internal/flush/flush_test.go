package flush

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var allInstrs = []Instr{InstrNone, InstrCLFLUSH, InstrCLFLUSHOPT, InstrCLWB}

// alignedBuf returns a zeroed slice of n bytes whose first byte is
// CacheLine-aligned.
func alignedBuf(n int) []byte {
	raw := make([]byte, n+CacheLine)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(raw))) & (CacheLine - 1))
	return raw[off : off+n : off+n]
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestInstrString(t *testing.T) {
	require.Equal(t, "none", InstrNone.String())
	require.Equal(t, "clflush", InstrCLFLUSH.String())
	require.Equal(t, "clflushopt", InstrCLFLUSHOPT.String())
	require.Equal(t, "clwb", InstrCLWB.String())
	require.Equal(t, "Instr(9)", Instr(9).String())
	require.Equal(t, 64, CacheLine)
}

func TestSupported(t *testing.T) {
	require.True(t, Supported(InstrNone))
	require.False(t, Supported(Instr(4)))
	require.False(t, Supported(Instr(255)))
	require.True(t, Supported(Best()))
	require.Equal(t, Best(), Best(), "Best must be stable")
	if runtime.GOARCH != "amd64" {
		require.Equal(t, InstrNone, Best())
		for _, i := range allInstrs[1:] {
			require.False(t, Supported(i), i.String())
		}
	}
}

// cpuinfoFlags returns the "flags" of the first processor in /proc/cpuinfo.
func cpuinfoFlags(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		t.Skipf("no /proc/cpuinfo: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		flags := map[string]bool{}
		for _, fl := range strings.Fields(val) {
			flags[fl] = true
		}
		return flags
	}
	require.NoError(t, sc.Err())
	t.Skip("no flags line in /proc/cpuinfo")
	return nil
}

func TestBestMatchesCPUInfo(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs linux/amd64")
	}
	flags := cpuinfoFlags(t)
	require.Equal(t, flags["clwb"], Supported(InstrCLWB), "clwb")
	require.Equal(t, flags["clflushopt"], Supported(InstrCLFLUSHOPT), "clflushopt")
	require.Equal(t, flags["clflush"], Supported(InstrCLFLUSH), "clflush")
	want := InstrNone
	switch {
	case flags["clwb"]:
		want = InstrCLWB
	case flags["clflushopt"]:
		want = InstrCLFLUSHOPT
	case flags["clflush"]:
		want = InstrCLFLUSH
	}
	require.Equal(t, want, Best(), "Best() = %v, cpuinfo implies %v", Best(), want)
	t.Logf("Best() = %v (cpuinfo: clwb=%v clflushopt=%v clflush=%v avx2=%v)",
		Best(), flags["clwb"], flags["clflushopt"], flags["clflush"], flags["avx2"])
}

// flushRanges calls FlushWith(i, ·) on many sub-slices of buf: empty, nil,
// single bytes at every offset of a line, unaligned spans, whole lines,
// the first and last byte of buf and the whole of buf.
func flushRanges(t *testing.T, i Instr, buf []byte) {
	t.Helper()
	n := len(buf)
	FlushWith(i, nil)
	FlushWith(i, buf[:0])
	FlushWith(i, buf[n:])
	FlushWith(i, buf[:1])
	FlushWith(i, buf[n-1:])
	for off := range 2 * CacheLine {
		FlushWith(i, buf[off:off+1])
		FlushWith(i, buf[off:off+CacheLine])
		FlushWith(i, buf[off:off+CacheLine+1])
		FlushWith(i, buf[off:off+3*CacheLine-1])
		FlushWith(i, buf[n-off-1:])
	}
	FlushWith(i, buf[1:n-1])
	FlushWith(i, buf[13:n-37])
	FlushWith(i, buf)
}

func TestFlushWithHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Odd sizes and an unaligned start, so the slice ends mid-line too.
	for _, size := range []int{5*CacheLine + 1, 4096 + 3, 1<<20 + 13} {
		raw := randBytes(r, size+7)
		buf := raw[7:]
		want := bytes.Clone(buf)
		for _, i := range append(allInstrs, Instr(200)) {
			t.Run(fmt.Sprintf("instr=%v/size=%d", i, size), func(t *testing.T) {
				flushRanges(t, i, buf)
				Flush(buf)
				Flush(buf[5:6])
				Flush(nil)
				Fence()
				require.True(t, bytes.Equal(want, buf), "flush changed the data")
			})
		}
	}
}

// mapTemp creates a temporary file of size bytes and maps it shared,
// read-write.
func mapTemp(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "map"))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.Truncate(int64(size)))
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, unix.Munmap(m)) })
	return f, m
}

func TestFlushAndCopyNTOnMmap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mmap test is linux-only")
	}
	const size = 5*4096 + 4096 // whole pages: the last line ends at the mapping's end
	f, m := mapTemp(t, size)
	r := rand.New(rand.NewPCG(3, 4))
	want := randBytes(r, size)
	copy(m, want)
	for _, i := range allInstrs {
		t.Run("instr="+i.String(), func(t *testing.T) {
			flushRanges(t, i, m)
			Fence()
			require.True(t, bytes.Equal(want, m))
		})
	}
	// CopyNT into the mapping at an unaligned offset, up to its very end,
	// then check through the file (after msync) as well as the mapping.
	src := randBytes(r, size-77)
	require.Equal(t, len(src), CopyNT(m[77:], src))
	copy(want[77:], src)
	require.Equal(t, 1000, CopyNT(m[3:1003], src[5000:]))
	copy(want[3:1003], src[5000:])
	require.Equal(t, 100, CopyNT(m[size-100:], src[:100]))
	copy(want[size-100:], src[:100])
	Fence()
	require.True(t, bytes.Equal(want, m))
	require.NoError(t, unix.Msync(m, unix.MS_SYNC))
	got := make([]byte, size)
	_, err := f.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "file contents differ at %d", firstDiff(want, got))
}

// copier is one implementation under test: the exported CopyNT and, on
// amd64, each bulk kernel explicitly with the short-copy threshold disabled
// so that even the shortest copies take the streaming path.
type copier struct {
	name string
	fn   func(dst, src []byte) int
	// exhaustiveMax bounds the lengths TestCopyNTExhaustive tries.
	exhaustiveMax int
}

func copiers(maxLen int) []copier {
	cs := []copier{{"CopyNT", CopyNT, maxLen}}
	if ks := kernelCopiers(maxLen); len(ks) > 0 {
		// Above the short-copy threshold CopyNT runs exactly the code of
		// one of the kernels, so exhaustively it only needs the lengths
		// around the threshold.
		cs[0].exhaustiveMax = min(maxLen, ntThresholdForTest+2*CacheLine)
		cs = append(cs, ks...)
	}
	return cs
}

// checkCopy runs fn(dst, src) where dst = buf[start:start+dlen] and checks
// the return value, the copied bytes, that buf outside the copied range
// still equals orig and that src is unchanged. It then restores buf to orig.
func checkCopy(t *testing.T, fn func(dst, src []byte) int, buf, orig []byte, start, dlen int, src []byte) {
	n := min(dlen, len(src))
	srcBefore := src
	if len(src) <= 4096 {
		srcBefore = bytes.Clone(src)
	}
	got := fn(buf[start:start+dlen], src)
	if got != n {
		require.FailNowf(t, "wrong count", "start=%d dlen=%d slen=%d: returned %d, want %d", start, dlen, len(src), got, n)
	}
	if !bytes.Equal(buf[start:start+n], src[:n]) {
		require.FailNowf(t, "wrong data", "start=%d n=%d: first difference at %d", start, n, firstDiff(buf[start:start+n], src[:n]))
	}
	if !bytes.Equal(buf[:start], orig[:start]) {
		require.FailNowf(t, "head guard clobbered", "start=%d n=%d: at %d", start, n, firstDiff(buf[:start], orig[:start]))
	}
	if !bytes.Equal(buf[start+n:], orig[start+n:]) {
		require.FailNowf(t, "tail guard clobbered", "start=%d n=%d: at +%d", start, n, firstDiff(buf[start+n:], orig[start+n:]))
	}
	if !bytes.Equal(src, srcBefore) {
		require.FailNowf(t, "src modified", "start=%d n=%d", start, n)
	}
	copy(buf[start:start+n], orig[start:start+n])
}

func TestCopyNTExhaustive(t *testing.T) {
	maxLen := 1100
	offStep := 1
	if testing.Short() {
		maxLen, offStep = 600, 7
	}
	r := rand.New(rand.NewPCG(5, 6))
	// dst: guard line, up to 63 bytes of misalignment, the copy, guard line.
	orig := randBytes(r, CacheLine+CacheLine+maxLen+CacheLine)
	srcBuf := randBytes(r, CacheLine+maxLen)
	for _, c := range copiers(maxLen) {
		t.Run(c.name, func(t *testing.T) {
			for dOff := 0; dOff < CacheLine; dOff += offStep {
				t.Run(fmt.Sprintf("dst+%d", dOff), func(t *testing.T) {
					t.Parallel()
					buf := alignedBuf(len(orig))
					copy(buf, orig)
					start := CacheLine + dOff
					for sOff := 0; sOff < CacheLine; sOff += offStep {
						for n := 0; n <= c.exhaustiveMax; n++ {
							checkCopy(t, c.fn, buf, orig, start, n, srcBuf[sOff:sOff+n])
						}
					}
				})
			}
		})
	}
}

func TestCopyNTLengthMismatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	src := randBytes(r, 5000)
	orig := randBytes(r, 6000)
	for _, c := range copiers(0) {
		t.Run(c.name, func(t *testing.T) {
			buf := alignedBuf(len(orig))
			copy(buf, orig)
			for _, tc := range []struct{ start, dlen, slen int }{
				{0, 0, 100}, {1, 100, 0}, {3, 1000, 999}, {3, 999, 1000},
				{64, 4096, 300}, {65, 300, 4096}, {17, 4500, 4999}, {0, 5000, 5000},
			} {
				checkCopy(t, c.fn, buf, orig, tc.start, tc.dlen, src[:tc.slen])
			}
			require.Equal(t, 0, c.fn(nil, src))
			require.Equal(t, 0, c.fn(buf, nil))
		})
	}
}

func TestCopyNTLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	sizes := []int{1<<20 + 13, 4<<20 - 1}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		src := randBytes(r, size+CacheLine)
		orig := randBytes(r, size+3*CacheLine)
		buf := alignedBuf(len(orig))
		copy(buf, orig)
		for _, c := range copiers(0) {
			for _, offs := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {63, 17}, {32, 32}, {13, 51}} {
				t.Run(fmt.Sprintf("%s/size=%d/dst+%d/src+%d", c.name, size, offs[0], offs[1]), func(t *testing.T) {
					checkCopy(t, c.fn, buf, orig, CacheLine+offs[0], size, src[offs[1]:offs[1]+size])
				})
			}
		}
	}
}

func FuzzCopyNT(f *testing.F) {
	f.Add([]byte("hello, persistent world"), uint8(3), uint8(0), uint16(23))
	f.Add(bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, 300), uint8(61), uint8(7), uint16(1100))
	f.Fuzz(func(t *testing.T, src []byte, dOff, sOff uint8, dLen uint16) {
		// dOff: destination misalignment; sOff: bytes dropped from the
		// front of src (shifting its alignment); dLen: destination length.
		dOff %= CacheLine
		src = src[min(int(sOff%CacheLine), len(src)):]
		orig := make([]byte, CacheLine+CacheLine+int(dLen)+CacheLine)
		for i := range orig {
			orig[i] = byte(i*131 + 7)
		}
		for _, c := range copiers(0) {
			buf := alignedBuf(len(orig))
			copy(buf, orig)
			checkCopy(t, c.fn, buf, orig, CacheLine+int(dOff), int(dLen), src)
		}
	})
}
