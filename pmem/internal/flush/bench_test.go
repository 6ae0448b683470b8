package flush

import (
	"fmt"
	"runtime"
	"testing"
)

var benchSizes = []struct {
	name string
	n    int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
	{"1MiB", 1 << 20},
	{"16MiB", 16 << 20},
}

// benchInstrs lists InstrNone and every write-back instruction this CPU
// supports (unsupported ones would silently fall back to Best and only
// duplicate its numbers).
func benchInstrs() []Instr {
	var is []Instr
	for _, i := range allInstrs {
		if Supported(i) {
			is = append(is, i)
		}
	}
	return is
}

func benchBuffers(n int) (dst, src []byte) {
	dst, src = alignedBuf(n), alignedBuf(n)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in
	return dst, src
}

// BenchmarkCopy measures the ordinary way of persisting a buffer: the
// built-in copy, then FlushWith(instr) and Fence. instr=none is the plain
// copy (plus an SFENCE) as a baseline.
func BenchmarkCopy(b *testing.B) {
	for _, i := range benchInstrs() {
		for _, sz := range benchSizes {
			b.Run(fmt.Sprintf("instr=%v/size=%s", i, sz.name), func(b *testing.B) {
				dst, src := benchBuffers(sz.n)
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					copy(dst, src)
					FlushWith(i, dst)
					Fence()
				}
			})
		}
	}
}

// BenchmarkCopyNT measures CopyNT followed by Fence, with each bulk kernel
// (kernel=auto is the exported CopyNT).
func BenchmarkCopyNT(b *testing.B) {
	kernels := append([]copier{{name: "auto", fn: CopyNT}}, kernelCopiersAtThreshold()...)
	for _, k := range kernels {
		for _, sz := range benchSizes {
			b.Run(fmt.Sprintf("kernel=%s/size=%s", k.name, sz.name), func(b *testing.B) {
				// Misalign dst by 8 so the head/tail path is included.
				dst, src := benchBuffers(sz.n + CacheLine)
				dst, src = dst[8:8+sz.n], src[:sz.n]
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					k.fn(dst, src)
					Fence()
				}
			})
		}
	}
}

// BenchmarkFlush measures FlushWith(instr) + Fence over a buffer whose every
// line has just been dirtied (one store per cache line, inside the timed
// loop: flushing clean lines would measure little but instruction overhead).
// instr=none is the cost of the dirtying stores alone.
func BenchmarkFlush(b *testing.B) {
	for _, i := range benchInstrs() {
		for _, sz := range benchSizes {
			b.Run(fmt.Sprintf("instr=%v/size=%s", i, sz.name), func(b *testing.B) {
				buf := alignedBuf(sz.n)
				b.SetBytes(int64(sz.n))
				var v byte
				for b.Loop() {
					v++
					for off := 0; off < len(buf); off += CacheLine {
						buf[off] = v
					}
					FlushWith(i, buf)
					Fence()
				}
			})
		}
	}
}

// BenchmarkCopyNTSmall compares, for short copies, the ordinary
// copy+Flush path with the streaming path; ntThreshold is set where the
// streaming path starts to win.
func BenchmarkCopyNTSmall(b *testing.B) {
	paths := smallCopyPaths()
	if len(paths) == 0 {
		b.Skip("no streaming path on " + runtime.GOARCH)
	}
	for _, path := range paths {
		for _, n := range []int{64, 128, 192, 256, 384, 512, 1024, 4096} {
			b.Run(fmt.Sprintf("path=%s/size=%d", path.name, n), func(b *testing.B) {
				dst, src := benchBuffers(n + CacheLine)
				dst, src = dst[8:8+n], src[:n]
				b.SetBytes(int64(n))
				for b.Loop() {
					path.fn(dst, src)
					Fence()
				}
			})
		}
	}
}
