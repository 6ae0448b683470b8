package pmem

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/marvel-serverless/marvel/pmem/internal/flush"
)

// RegionOptions configure CreateRegion and OpenRegion. The zero value detects
// the mode, maps read-write, reads sysfs under /sys and logs nothing.
type RegionOptions struct {
	// Mode selects the mapping. ModeAuto (the zero value) detects it: devdax
	// for a device-DAX character device, else fsdax if the kernel accepts
	// MAP_SYNC for the file, else emulated. ModeDevDax, ModeFSDax and
	// ModeEmulated force a mode; forcing a DAX mode where there is none fails
	// with an error wrapping ErrNotDAX that says why.
	Mode Mode
	// ReadOnly maps the region PROT_READ under a shared lock, so several
	// read-only opens may coexist (but not with a read-write one). Fence and
	// Grow return ErrReadOnly; Flush and CopyNT do nothing.
	ReadOnly bool
	// SysfsRoot is where sysfs is mounted ("/sys" when empty). Tests point it
	// at a fake tree to exercise device-DAX detection.
	SysfsRoot string
	// Logger receives a "region mapped" record per successful open and
	// warnings about degraded setups. nil logs nothing.
	Logger *slog.Logger
}

func (o RegionOptions) sysfsRoot() string {
	if o.SysfsRoot == "" {
		return "/sys"
	}
	return o.SysfsRoot
}

func (o RegionOptions) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// persistKind is how Flush/CopyNT/Fence make bytes durable.
type persistKind uint8

const (
	// persistCPU writes cache lines back with CLWB/CLFLUSHOPT/CLFLUSH and
	// fences with SFENCE (devdax and fsdax on amd64).
	persistCPU persistKind = iota
	// persistMsync records the pages passed to Flush and msync(MS_SYNC)s them
	// at Fence (emulated on a disk filesystem; fsdax without flush
	// instructions).
	persistMsync
	// persistFence only fences: the medium is memory (tmpfs) whose contents
	// survive the process but not the machine.
	persistFence
)

// Region is a file or device-DAX namespace mapped into memory; it implements
// Medium. Create one with CreateRegion, open one with OpenRegion.
//
// # Modes and persistence
//
// A region is mapped in one of three modes (see Mode), and Method names the
// primitive that makes its bytes durable:
//
//   - ModeDevDax: a /dev/daxX.Y character device mapped whole. Flush writes
//     the touched cache lines back (Method "clwb", "clflushopt" or "clflush",
//     whichever the CPU has); CopyNT uses non-temporal stores; Fence is an
//     SFENCE. Durable across power loss. The size is fixed: Grow fails with
//     ErrCannotGrow.
//   - ModeFSDax: a file on a DAX-mounted filesystem (ext4/xfs -o dax) mapped
//     with MAP_SYNC, so the filesystem keeps its metadata durable for every
//     page fault and user-space cache flushes suffice. Persistence as for
//     devdax (Method "msync" on CPUs without flush instructions).
//   - ModeEmulated: a regular file mapped with MAP_SHARED, for machines
//     without persistent memory. On a disk filesystem (Method "msync") Flush
//     records the touched pages and Fence msync(MS_SYNC)s them: durable
//     across power loss, at disk speed. On tmpfs (Method "fence") the page
//     cache is the medium: Fence is a store fence, and the bytes survive a
//     crash of the process but not a reboot of the machine.
//
// # Concurrency
//
// The single-writer rule of Medium applies: one goroutine at a time calls
// Flush, CopyNT, Fence, Grow, Rename and Close. Bytes, Size, Path, Mode,
// Method and Stats may be called concurrently with them. Across processes a
// read-write region is exclusive: it is held under an exclusive flock(2)
// until Close, and a second open (from this or another process) fails with
// ErrLocked. Read-only opens share the lock with each other.
//
// # Slice validity
//
// The slice returned by Bytes aliases the mapping. It is invalid after Grow
// (which may move the mapping to a new address) and after
// Close; touching it then may crash the process with SIGSEGV. Call Bytes
// again after Grow, and never retain the slice across either call.
type Region struct {
	// mu guards the fields below it. Grow, Close and Rename take it for
	// writing; Bytes, Size, Stats and the persistence calls take it for
	// reading, so a mapping is never unmapped under a running Flush or CopyNT.
	mu     sync.RWMutex
	data   []byte // the mapping, exactly as returned by mmap
	path   string
	closed bool

	// Fixed after open.
	fd       int
	mode     Mode
	method   string
	persist  persistKind
	readOnly bool
	mapFlags int   // mmap flags of the mapping, reused by Grow
	pageSize int64 // granularity of msync and Grow
	log      *slog.Logger

	// dirtyMu guards dirty, the pages flushed since the last Fence
	// (persistMsync only).
	dirtyMu sync.Mutex
	dirty   dirtySet

	flushes    atomic.Uint64
	flushBytes atomic.Uint64
	ntBytes    atomic.Uint64
	fences     atomic.Uint64
	grows      atomic.Uint64
}

var _ Medium = (*Region)(nil)

// Path returns the file or device the region maps. It follows Rename.
func (r *Region) Path() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.path
}

// Mode returns the mode the region is mapped in (never ModeAuto).
func (r *Region) Mode() Mode { return r.mode }

// Method returns the persistence primitive: "clwb", "clflushopt" or
// "clflush" on DAX, "msync" on emulated disk files (and on DAX without CPU
// flush instructions), "fence" on emulated tmpfs files.
func (r *Region) Method() string { return r.method }

// Bytes returns the whole mapping (nil after Close). The slice is valid until
// the next Grow or Close.
func (r *Region) Bytes() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.data
}

// Size returns the number of bytes mapped (0 after Close).
func (r *Region) Size() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return int64(len(r.data))
}

// Stats returns the region's counters. It is safe to call concurrently with
// the writer.
func (r *Region) Stats() MediumStats {
	r.mu.RLock()
	path, size := r.path, int64(len(r.data))
	r.mu.RUnlock()
	return MediumStats{
		Mode:       r.mode,
		Method:     r.method,
		Path:       path,
		Size:       size,
		Flushes:    r.flushes.Load(),
		FlushBytes: r.flushBytes.Load(),
		NTBytes:    r.ntBytes.Load(),
		Fences:     r.fences.Load(),
		Grows:      r.grows.Load(),
	}
}

// Flush starts the write-back of Bytes()[off:off+n]; a later Fence makes it
// durable. A range reaching outside the mapping is clamped to it. Flush does
// nothing on a read-only or closed region.
func (r *Region) Flush(off, n int64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed || r.readOnly {
		return
	}
	r.flushes.Add(1)
	start, end := clampRange(off, n, int64(len(r.data)))
	if start >= end {
		return
	}
	r.flushBytes.Add(uint64(end - start))
	r.flushLocked(start, end)
}

// flushLocked writes back data[start:end] per the persistence method. The
// caller holds mu (read) and has clamped the range.
func (r *Region) flushLocked(start, end int64) {
	switch r.persist {
	case persistCPU:
		flush.Flush(r.data[start:end])
	case persistMsync:
		ps := r.pageSize
		r.dirtyMu.Lock()
		r.dirty.add(start&^(ps-1), (end+ps-1)&^(ps-1))
		r.dirtyMu.Unlock()
	case persistFence:
		// The stores are already in the medium (the page cache); Fence
		// orders them.
	}
}

// CopyNT copies src into Bytes()[off:]; the copied bytes count as flushed.
// On DAX the copy uses non-temporal stores; on emulated media it is a plain
// copy followed by the emulated flush (which does not count in
// Stats().Flushes). Bytes that would land outside the mapping are dropped;
// the rest land at their intended offsets. CopyNT does nothing on a
// read-only or closed region.
func (r *Region) CopyNT(off int64, src []byte) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed || r.readOnly {
		return
	}
	start, end := clampRange(off, int64(len(src)), int64(len(r.data)))
	if start >= end {
		return
	}
	src = src[start-off : end-off]
	dst := r.data[start:end]
	// Streaming stores also suit emulated media: they skip the read for
	// ownership of every line (about twice as fast as copy for large values),
	// the pages still become dirty for msync, and a killed process cannot
	// lose what the CPU's write-combining buffers hold.
	flush.CopyNT(dst, src)
	if r.persist == persistMsync {
		r.flushLocked(start, end)
	}
	r.ntBytes.Add(uint64(end - start))
}

// Fence waits until every earlier Flush and CopyNT is durable. On emulated
// disk files it msyncs the pages flushed since the last Fence; if that fails
// the pages stay recorded (a later Fence retries them) and the error, which
// wraps the syscall error, means durability is unknown.
func (r *Region) Fence() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := r.writableLocked("fence on"); err != nil {
		return err
	}
	r.fences.Add(1)
	if r.persist != persistMsync {
		flush.Fence()
		return nil
	}
	r.dirtyMu.Lock()
	defer r.dirtyMu.Unlock()
	size := int64(len(r.data))
	for i, pr := range r.dirty.ranges() {
		start, end := min(pr.start, size), min(pr.end, size)
		if start >= end {
			continue
		}
		if err := msyncRange(r.data[start:end]); err != nil {
			r.dirty.dropFirst(i) // keep the failed range and all after it
			return fmt.Errorf("pmem: fence on %s: msync of bytes [%d, %d): %w", r.path, start, end, err)
		}
	}
	r.dirty.reset()
	return nil
}

// Grow extends the region to at least size bytes, rounded up to the page
// size; a size not above the current one does nothing. The new bytes read as
// zero and their disk space is reserved up front. Grow may move the mapping
// (mremap): slices from Bytes are invalid afterwards. On error the file and
// the old mapping are left as they were.
func (r *Region) Grow(size int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.writableLocked("grow"); err != nil {
		return err
	}
	cur := int64(len(r.data))
	if size <= cur {
		return nil
	}
	if r.mode == ModeDevDax {
		return fmt.Errorf("%w: %s is a device-DAX namespace of fixed size %d bytes, asked for %d (create a larger namespace with ndctl)",
			ErrCannotGrow, r.path, cur, size)
	}
	newSize := roundUp(size, r.pageSize)
	if newSize < size {
		return fmt.Errorf("%w: grow %s to %d bytes: size overflows", ErrInvalid, r.path, size)
	}
	if err := r.growLocked(newSize); err != nil {
		return err
	}
	r.grows.Add(1)
	r.log.Debug("region grown", "path", r.path, "from", cur, "bytes", newSize)
	return nil
}

// Rename moves the region's file to newPath (failing with ErrExist if a file
// is there already) and fsyncs the directories involved, so the new name is
// durable when Rename returns. Path follows. The usual use is an atomic
// create: create at a temporary name, format, then rename into place.
func (r *Region) Rename(newPath string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.writableLocked("rename"); err != nil {
		return err
	}
	if r.mode == ModeDevDax {
		return fmt.Errorf("%w: rename %s: a device-DAX device cannot be renamed", ErrInvalid, r.path)
	}
	if err := renameFile(r.path, newPath); err != nil {
		return fmt.Errorf("pmem: rename region %s to %s: %w", r.path, newPath, err)
	}
	old := r.path
	r.path = newPath
	oldDir, newDir := filepath.Dir(old), filepath.Dir(newPath)
	if err := syncDir(newDir); err != nil {
		return fmt.Errorf("pmem: rename region %s to %s: sync directory %s: %w", old, newPath, newDir, err)
	}
	if oldDir != newDir {
		if err := syncDir(oldDir); err != nil {
			return fmt.Errorf("pmem: rename region %s to %s: sync directory %s: %w", old, newPath, oldDir, err)
		}
	}
	return nil
}

// writableLocked reports why the region cannot take op, if it cannot. r.mu
// must be held.
func (r *Region) writableLocked(op string) error {
	switch {
	case r.closed:
		return fmt.Errorf("%w: %s %s", ErrClosed, op, r.path)
	case r.readOnly:
		return fmt.Errorf("%w: %s %s", ErrReadOnly, op, r.path)
	}
	return nil
}

// Prefault maps the pages of [off, off+n) before they are used — writable
// if write is set — so the accesses that follow do not each take a page
// fault (several microseconds per 4 KiB page on a tmpfs mapping in a virtual
// machine). It is a hint: it changes no byte and makes nothing durable. The
// store calls it ahead of its log tail, and on the log before recovery.
func (r *Region) Prefault(off, n int64, write bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed || (write && r.readOnly) {
		return
	}
	start, end := clampRange(off, n, int64(len(r.data)))
	start = start / r.pageSize * r.pageSize
	if start < end {
		prefault(r.data[start:end], write)
	}
}

// Close unmaps the region and releases its lock. Pages flushed but not yet
// fenced are not made durable by Close. A second Close returns ErrClosed.
func (r *Region) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("%w: close %s", ErrClosed, r.path)
	}
	r.closed = true
	err := r.releaseLocked()
	r.data = nil
	r.dirtyMu.Lock()
	r.dirty.reset()
	r.dirtyMu.Unlock()
	if err != nil {
		return fmt.Errorf("pmem: close %s: %w", r.path, err)
	}
	return nil
}

// clampRange intersects [off, off+n) with [0, size) and returns the
// intersection as [start, end), empty (start >= end) when they do not meet.
// It never overflows.
func clampRange(off, n, size int64) (start, end int64) {
	if n <= 0 || size <= 0 || off >= size {
		return 0, 0
	}
	if off < 0 {
		e := off + n // cannot overflow: off < 0 < n
		if e <= 0 {
			return 0, 0
		}
		return 0, min(e, size)
	}
	if n > size-off {
		return off, size
	}
	return off, off + n
}

// roundUp rounds n up to a multiple of align (a power of two). It returns a
// value below n when the result overflows.
func roundUp(n, align int64) int64 {
	return (n + align - 1) &^ (align - 1)
}

// pageRange is a page-aligned byte range [start, end) of a region.
type pageRange struct{ start, end int64 }

// dirtySet is the set of page ranges flushed since the last Fence, kept
// sorted, disjoint and with no two ranges adjacent (touching ranges are
// merged). Adding a range already covered by the last range touched — the
// common case of many small flushes into the same pages, or an ascending log
// append — costs one comparison; otherwise one binary search and, at most,
// one slice shift.
type dirtySet struct {
	r    []pageRange
	last int // index of the range the last add touched
}

// add records [start, end), merging it with the ranges it overlaps or
// touches.
func (d *dirtySet) add(start, end int64) {
	if start >= end {
		return
	}
	if d.last < len(d.r) {
		x := &d.r[d.last]
		if start >= x.start && end <= x.end {
			return
		}
		// Extending the last range forward without reaching the next one
		// (sequential appends).
		if start >= x.start && start <= x.end && (d.last+1 == len(d.r) || end < d.r[d.last+1].start) {
			x.end = end
			return
		}
	}
	// i: first range that ends at or after start (mergeable or after).
	i, _ := slices.BinarySearchFunc(d.r, start, func(p pageRange, s int64) int {
		switch {
		case p.end < s:
			return -1
		case p.end > s:
			return 1
		}
		return 0
	})
	// j: first range from i that starts after end (not mergeable).
	j := i
	for j < len(d.r) && d.r[j].start <= end {
		j++
	}
	if i == j {
		d.r = slices.Insert(d.r, i, pageRange{start, end})
	} else {
		d.r[i] = pageRange{min(start, d.r[i].start), max(end, d.r[j-1].end)}
		d.r = slices.Delete(d.r, i+1, j)
	}
	d.last = i
}

// ranges returns the recorded ranges in ascending order. The slice is owned
// by the set.
func (d *dirtySet) ranges() []pageRange { return d.r }

// dropFirst forgets the first k ranges (those made durable).
func (d *dirtySet) dropFirst(k int) {
	d.r = slices.Delete(d.r, 0, k)
	d.last = 0
}

// reset forgets every range, keeping the backing array.
func (d *dirtySet) reset() {
	d.r = d.r[:0]
	d.last = 0
}

// bytes returns the number of bytes the ranges cover.
func (d *dirtySet) bytes() int64 {
	var n int64
	for _, p := range d.r {
		n += p.end - p.start
	}
	return n
}
