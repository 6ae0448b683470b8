// Package flush holds the CPU-level persistence primitives for DAX mappings:
// cache-line write-back (CLWB, else CLFLUSHOPT, else CLFLUSH, chosen once by
// CPUID), the store fence (SFENCE) and non-temporal copies.
//
// Stores to a DAX (direct-access) mapping of persistent memory land in the
// CPU caches first. They are durable only once they have left the caches
// and reached the platform's persistence domain (the memory controller's
// write-pending queues on ADR platforms). This package provides the
// instructions that move them there; it does not know about files or
// mappings.
//
// # Primitives
//
//   - Flush(b) initiates the write-back of every 64-byte cache line that
//     overlaps b (the range is widened to whole lines, so neighbouring bytes
//     in the first and last line are written back too — harmless). It does
//     not wait: the write-backs are weakly ordered (for CLWB and CLFLUSHOPT)
//     and complete only by the next Fence. FlushWith does the same with an
//     explicitly chosen instruction, for tests and benchmarks.
//   - CopyNT(dst, src) copies with non-temporal (streaming) stores, which
//     bypass the cache, for the whole destination lines, and with ordinary
//     stores followed by Flush for the partial lines at either end. On
//     return every copied byte is in the same state as after copy+Flush:
//     write-back initiated, not yet guaranteed complete. dst and src must
//     not overlap. For large copies this avoids reading the destination
//     lines into the cache (no read-for-ownership) and a second pass over
//     them to flush.
//   - Fence() is SFENCE: all write-backs and streaming stores issued by this
//     CPU before it complete (become globally visible, and thus durable on
//     an ADR/eADR platform) before any later store.
//
// # Ordering rule
//
// Write the data, Flush it (or write it with CopyNT), then Fence, and only
// then perform the store that makes the data reachable (a commit record, a
// pointer, a length). Flush the commit store and Fence again if it must be
// durable too:
//
//	copy(m[off:], rec)
//	flush.Flush(m[off : off+len(rec)]) // or just flush.CopyNT(m[off:], rec)
//	flush.Fence()
//	putUint64(m[hdr:], off) // publish
//	flush.Flush(m[hdr : hdr+8])
//	flush.Fence()
//
// Without the first Fence the publishing store may become durable before
// the data it points to. Write-backs and streaming stores are issued by the
// CPU the goroutine happens to run on; if the goroutine (or its thread) is
// moved to another CPU between Flush and Fence, the move passes through
// locked read-modify-write instructions in the Go scheduler and the kernel,
// which order pending CLWB/CLFLUSHOPT and streaming stores just as SFENCE
// does, so the rule holds per goroutine. Fence is not a synchronisation
// operation of the Go memory model; use sync or sync/atomic to hand data to
// other goroutines.
//
// # Choice of instruction
//
// Best is determined once, at package initialisation, from CPUID: CLWB
// (leaf 7 EBX bit 24) if present, else CLFLUSHOPT (leaf 7 EBX bit 23), else
// CLFLUSH (leaf 1 EDX bit 19). CLWB is preferred because it writes a dirty
// line back without necessarily evicting it, so data that is read again soon
// after being persisted (a log tail, a header) stays cached. CLFLUSHOPT
// evicts the line but, like CLWB, is weakly ordered, so many flushes can be
// in flight at once and are all completed by one Fence. CLFLUSH also
// evicts, and successive CLFLUSHes are ordered among themselves, which
// serialises them and makes large flushes markedly slower.
//
// On architectures other than amd64, Best is InstrNone, Flush and FlushWith
// do nothing, CopyNT is an ordinary copy and Fence is a plain full memory
// barrier: callers there must make DAX data durable with msync(2).
//
// # Caveats
//
// This package was developed and tested on a machine without persistent
// memory (an AMD EPYC virtual machine reporting clwb, clflushopt and
// clflush). The tests and benchmarks exercise the instructions on ordinary
// DRAM — Go heap memory and a shared mmap(2) of a regular temporary file —
// and check that they execute without faulting and that CopyNT copies
// correctly; durability on real PMEM (that flushed data survives a power
// failure) was not, and cannot be, observed here. Likewise the benchmark
// numbers describe write-back to DRAM, not to PMEM, whose write bandwidth
// and latency differ considerably; they were also taken on a shared
// two-vCPU virtual machine and vary by tens of percent between runs. On
// some CPUs (reportedly Intel's Skylake and Cascade Lake server parts) CLWB
// still evicts the line like CLFLUSHOPT; that affects only performance.
// Whether a flushed line is actually written back cannot be observed from
// software, so the tests check that every primitive runs on all the ranges
// it may be given, not that the right lines were written back; the line
// arithmetic is simple enough to verify by reading flush_amd64.s.
package flush
