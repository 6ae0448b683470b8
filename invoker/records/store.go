package records

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
)

// Store keeps actions and activation records under a directory. It is safe
// for concurrent use.
type Store struct {
	fs     vfs.FS
	dir    string
	actDir string
	segDir string
	opts   Options
	log    *slog.Logger
	lock   io.Closer

	// life guards closed; ops counts the operations in flight, which Close
	// waits for.
	life   sync.Mutex
	closed bool
	ops    sync.WaitGroup

	// Actions. alocks serialises changes to one action; dirMu serialises
	// the creation of namespace directories.
	alocks lockTable
	dirMu  sync.Mutex
	nsDirs map[string]bool // escaped namespace -> directory durable; under dirMu
	amu    sync.RWMutex
	// actions is the metadata of every action, by namespace and name;
	// under amu.
	actions map[string]map[string]*actionMeta

	// Activations. mu guards idx, which only the writer goroutine changes
	// once the store is open.
	mu  sync.RWMutex
	idx *index
	w   *writer

	appends   atomic.Uint64
	syncs     atomic.Uint64
	dropped   atomic.Uint64
	truncated int64 // set by Open
}

// Stats are counters of a Store.
type Stats struct {
	Actions     int    // actions kept
	Namespaces  int    // namespaces with actions
	Activations int    // activation records kept
	Segments    int    // activation segment files
	Bytes       int64  // bytes of activation segments
	Appends     uint64 // records appended since Open
	Syncs       uint64 // group commits since Open: one write and one fdatasync each
	Dropped     uint64 // records dropped by retention since Open (Open's own included)
	Truncated   int64  // bytes of torn activation tail cut at Open
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Appends:   s.appends.Load(),
		Syncs:     s.syncs.Load(),
		Dropped:   s.dropped.Load(),
		Truncated: s.truncated,
	}
	s.amu.RLock()
	for _, m := range s.actions {
		st.Actions += len(m)
	}
	st.Namespaces = len(s.actions)
	s.amu.RUnlock()
	s.mu.RLock()
	st.Activations, st.Segments, st.Bytes = s.idx.live, len(s.idx.segs), s.idx.bytes
	s.mu.RUnlock()
	return st
}

// Open opens the store in dir, creating the directory (0700) if missing,
// and recovers it: an activation record torn by a crash at the end of the
// last segment is cut away (and logged); any other damage fails Open with a
// *CorruptError naming the file and offset, and nothing is changed. Temp
// files of interrupted action writes are removed. One process at a time
// may have a directory open (ErrLocked).
func Open(dir string, opts Options) (*Store, error) { return open(vfs.OS{}, dir, opts) }

// Files and directories of a store.
const (
	lockName    = "LOCK"
	actionsDir  = "actions"
	segmentsDir = "activations"
)

func segmentName(num uint64) string { return fmt.Sprintf("seg-%010d.log", num) }

func open(fsys vfs.FS, dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	dir = filepath.Clean(dir)
	s := &Store{
		fs:      fsys,
		dir:     dir,
		actDir:  filepath.Join(dir, actionsDir),
		segDir:  filepath.Join(dir, segmentsDir),
		opts:    o,
		log:     o.Logger,
		nsDirs:  map[string]bool{},
		actions: map[string]map[string]*actionMeta{},
	}
	for _, d := range []string{dir, s.actDir, s.segDir} {
		if err := mkdirAll(fsys, d); err != nil {
			return nil, ioError("create the store's directory", err)
		}
	}
	lk, err := fsys.Lock(filepath.Join(dir, lockName))
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w: %s is locked by another process (another marvel standalone on the same data directory? stop it or use another directory): %w",
			ErrLocked, dir, err)
	}
	if err != nil {
		return nil, ioError("lock the store", err)
	}
	s.lock = lk
	f, seg, err := s.recover()
	if err != nil {
		lk.Close()
		return nil, err
	}
	s.w = &writer{s: s, reqs: make(chan *appendReq, 1024), exited: make(chan struct{}), f: f, seg: seg, seen: map[[16]byte]bool{}}
	go s.w.run()
	st := s.Stats()
	s.log.Info("records store open", "dir", dir, "actions", st.Actions, "activations", st.Activations,
		"segments", st.Segments, "bytes", st.Bytes)
	return s, nil
}

// mkdirAll creates dir and its missing parents, each made durable by a
// sync of its parent.
func mkdirAll(fsys vfs.FS, dir string) error {
	err := fsys.Mkdir(dir)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(dir)
		if parent == dir {
			return err
		}
		if err := mkdirAll(fsys, parent); err != nil {
			return err
		}
		if err := fsys.Mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	default:
		return err
	}
	return fsys.SyncDir(filepath.Dir(dir))
}

// recover loads the store: first it reads everything and checks it,
// changing nothing; then it removes temp files, cuts a torn tail, makes the
// directories durable and applies retention. It returns the active
// segment, open read-write.
func (s *Store) recover() (vfs.File, *segment, error) {
	actions, temps, err := s.scanActions()
	if err != nil {
		return nil, nil, err
	}
	scans, err := s.scanSegments()
	if err != nil {
		return nil, nil, err
	}

	// Nothing was changed up to here.
	synced := map[string]bool{}
	for _, t := range temps {
		if err := s.fs.Remove(t); err != nil {
			return nil, nil, ioError("remove the temp file of an interrupted action write", err)
		}
		s.log.Info("temp file of an interrupted action write removed", "path", t)
		if d := filepath.Dir(t); !synced[d] {
			if err := s.fs.SyncDir(d); err != nil {
				return nil, nil, ioError("sync "+d, err)
			}
			synced[d] = true
		}
	}
	// Make the store's own directories durable, whoever created them; the
	// parent's entry too if it can be synced (it need not be readable).
	if err := s.fs.SyncDir(filepath.Dir(s.dir)); err != nil {
		s.log.Debug("parent directory not synced", "path", filepath.Dir(s.dir), "err", err)
	}
	for _, d := range []string{s.dir, s.actDir, s.segDir} {
		if err := s.fs.SyncDir(d); err != nil {
			return nil, nil, ioError("sync "+d, err)
		}
	}
	s.actions = actions
	for ns := range actions {
		s.nsDirs[escapeName(ns)] = true
	}

	x := newIndex()
	for _, sc := range scans {
		g := &segment{num: sc.num, path: sc.path, size: max(sc.end, format.SegmentHeaderSize)}
		x.segs = append(x.segs, g)
		x.bytes += g.size
		for _, e := range sc.recs {
			e.seg = g
			x.addLocked(e)
		}
	}
	s.idx = x

	var f vfs.File
	if len(scans) == 0 {
		if f, err = createSegment(s.fs, s.segDir, filepath.Join(s.segDir, segmentName(1)), 1); err != nil {
			return nil, nil, err
		}
		g := &segment{num: 1, path: filepath.Join(s.segDir, segmentName(1)), size: format.SegmentHeaderSize}
		x.segs = append(x.segs, g)
		x.bytes += g.size
	} else if f, err = s.repairTail(scans[len(scans)-1]); err != nil {
		return nil, nil, err
	}
	dropped, n := x.retainLocked(s.opts.MaxActivations, s.opts.MaxBytes)
	s.dropSegments(dropped, n)
	return f, x.segs[len(x.segs)-1], nil
}

// repairTail opens the last segment for writing, cuts its torn tail if it
// has one, and syncs it, so that everything before the next write is
// durable (recovery relies on that to tell damage from torn writes).
func (s *Store) repairTail(sc *segScan) (vfs.File, error) {
	f, err := s.fs.OpenRW(sc.path)
	if err != nil {
		return nil, ioError("open the last activation segment", err)
	}
	fail := func(err error) (vfs.File, error) {
		f.Close()
		return nil, ioError("cut the torn tail of "+sc.path, err)
	}
	if sc.torn != "" {
		if sc.end < format.SegmentHeaderSize {
			if err := f.Truncate(0); err != nil {
				return fail(err)
			}
			if _, err := f.WriteAt(format.SegmentHeader(sc.num), 0); err != nil {
				return fail(err)
			}
		} else if err := f.Truncate(sc.end); err != nil {
			return fail(err)
		}
		end := max(sc.end, format.SegmentHeaderSize)
		s.truncated = sc.size - sc.end
		s.log.Warn("torn activation record cut (a write interrupted by a crash)",
			"path", sc.path, "offset", sc.end, "bytes", sc.size-sc.end, "reason", sc.torn, "size", end)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	return f, nil
}

// enter registers an operation; false once the store is closed.
func (s *Store) enter() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return false
	}
	s.ops.Add(1)
	return true
}

func (s *Store) leave() { s.ops.Done() }

// Close waits for the operations in flight, stops the writer (every append
// it accepted is durable and answered by then) and releases the directory.
// Later calls return ErrClosed; Close itself may be called again.
func (s *Store) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	s.life.Unlock()
	s.ops.Wait()
	close(s.w.reqs)
	<-s.w.exited
	if err := s.lock.Close(); err != nil {
		return ioError("unlock the store", err)
	}
	s.log.Info("records store closed", "dir", s.dir)
	return nil
}
