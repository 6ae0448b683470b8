//go:build !amd64

package flush

import "sync/atomic"

// Outside amd64 there is no user-level cache-line write-back that this
// package drives: nothing is reported as supported except InstrNone, Flush
// and FlushWith are no-ops, and callers make DAX mappings durable with
// msync(2) (unix.Msync) instead.
func detect() (Instr, [len(instrNames)]bool) {
	return InstrNone, [len(instrNames)]bool{}
}

func flushLines(Instr, []byte) {}

var fenceWord atomic.Uint64

// Fence is a full memory barrier on architectures other than amd64 (an
// atomic read-modify-write, which Go implements with the platform's
// strongest barrier). It does not make anything durable by itself: outside
// amd64, durability of a DAX mapping requires msync(2).
//
// Fence is not a synchronisation operation in the sense of the Go memory
// model; use sync and sync/atomic to publish data to other goroutines.
func Fence() { fenceWord.Add(1) }

// CopyNT copies min(len(dst), len(src)) bytes from src to dst and returns
// that count. Outside amd64 it is an ordinary copy: the bytes stay in the
// cache and must be made durable with msync(2). dst and src must not
// overlap (this is not checked, and the amd64 implementation does not
// support it).
func CopyNT(dst, src []byte) int { return copy(dst, src) }
