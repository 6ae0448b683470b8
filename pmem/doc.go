// Package pmem gives serverless functions and jobs persistent-memory regions
// and keeps their state crash-consistent inside them.
//
// A namespace is a directory — on a DAX-mounted filesystem, or any filesystem
// when persistent memory is emulated — holding one NAME.region file per
// region. A device-DAX character device (/dev/daxX.Y) can also hold one
// region. Each region holds a Store: a key–value store whose writes are
// durable when they return.
//
//	s, err := pmem.OpenOrCreate("/mnt/pmem/marvel", "fn.guest.counter", pmem.Options{Pinned: true})
//	...
//	err = s.Put("count", b)          // durable when it returns nil
//	v, err := s.Get("count")         // a copy, checksum verified
//	err = s.View("model", func(b []byte) error { ... }) // no copy
//
// # Modes
//
// Open and Create detect how to map a region unless Options.Mode forces it:
//
//   - devdax: the path is a device-DAX character device, mapped whole; its
//     size and alignment come from sysfs.
//   - fsdax: mmap with MAP_SHARED_VALIDATE|MAP_SYNC succeeds, which proves
//     the file is on DAX: stores reach persistent memory once the CPU cache
//     lines are written back (CLWB, else CLFLUSHOPT, else CLFLUSH) and fenced
//     (SFENCE), with no msync.
//   - emulated: MAP_SYNC fails with EOPNOTSUPP, so the file is mapped with
//     MAP_SHARED. On a disk filesystem persistence is msync(MS_SYNC) of the
//     pages touched, which survives power loss. On tmpfs it is a store fence:
//     the mapping is the page cache itself, so it survives a crash of the
//     process but not a reboot.
//
// Forcing a DAX mode where there is none fails with an error wrapping
// ErrNotDAX that says why.
//
// # Durability
//
// Every persistence operation goes through the Medium interface (flush a
// range, fence, non-temporal copy, grow). The store appends checksummed
// records to a log and commits them by moving an 8-byte tail word after the
// records are flushed and fenced; compaction and growth switch between two
// alternating roots with one 8-byte commit word. Opening a region recovers
// the last committed state or fails with a *CorruptError naming the file, the
// structure and the byte offset (ErrCorrupt, ErrTruncated or ErrVersion);
// it never half-works. docs/pmem.md has the on-media format.
//
// The proof lives in the tests: pmemtest.CrashMedium keeps only what was
// flushed and fenced (and any subset of the rest, 8 bytes at a time), and
// TestCrashPoints crashes workloads at every persistence operation; package
// crashproc kills real writer processes with SIGKILL and checks every
// acknowledged write.
//
// # Concurrency
//
// A Store takes any number of concurrent readers (Get, View, Range, Keys,
// Has, Len, Stats, Check) alongside one writer at a time (Put, PutReader,
// Delete, Apply, Compact, Grow); writers are serialised internally. A region
// file is locked with flock: one read-write opener at a time, in any
// process; read-only opens share the lock.
//
// # Slices into the mapping
//
// No Go pointer is ever stored inside a mapping. Slices that alias mapped
// bytes are valid only for a limited time: Medium.Bytes until the next Grow
// or Close; the slice passed to a View callback only until the callback
// returns (a later compaction may overwrite those bytes, a Grow or Close
// unmap them). Get and Range hand out copies, which are always safe.
//
// # Capacity
//
// A Pool grants regions to owners against a byte budget, with leases
// (default 1 s) that owners renew; a region whose lease expired more than the
// grace period ago (default 1 s) and that is not pinned is reclaimed, so
// capacity moves between jobs and functions within seconds.
//
// # Caveats
//
//   - Nothing in this package has run on real persistent memory: the
//     machines it was developed on have none. The DAX paths (MAP_SYNC,
//     device-DAX mapping, CLWB) are exercised as far as ordinary memory
//     allows; emulated mode is what runs here.
//   - A region that cannot grow (MaxSize, device-DAX) can hold live data of
//     about half its size: the other half is where compaction copies to.
//   - Leases live in the Pool's memory: after a restart, unpinned regions get
//     a fresh lease and are reclaimed unless re-granted. Use one Pool per
//     namespace directory.
//   - On tmpfs, emulated regions do not survive a reboot.
package pmem
