package pmem

// Medium is the one narrow interface through which every byte of persistence
// passes. The store never makes anything durable except through these calls,
// which is what lets tests swap in a crashable in-memory medium
// (pmemtest.CrashMedium) that keeps only what was flushed and fenced.
//
// Rules every implementation follows:
//   - Bytes returns the whole mapping. The slice is valid until the next Grow
//     or Close; callers must not retain it across either.
//   - Flush starts the write-back of Bytes()[off:off+n]. Nothing is promised
//     durable until a later Fence returns nil.
//   - CopyNT copies src into Bytes()[off:]; on media that support it the copy
//     uses non-temporal stores that bypass the CPU cache. The copied bytes count
//     as flushed: they are durable once a later Fence returns nil.
//   - Fence waits until every earlier Flush and CopyNT is durable, and orders
//     them before any later store. An error means durability of the earlier
//     operations is unknown; the caller must stop acknowledging writes.
//   - Grow extends the medium to size bytes (never shrinks). The new bytes read
//     as zero. On error the previous mapping is still valid and unchanged.
//
// Only one goroutine (the writer) may call Flush, CopyNT, Fence and Grow at a
// time; Bytes and Stats may be called concurrently with them.
type Medium interface {
	Bytes() []byte
	Flush(off, n int64)
	CopyNT(off int64, src []byte)
	Fence() error
	Grow(size int64) error
	Size() int64
	Stats() MediumStats
	Close() error
}

// MediumStats are counters a medium keeps about its persistence traffic.
type MediumStats struct {
	Mode       Mode   // how the medium is mapped
	Method     string // persistence primitive in use: "clwb", "clflushopt", "clflush", "msync", "fence", "sim"
	Path       string // file or device backing the medium ("" for in-memory media)
	Size       int64  // bytes mapped
	Flushes    uint64 // Flush calls
	FlushBytes uint64 // bytes passed to Flush
	NTBytes    uint64 // bytes copied by CopyNT
	Fences     uint64 // Fence calls
	Grows      uint64 // successful Grow calls
}

// Prefaulter is implemented by media whose pages are cheaper to map in bulk
// than to fault one at a time on first touch (file mappings). The store calls
// Prefault ahead of where it is about to write (write true) and on the log it
// is about to scan (write false). It is a hint only.
type Prefaulter interface {
	Prefault(off, n int64, write bool)
}
