package namesys

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A lease is one client's right to write its open files; the client renews
// it (renewLease, every second from colinmarc's client) and loses it
// SoftLimit after the last renewal to anyone who asks, HardLimit after it to
// the bridge, which then closes the files as they are.
type lease struct {
	holder  string
	renewed time.Time
	files   map[uint64]*openFile
}

// openFile is a file under construction.
type openFile struct {
	mu     sync.Mutex // serialises writes into the file with closing it
	ino    uint64
	path   Path // where it was last seen; guarded by FS.mapMu (see where)
	holder string
	user   string // the HDFS user who created or appended it
	bs     int64
	gs     uint64
	fd     int   // O_RDWR, for the DataNode's writes and the final fsync
	last   int64 // index of the last block allocated, -1 before the first
	// closed: by complete or lease recovery; writes fail. It is set with mu
	// held, and read without it by lookups that hold only FS.mapMu.
	closed atomic.Bool
}

func (of *openFile) close() {
	of.mu.Lock()
	defer of.mu.Unlock()
	if !of.closed.Load() {
		of.closed.Store(true)
		unix.Close(of.fd)
	}
}

func (fs *FS) nextGS() uint64 {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	gs := uint64(fs.cfg.Now().UnixMicro())
	if gs <= fs.gsLast {
		gs = fs.gsLast + 1
	}
	fs.gsLast = gs
	return gs
}

func (fs *FS) addOpen(of *openFile) {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	l := fs.leases[of.holder]
	if l == nil {
		l = &lease{holder: of.holder, files: map[uint64]*openFile{}}
		fs.leases[of.holder] = l
	}
	l.renewed = fs.cfg.Now()
	l.files[of.ino] = of
	fs.open[of.ino] = of
	fs.boundHints()
	fs.paths[of.ino] = of.path.String()
}

// dropOpen forgets a file under construction (deleted or replaced).
func (fs *FS) dropOpen(ino uint64) {
	fs.mapMu.Lock()
	of := fs.open[ino]
	if of != nil {
		fs.forgetLocked(of)
	}
	delete(fs.paths, ino)
	fs.mapMu.Unlock()
	if of != nil {
		of.close()
	}
}

func (fs *FS) forgetLocked(of *openFile) {
	delete(fs.open, of.ino)
	if l := fs.leases[of.holder]; l != nil {
		delete(l.files, of.ino)
		if len(l.files) == 0 {
			delete(fs.leases, of.holder) // a lease without files protects nothing
		}
	}
}

// dropOpenUnder forgets the open files that were under a deleted directory.
func (fs *FS) dropOpenUnder(p Path) {
	fs.mapMu.Lock()
	var gone []*openFile
	for _, of := range fs.open {
		if of.path.Within(p) {
			gone = append(gone, of)
			fs.forgetLocked(of)
		}
	}
	for ino, s := range fs.paths {
		if s == p.String() || strings.HasPrefix(s, p.String()+"/") {
			delete(fs.paths, ino)
		}
	}
	fs.mapMu.Unlock()
	for _, of := range gone {
		of.close()
	}
}

// where is the path an open file was last seen at, for callers that do not
// hold mu (renames change it).
func (fs *FS) where(of *openFile) Path {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	return of.path
}

// movedPath records the rename of inode ino from src to dst for open files
// and block lookups: the inode itself and, when it is a directory, the
// files under it, so that a later delete of dst finds (and closes) them.
func (fs *FS) movedPath(ino uint64, src, dst Path) {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	for _, of := range fs.open {
		switch {
		case of.ino == ino:
			of.path = dst
		case of.path.Within(src):
			of.path = of.path.rebase(src, dst)
		}
	}
	for i, s := range fs.paths {
		if s == src.String() || strings.HasPrefix(s, src.String()+"/") {
			fs.paths[i] = dst.String() + s[len(src.String()):]
		}
	}
	if _, ok := fs.paths[ino]; ok {
		fs.paths[ino] = dst.String()
	}
}

// underConstruction: the inode is a file with a lease this process holds.
func (fs *FS) underConstruction(n *inode) bool {
	if n.a.Holder == "" {
		return false
	}
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	of := fs.open[n.ino()]
	return of != nil && !of.closed.Load()
}

// openOf returns the open file behind inode n, if under construction.
func (fs *FS) openOf(ino uint64) *openFile {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	return fs.open[ino]
}

// takeOver decides whether holder may create over or append to file t:
// refused while another client's lease is live, granted (after closing the
// file as it is) once that lease is past the soft limit. Called with mu held.
func (fs *FS) takeOver(t *inode, p Path, holder string) error {
	of := fs.openOf(t.ino())
	if of == nil {
		return nil
	}
	fs.mapMu.Lock()
	l := fs.leases[of.holder]
	expired := l == nil || fs.cfg.Now().Sub(l.renewed) > fs.cfg.SoftLimit
	fs.mapMu.Unlock()
	if !expired || of.holder == holder {
		return newErr(ClassAlreadyBeingCreated, "Failed to create file [%s] for [%s], because this file is already being created by [%s]", p, holder, of.holder)
	}
	return fs.finish(of, true)
}

// finish closes an open file: its data made durable, the lease holder
// removed from its attributes. recovered bumps the generation stamp, as
// lease recovery does. Called with mu held.
func (fs *FS) finish(of *openFile, recovered bool) error {
	of.mu.Lock()
	defer of.mu.Unlock()
	if of.closed.Load() {
		return nil
	}
	p := of.path.String()
	if err := fs.syncStep(func() error { return unix.Fdatasync(of.fd) }); err != nil {
		return ioErr("close", p, err)
	}
	a, _, err := readAttrs(of.fd)
	if err != nil {
		return ioErr("close", p, err)
	}
	a.Holder = ""
	if recovered {
		a.GenStamp = fs.nextGS()
	}
	if err := fs.setAttrs(of.fd, a); err != nil {
		return ioErr("close", p, err)
	}
	if err := fs.syncStep(func() error { return unix.Fsync(of.fd) }); err != nil {
		return ioErr("close", p, err)
	}
	of.closed.Store(true)
	unix.Close(of.fd)
	fs.mapMu.Lock()
	fs.forgetLocked(of)
	fs.mapMu.Unlock()
	return nil
}

// RenewLease renews every lease of holder.
func (fs *FS) RenewLease(holder string) {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	if l := fs.leases[holder]; l != nil {
		l.renewed = fs.cfg.Now()
	}
}

// monitor closes files whose lease is past the hard limit.
func (fs *FS) monitor() {
	defer close(fs.done)
	every := fs.cfg.SoftLimit / 4
	if every > time.Second {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-fs.stop:
			return
		case <-t.C:
			fs.expire()
		}
	}
}

func (fs *FS) expire() {
	now := fs.cfg.Now()
	fs.mapMu.Lock()
	var due []*openFile
	for h, l := range fs.leases {
		if len(l.files) == 0 {
			if now.Sub(l.renewed) > fs.cfg.HardLimit {
				delete(fs.leases, h)
			}
			continue
		}
		if now.Sub(l.renewed) > fs.cfg.HardLimit {
			for _, of := range l.files {
				due = append(due, of)
			}
		}
	}
	fs.mapMu.Unlock()
	if len(due) == 0 {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, of := range due {
		if err := fs.finish(of, true); err != nil {
			fs.cfg.Logger.Warn("hdfs lease: closing a file past the hard limit failed", "path", of.path.String(), "holder", of.holder, "err", err)
			continue
		}
		fs.cfg.Logger.Info("hdfs lease: closed a file past the hard limit", "path", of.path.String(), "holder", of.holder)
	}
}

// maxHints bounds the block-lookup hints (inode → path); past it they are
// dropped, and lookups fall back to a search of the tree.
const maxHints = 1 << 17

// boundHints keeps the hints under maxHints. Called with mapMu held.
func (fs *FS) boundHints() {
	if len(fs.paths) >= maxHints {
		clear(fs.paths)
	}
}
