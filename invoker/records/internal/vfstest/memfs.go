package vfstest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
)

// ErrCrashed is returned by every operation of a MemFS after its crash
// point.
var ErrCrashed = errors.New("vfstest: simulated crash")

// Survival says which of the changes that were made but not yet synced
// survive a crash.
type Survival int

const (
	// KeepNone: only what was synced survives.
	KeepNone Survival = iota
	// KeepAll: every write survives (as after kill -9: the page cache
	// outlives the process), but directory changes still need SyncDir.
	KeepAll
	// KeepRandom: a file keeps its synced size, its current size or one in
	// between, and each 8-byte word whose synced and current contents
	// differ independently keeps one or the other (zeros past an end).
	KeepRandom
)

func (s Survival) String() string { return [...]string{"keep-none", "keep-all", "keep-random"}[s] }

// MemFS is an in-memory vfs.FS that models a disk behind a page cache.
// File writes and truncations are volatile until the file is synced;
// creations, renames and removals are volatile until their directory is
// synced. CrashAt arranges a crash before the k-th persistence operation
// (Mkdir, Create, Rename, Remove, SyncDir, Write, Truncate, Sync, counted
// from 1): at that moment Image is taken, and that operation and every
// later one fails with ErrCrashed.
//
// Paths are absolute and slash-separated; "/" exists.
type MemFS struct {
	mu       sync.Mutex
	root     *node
	ops      int
	crashAt  int
	survival Survival
	rng      *rand.Rand
	image    *MemFS
	dead     bool
}

type node struct {
	dir      bool
	children map[string]*node // live entries (directories)
	durable  map[string]*node // entries as of the last SyncDir
	data     []byte           // current contents (files)
	synced   []byte           // contents as of the last Sync
	dirty    int              // data and synced agree before this offset
	locked   bool
}

func newDir() *node {
	return &node{dir: true, children: map[string]*node{}, durable: map[string]*node{}}
}

// NewMemFS returns an empty MemFS.
func NewMemFS() *MemFS { return &MemFS{root: newDir()} }

var _ vfs.FS = (*MemFS)(nil)

// CrashAt arranges a crash before the k-th persistence operation, with the
// given survival rule (KeepRandom draws from seed).
func (m *MemFS) CrashAt(k int, s Survival, seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAt, m.survival, m.rng = k, s, rand.New(rand.NewPCG(seed, 0x5eed))
}

// Ops is the number of persistence operations so far.
func (m *MemFS) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// Crashed returns the image taken at the crash point, or nil if it was not
// reached.
func (m *MemFS) Crashed() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.image
}

// Image returns what the disk would hold after a crash now, without
// crashing m.
func (m *MemFS) Image(s Survival, seed uint64) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.imageLocked(s, rand.New(rand.NewPCG(seed, 0x5eed)))
}

func (m *MemFS) imageLocked(s Survival, rng *rand.Rand) *MemFS {
	memo := map[*node]*node{}
	var clone func(n *node) *node
	clone = func(n *node) *node {
		if c, ok := memo[n]; ok {
			return c
		}
		if n.dir {
			c := newDir()
			memo[n] = c
			for name, ch := range n.durable {
				cc := clone(ch)
				c.children[name], c.durable[name] = cc, cc
			}
			return c
		}
		data := survive(n.synced, n.data, s, rng)
		c := &node{data: data, synced: slices.Clone(data), dirty: len(data)}
		memo[n] = c
		return c
	}
	return &MemFS{root: clone(m.root)}
}

// survive returns what a file holds after a crash given its synced and its
// current contents.
func survive(old, cur []byte, s Survival, rng *rand.Rand) []byte {
	switch s {
	case KeepNone:
		return slices.Clone(old)
	case KeepAll:
		return slices.Clone(cur)
	}
	lo, hi := min(len(old), len(cur)), max(len(old), len(cur))
	var n int
	switch rng.IntN(3) {
	case 0:
		n = len(old)
	case 1:
		n = len(cur)
	default:
		n = lo + rng.IntN(hi-lo+1)
		if n8 := n &^ 7; n8 >= lo {
			n = n8
		}
	}
	out := make([]byte, n)
	at := func(b []byte, i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	for w := 0; w < n; w += 8 {
		end := min(w+8, n)
		same := true
		for i := w; i < end; i++ {
			if at(old, i) != at(cur, i) {
				same = false
				break
			}
		}
		src := cur
		if !same && rng.IntN(2) == 0 {
			src = old
		}
		for i := w; i < end; i++ {
			out[i] = at(src, i)
		}
	}
	return out
}

// persistLocked counts a persistence operation and crashes at the crash
// point.
func (m *MemFS) persistLocked() error {
	if m.dead {
		return ErrCrashed
	}
	m.ops++
	if m.crashAt > 0 && m.ops == m.crashAt {
		m.image = m.imageLocked(m.survival, m.rng)
		m.dead = true
		return ErrCrashed
	}
	return nil
}

func perr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// split cleans an absolute path into its parent directory and base name.
func split(name string) (string, string, error) {
	if !strings.HasPrefix(name, "/") {
		return "", "", fmt.Errorf("vfstest: path %q is not absolute", name)
	}
	p := path.Clean(name)
	return path.Dir(p), path.Base(p), nil
}

// lookupLocked finds the node at name through live entries.
func (m *MemFS) lookupLocked(name string) (*node, error) {
	if !strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("vfstest: path %q is not absolute", name)
	}
	n := m.root
	for _, c := range strings.Split(path.Clean(name), "/") {
		if c == "" {
			continue
		}
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		ch, ok := n.children[c]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = ch
	}
	return n, nil
}

// parentLocked finds the directory that holds name.
func (m *MemFS) parentLocked(name string) (*node, string, error) {
	dir, base, err := split(name)
	if err != nil {
		return nil, "", err
	}
	d, err := m.lookupLocked(dir)
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

func (m *MemFS) Mkdir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.persistLocked(); err != nil {
		return perr("mkdir", name, err)
	}
	d, base, err := m.parentLocked(name)
	if err != nil {
		return perr("mkdir", name, err)
	}
	if _, ok := d.children[base]; ok {
		return perr("mkdir", name, fs.ErrExist)
	}
	d.children[base] = newDir()
	return nil
}

func (m *MemFS) Create(name string) (vfs.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.persistLocked(); err != nil {
		return nil, perr("open", name, err)
	}
	d, base, err := m.parentLocked(name)
	if err != nil {
		return nil, perr("open", name, err)
	}
	n, ok := d.children[base]
	switch {
	case ok && n.dir:
		return nil, perr("open", name, syscall.EISDIR)
	case ok:
		n.data = n.data[:0]
		n.dirty = 0
	default:
		n = &node{}
		d.children[base] = n
	}
	return &memFile{m: m, n: n, name: name, write: true}, nil
}

func (m *MemFS) open(name string, write bool) (vfs.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, perr("open", name, ErrCrashed)
	}
	n, err := m.lookupLocked(name)
	if err != nil {
		return nil, perr("open", name, err)
	}
	if n.dir {
		return nil, perr("open", name, syscall.EISDIR)
	}
	return &memFile{m: m, n: n, name: name, write: write}, nil
}

func (m *MemFS) Open(name string) (vfs.File, error) { return m.open(name, false) }

func (m *MemFS) OpenRW(name string) (vfs.File, error) { return m.open(name, true) }

func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.persistLocked(); err != nil {
		return &renameError{oldname, newname, err}
	}
	od, ob, err := m.parentLocked(oldname)
	if err != nil {
		return &renameError{oldname, newname, err}
	}
	n, ok := od.children[ob]
	if !ok {
		return &renameError{oldname, newname, fs.ErrNotExist}
	}
	nd, nb, err := m.parentLocked(newname)
	if err != nil {
		return &renameError{oldname, newname, err}
	}
	if t, ok := nd.children[nb]; ok && t.dir != n.dir {
		return &renameError{oldname, newname, syscall.EISDIR}
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

type renameError struct {
	old, new string
	err      error
}

func (e *renameError) Error() string { return "rename " + e.old + " " + e.new + ": " + e.err.Error() }
func (e *renameError) Unwrap() error { return e.err }

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.persistLocked(); err != nil {
		return perr("remove", name, err)
	}
	d, base, err := m.parentLocked(name)
	if err != nil {
		return perr("remove", name, err)
	}
	n, ok := d.children[base]
	if !ok {
		return perr("remove", name, fs.ErrNotExist)
	}
	if n.dir && len(n.children) > 0 {
		return perr("remove", name, syscall.ENOTEMPTY)
	}
	delete(d.children, base)
	return nil
}

func (m *MemFS) ReadDir(name string) ([]vfs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, perr("readdir", name, ErrCrashed)
	}
	d, err := m.lookupLocked(name)
	if err != nil {
		return nil, perr("readdir", name, err)
	}
	if !d.dir {
		return nil, perr("readdir", name, syscall.ENOTDIR)
	}
	out := make([]vfs.DirEntry, 0, len(d.children))
	for n, ch := range d.children {
		out = append(out, vfs.DirEntry{Name: n, IsDir: ch.dir})
	}
	slices.SortFunc(out, func(a, b vfs.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *MemFS) SyncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.persistLocked(); err != nil {
		return perr("sync", name, err)
	}
	d, err := m.lookupLocked(name)
	if err != nil {
		return perr("sync", name, err)
	}
	if !d.dir {
		return perr("sync", name, syscall.ENOTDIR)
	}
	d.durable = make(map[string]*node, len(d.children))
	for n, ch := range d.children {
		d.durable[n] = ch
	}
	return nil
}

func (m *MemFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, perr("lock", name, ErrCrashed)
	}
	d, base, err := m.parentLocked(name)
	if err != nil {
		return nil, perr("open", name, err)
	}
	n, ok := d.children[base]
	if !ok {
		n = &node{}
		d.children[base] = n
	}
	if n.locked {
		return nil, perr("lock", name, syscall.EWOULDBLOCK)
	}
	n.locked = true
	return lockRelease{m, n}, nil
}

type lockRelease struct {
	m *MemFS
	n *node
}

func (l lockRelease) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	l.n.locked = false
	return nil
}

// ReadFile returns a copy of a file's current contents (a test helper; not
// an operation).
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(name)
	if err != nil {
		return nil, perr("open", name, err)
	}
	return slices.Clone(n.data), nil
}

// WriteFile replaces an existing file's contents, durably (a test helper
// for damaging files; not an operation).
func (m *MemFS) WriteFile(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(name)
	if err != nil {
		return perr("open", name, err)
	}
	n.data, n.synced, n.dirty = slices.Clone(data), slices.Clone(data), len(data)
	return nil
}

type memFile struct {
	m      *MemFS
	n      *node
	name   string
	write  bool
	closed bool
}

func (f *memFile) check(op string, write bool) error {
	switch {
	case f.m.dead:
		return perr(op, f.name, ErrCrashed)
	case f.closed:
		return perr(op, f.name, fs.ErrClosed)
	case write && !f.write:
		return perr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, perr("read", f.name, syscall.EINVAL)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if err := f.m.persistLocked(); err != nil {
		return 0, perr("write", f.name, err)
	}
	if off < 0 {
		return 0, perr("write", f.name, syscall.EINVAL)
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	f.n.dirty = min(f.n.dirty, int(off))
	return copy(f.n.data[off:], p), nil
}

func (f *memFile) Size() (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if err := f.m.persistLocked(); err != nil {
		return perr("truncate", f.name, err)
	}
	if size < 0 {
		return perr("truncate", f.name, syscall.EINVAL)
	}
	f.n.dirty = min(f.n.dirty, int(size), len(f.n.data))
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-int64(len(f.n.data)))...)
	}
	return nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	if err := f.m.persistLocked(); err != nil {
		return perr("sync", f.name, err)
	}
	// Copy what changed since the last sync only.
	k := min(f.n.dirty, len(f.n.synced), len(f.n.data))
	f.n.synced = append(f.n.synced[:k], f.n.data[k:]...)
	f.n.dirty = len(f.n.data)
	return nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return perr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}
