package records

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Query selects activation records of a namespace.
type Query struct {
	// Name keeps records whose Name is exactly this ("" keeps all).
	Name string
	// Since and Upto bound Start, in epoch milliseconds, inclusive; 0 is
	// unbounded.
	Since, Upto int64
	// Skip drops that many matching records first; Limit keeps at most
	// that many (0: all).
	Skip, Limit int
}

func (q Query) check() error {
	if q.Skip < 0 || q.Limit < 0 {
		return fmt.Errorf("%w: skip %d and limit %d: want 0 or more", ErrInvalid, q.Skip, q.Limit)
	}
	return nil
}

// Append stores a full activation record (with its response and logs) and
// returns once it is durable. Concurrent appends are written and synced
// together (group commit). The id must be 32 lower-case hex digits and the
// namespace set (else ErrInvalid), the record at most
// Options.MaxRecordBytes (else ErrInvalid), and the id new (else
// ErrExists).
func (s *Store) Append(a whisk.Activation) error {
	e, head, body, status, err := encodeRecord(a, s.opts.MaxRecordBytes)
	if err != nil {
		return err
	}
	if !s.enter() {
		return fmt.Errorf("%w: append activation %s", ErrClosed, a.ActivationID)
	}
	defer s.leave()
	r := &appendReq{e: e, head: head, body: body, status: status, done: make(chan error, 1)}
	s.w.reqs <- r
	return <-r.done
}

// GetActivation returns the full record of activation id in namespace ns,
// read from disk. An id kept in another namespace is ErrNotFound, as is one
// dropped by retention; a malformed id is ErrInvalid.
func (s *Store) GetActivation(ns, id string) (whisk.Activation, error) {
	k, err := parseID(id)
	if err != nil {
		return whisk.Activation{}, err
	}
	if !s.enter() {
		return whisk.Activation{}, fmt.Errorf("%w: get activation %s", ErrClosed, id)
	}
	defer s.leave()
	s.mu.RLock()
	e := s.idx.byID[k]
	if e == nil || e.ns != ns {
		s.mu.RUnlock()
		return whisk.Activation{}, notFound(ns, id)
	}
	l := e.location()
	s.mu.RUnlock()
	var r recordReader
	defer r.close()
	return r.read(s.fs, l)
}

func notFound(ns, id string) error {
	return fmt.Errorf("%w: activation %s in namespace %q", ErrNotFound, id, ns)
}

// ListActivations returns the records of ns matching q, newest Start first
// (ties: the later appended first). With docs false they are summaries
// (whisk.Activation.Summary: no logs or response, the status code set)
// built from the in-memory index; with docs true, full records read from
// disk (records dropped by retention meanwhile are left out). The list is
// never nil.
func (s *Store) ListActivations(ns string, q Query, docs bool) ([]whisk.Activation, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if !s.enter() {
		return nil, fmt.Errorf("%w: list activations of %q", ErrClosed, ns)
	}
	defer s.leave()
	// Entries never change once published (but for dead, unused here):
	// collect them under the lock, build the results outside it.
	var es []*entry
	skip := q.Skip
	s.mu.RLock()
	s.idx.eachLocked(ns, q, func(e *entry) bool {
		if skip > 0 {
			skip--
			return true
		}
		es = append(es, e)
		return q.Limit == 0 || len(es) < q.Limit
	})
	locs := make([]location, 0, len(es))
	if docs {
		for _, e := range es {
			locs = append(locs, e.location())
		}
	}
	s.mu.RUnlock()
	out := make([]whisk.Activation, 0, len(es))
	if !docs {
		for _, e := range es {
			out = append(out, e.summary())
		}
		return out, nil
	}
	var r recordReader
	defer r.close()
	for _, l := range locs {
		a, err := r.read(s.fs, l)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// CountActivations counts the records of ns matching q, ignoring Skip and
// Limit.
func (s *Store) CountActivations(ns string, q Query) int {
	if !s.enter() {
		return 0
	}
	defer s.leave()
	n := 0
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.idx.eachLocked(ns, q, func(*entry) bool { n++; return true })
	return n
}

// location is where a record's frame is.
type location struct {
	id     [16]byte
	ns     string
	path   string
	off    int64
	size   int64
	segNum uint64
}

func (e *entry) location() location {
	return location{id: e.id, ns: e.ns, path: e.seg.path, off: e.off, size: e.size, segNum: e.seg.num}
}

// recordReader reads records, keeping the last segment it opened open.
type recordReader struct {
	f    vfs.File
	path string
	buf  []byte
}

func (r *recordReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// read reads and checks the record at l. A segment gone (dropped by
// retention since the index was read) is ErrNotFound.
func (r *recordReader) read(fsys vfs.FS, l location) (whisk.Activation, error) {
	if r.f == nil || r.path != l.path {
		r.close()
		f, err := fsys.Open(l.path)
		if errors.Is(err, fs.ErrNotExist) {
			return whisk.Activation{}, fmt.Errorf("%w: activation %x in namespace %q (dropped by retention)", ErrNotFound, l.id, l.ns)
		}
		if err != nil {
			return whisk.Activation{}, ioError(fmt.Sprintf("read activation %x", l.id), err)
		}
		r.f, r.path = f, l.path
	}
	if int64(cap(r.buf)) < l.size {
		r.buf = make([]byte, l.size)
	}
	b := r.buf[:l.size]
	if n, err := r.f.ReadAt(b, l.off); n < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return whisk.Activation{}, &CorruptError{Path: l.path, Offset: l.off, What: "activation segment",
			Reason: fmt.Sprintf("reading the %d-byte record of activation %x: %v", l.size, l.id, err)}
	}
	fr, err := format.DecodeFrame(b)
	if err == nil && fr.Size() != l.size {
		err = fmt.Errorf("record of %d bytes where the index has %d", fr.Size(), l.size)
	}
	if err == nil {
		err = fr.CheckPayload(b[format.FrameHeaderSize:])
	}
	var a whisk.Activation
	if err == nil {
		a, err = decodeRecord(fr, b[format.FrameHeaderSize:], l.id)
	}
	if err != nil {
		return whisk.Activation{}, &CorruptError{Path: l.path, Offset: l.off, What: "activation segment", Reason: err.Error()}
	}
	if cap(r.buf) > 4<<20 {
		r.buf = nil
	}
	return a, nil
}
