package records

import (
	"fmt"
	"path/filepath"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
)

// Group commit bounds: a batch takes what is queued, up to these.
const (
	maxBatchRecords = 4096
	maxBatchBytes   = 8 << 20
)

// appendReq is one Append waiting for its batch.
type appendReq struct {
	e          *entry
	head, body []byte
	status     byte
	done       chan error // buffered; receives the outcome once
}

func (r *appendReq) frameSize() int64 {
	return format.FrameHeaderSize + int64(len(r.head)+len(r.body))
}

// writer is the store's one writer goroutine: it takes the appends queued
// on reqs, writes each batch to the active segment with one write, syncs it
// with one fdatasync, publishes the records in the index, applies
// retention, and answers. It owns the active segment's file and rotates
// segments; it is the only goroutine that changes the index.
type writer struct {
	s      *Store
	reqs   chan *appendReq
	exited chan struct{}
	f      vfs.File // the active segment, open read-write
	seg    *segment // the active segment (its size changes under s.mu)
	buf    []byte
	seen   map[[16]byte]bool
	failed error // set after a failed sync: every later append gets it
}

func (w *writer) run() {
	defer close(w.exited)
	batch := make([]*appendReq, 0, 64)
	for r := range w.reqs {
		batch = append(batch[:0], r)
		size := r.frameSize()
	gather:
		for len(batch) < maxBatchRecords && size < maxBatchBytes {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				size += r.frameSize()
			default:
				break gather
			}
		}
		w.commit(batch)
		clear(batch)
	}
	if err := w.f.Close(); err != nil {
		w.s.log.Warn("activation segment close failed", "path", w.seg.path, "err", err)
	}
}

func answer(batch []*appendReq, err error) {
	for _, r := range batch {
		r.done <- err
	}
}

// commit writes, syncs and publishes one batch.
func (w *writer) commit(batch []*appendReq) {
	s := w.s
	if w.failed != nil {
		answer(batch, w.failed)
		return
	}
	// Refuse ids already kept or twice in the batch. The writer is the only
	// goroutine that changes byID, so it reads it without the lock.
	clear(w.seen)
	keep := batch[:0]
	for _, r := range batch {
		if s.idx.byID[r.e.id] != nil || w.seen[r.e.id] {
			r.done <- fmt.Errorf("%w: activation %x", ErrExists, r.e.id)
			continue
		}
		w.seen[r.e.id] = true
		keep = append(keep, r)
	}
	batch = keep
	if len(batch) == 0 {
		return
	}
	var size int64
	for _, r := range batch {
		size += r.frameSize()
	}
	if w.seg.size > format.SegmentHeaderSize && w.seg.size+size > s.opts.SegmentBytes {
		if err := w.rotate(); err != nil {
			answer(batch, err)
			return
		}
	}
	off := w.seg.size
	buf := w.buf[:0]
	for _, r := range batch {
		r.e.seg, r.e.off, r.e.size = w.seg, off+int64(len(buf)), r.frameSize()
		buf = format.AppendFrame(buf, r.head, r.body, uint64(off), r.status)
	}
	w.buf = buf
	if cap(w.buf) > 2*maxBatchBytes {
		w.buf = nil
	}
	if _, err := w.f.WriteAt(buf, off); err != nil {
		err = ioError(fmt.Sprintf("append %d activation record(s) to %s", len(batch), w.seg.path), err)
		// Cut what may have reached the file, so the next batch starts
		// where this one did.
		if terr := w.f.Truncate(off); terr != nil {
			w.failed = fmt.Errorf("%w: %w; then cutting back to %d bytes: %w", ErrPoisoned, err, off, terr)
			s.log.Error("activation log failed", "path", w.seg.path, "err", w.failed)
		}
		answer(batch, err)
		return
	}
	if err := w.f.Sync(); err != nil {
		w.failed = fmt.Errorf("%w: %w", ErrPoisoned, ioError(fmt.Sprintf("sync %s", w.seg.path), err))
		s.log.Error("activation log failed", "path", w.seg.path, "err", w.failed)
		answer(batch, w.failed)
		return
	}
	s.mu.Lock()
	for _, r := range batch {
		s.idx.addLocked(r.e)
	}
	w.seg.size += int64(len(buf))
	s.idx.bytes += int64(len(buf))
	dropped, n := s.idx.retainLocked(s.opts.MaxActivations, s.opts.MaxBytes)
	s.mu.Unlock()
	s.appends.Add(uint64(len(batch)))
	s.syncs.Add(1)
	answer(batch, nil)
	s.dropSegments(dropped, n)
}

// rotate starts the next segment: created, its header written and synced,
// and its name made durable before any record goes in, so that recovery
// can trust the header of any segment holding a record.
func (w *writer) rotate() error {
	s := w.s
	num := w.seg.num + 1
	path := filepath.Join(s.segDir, segmentName(num))
	f, err := createSegment(s.fs, s.segDir, path, num)
	if err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		s.log.Warn("activation segment close failed", "path", w.seg.path, "err", err)
	}
	g := &segment{num: num, path: path, size: format.SegmentHeaderSize}
	s.mu.Lock()
	s.idx.segs = append(s.idx.segs, g)
	s.idx.bytes += g.size
	s.mu.Unlock()
	w.f, w.seg = f, g
	s.log.Debug("activation segment started", "path", path)
	return nil
}

// createSegment creates segment num durably.
func createSegment(fsys vfs.FS, dir, path string, num uint64) (vfs.File, error) {
	f, err := fsys.Create(path)
	if err != nil {
		return nil, ioError("create activation segment", err)
	}
	if _, err = f.WriteAt(format.SegmentHeader(num), 0); err == nil {
		if err = f.Sync(); err == nil {
			err = fsys.SyncDir(dir)
		}
	}
	if err != nil {
		f.Close()
		fsys.Remove(path)
		return nil, ioError("create activation segment "+path, err)
	}
	return f, nil
}

// dropSegments removes the files of segments retention dropped. A removal
// that does not reach the disk before a crash only brings the segment back
// at the next Open, which drops it again.
func (s *Store) dropSegments(segs []*segment, records int) {
	if records > 0 {
		s.dropped.Add(uint64(records))
	}
	for _, g := range segs {
		if err := s.fs.Remove(g.path); err != nil {
			s.log.Warn("activation segment removal failed", "path", g.path, "err", err)
			continue
		}
		s.log.Debug("activation segment dropped", "path", g.path, "bytes", g.size)
	}
}
