package flush

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Implemented in cpuid_amd64.s.
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// Implemented in flush_amd64.s. Each writes back every cache line that
// overlaps [p, p+n); n == 0 is a no-op.

//go:noescape
func flushCLWB(p unsafe.Pointer, n uintptr)

//go:noescape
func flushCLFLUSHOPT(p unsafe.Pointer, n uintptr)

//go:noescape
func flushCLFLUSH(p unsafe.Pointer, n uintptr)

// Fence executes SFENCE: every write-back initiated by Flush/FlushWith and
// every non-temporal store issued by CopyNT on this CPU before the call is
// globally visible — and, on a platform whose persistence domain includes
// the memory controller (ADR/eADR), durable — before any store that follows.
//
// Fence orders memory at the CPU level only. It is not a synchronisation
// operation in the sense of the Go memory model (and is invisible to the
// race detector); use the sync and sync/atomic packages to publish data to
// other goroutines.
//
// Implemented in flush_amd64.s.
func Fence()

// Implemented in copynt_amd64.s; see there for the preconditions.

//go:noescape
func copyNTSSE2(dst, src unsafe.Pointer, n uintptr)

//go:noescape
func copyNTAVX2(dst, src unsafe.Pointer, n uintptr)

// CPUID feature bits (Intel SDM vol. 2A, CPUID; same positions on AMD).
const (
	leaf1EDXCLFLUSH    = 1 << 19 // CPUID.01H:EDX[19]
	leaf7EBXCLFLUSHOPT = 1 << 23 // CPUID.(EAX=07H,ECX=0):EBX[23]
	leaf7EBXCLWB       = 1 << 24 // CPUID.(EAX=07H,ECX=0):EBX[24]
)

func detect() (Instr, [len(instrNames)]bool) {
	var s [len(instrNames)]bool
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf >= 1 {
		_, _, _, edx := cpuid(1, 0)
		s[InstrCLFLUSH] = edx&leaf1EDXCLFLUSH != 0
	}
	if maxLeaf >= 7 {
		_, ebx, _, _ := cpuid(7, 0)
		s[InstrCLFLUSHOPT] = ebx&leaf7EBXCLFLUSHOPT != 0
		s[InstrCLWB] = ebx&leaf7EBXCLWB != 0
	}
	b := InstrNone
	switch {
	case s[InstrCLWB]:
		b = InstrCLWB
	case s[InstrCLFLUSHOPT]:
		b = InstrCLFLUSHOPT
	case s[InstrCLFLUSH]:
		b = InstrCLFLUSH
	}
	return b, s
}

// flushLines dispatches on i; b is non-empty and i is supported.
func flushLines(i Instr, b []byte) {
	p, n := unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b))
	switch i {
	case InstrCLWB:
		flushCLWB(p, n)
	case InstrCLFLUSHOPT:
		flushCLFLUSHOPT(p, n)
	case InstrCLFLUSH:
		flushCLFLUSH(p, n)
	}
}

// hasAVX2 selects the 32-byte bulk kernel. x/sys/cpu also checks that the
// OS saves the YMM state (OSXSAVE/XCR0), not merely the CPUID bit.
var hasAVX2 = cpu.X86.HasAVX2

// ntThreshold is the copy length below which CopyNT uses an ordinary copy
// followed by Flush: for short copies the fixed cost of the head/tail
// handling outweighs streaming a few lines. Tuned with BenchmarkCopyNTSmall
// (on the development VM both paths cost about the same up to ~192 bytes,
// and streaming was clearly faster from 256 bytes on). Any value is correct.
const ntThreshold = 256

// CopyNT copies min(len(dst), len(src)) bytes from src to dst and returns
// that count. Whole destination cache lines are written with non-temporal
// (streaming) stores that bypass the cache; the partial lines at either end
// are written with ordinary stores and then written back with Flush. Either
// way, on return every copied byte has had its write-back initiated, exactly
// as if it had been copied and then passed to Flush; the caller must call
// Fence before relying on durability or on ordering with later stores.
//
// dst and src must not overlap (unlike the built-in copy, CopyNT does not
// handle overlapping ranges).
func CopyNT(dst, src []byte) int {
	return copyNTImpl(dst, src, hasAVX2, ntThreshold)
}

// copyNTImpl is CopyNT with the bulk kernel and the short-copy threshold
// chosen by the caller (tests and benchmarks exercise both kernels and tune
// the threshold). It is correct for any threshold.
func copyNTImpl(dst, src []byte, avx2 bool, threshold int) int {
	n := min(len(dst), len(src))
	if n == 0 {
		return 0
	}
	dst, src = dst[:n], src[:n]
	if n < threshold || best == InstrNone {
		// Short copy (or, hypothetically, a CPU without any flush
		// instruction, where streaming stores alone would not suffice for
		// the partial lines): ordinary stores plus write-back.
		copy(dst, src)
		Flush(dst)
		return n
	}
	// Head: ordinary stores up to the next cache-line boundary of dst.
	head := min(n, int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst)))&(CacheLine-1)))
	// Bulk: whole destination lines with streaming stores (possibly none).
	bulk := (n - head) &^ (CacheLine - 1)
	copy(dst[:head], src[:head])
	d := unsafe.Pointer(unsafe.SliceData(dst[head:]))
	s := unsafe.Pointer(unsafe.SliceData(src[head:]))
	switch {
	case bulk == 0:
	case avx2:
		copyNTAVX2(d, s, uintptr(bulk))
	default:
		copyNTSSE2(d, s, uintptr(bulk))
	}
	// Tail: ordinary stores for the remaining partial line.
	tail := head + bulk
	copy(dst[tail:], src[tail:])
	// The head and the tail each lie within a single cache line.
	Flush(dst[:head])
	Flush(dst[tail:])
	return n
}
