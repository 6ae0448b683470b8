package vfstest

import (
	"io"
	"sync"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
)

// Injector decides whether an operation on name fails, and with what
// error; nil lets it through.
type Injector func(op Op, name string) error

// ErrFS wraps an FS and fails the operations its injector picks, before
// they reach the wrapped FS.
type ErrFS struct {
	fs     vfs.FS
	mu     sync.Mutex
	inject Injector
}

var _ vfs.FS = (*ErrFS)(nil)

// NewErrFS wraps fs with no injector.
func NewErrFS(fs vfs.FS) *ErrFS { return &ErrFS{fs: fs} }

// SetInjector replaces the injector (nil: no errors).
func (e *ErrFS) SetInjector(in Injector) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inject = in
}

func (e *ErrFS) check(op Op, name string) error {
	e.mu.Lock()
	in := e.inject
	e.mu.Unlock()
	if in == nil {
		return nil
	}
	return in(op, name)
}

func (e *ErrFS) Mkdir(name string) error {
	if err := e.check(OpMkdir, name); err != nil {
		return err
	}
	return e.fs.Mkdir(name)
}

func (e *ErrFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &errFile{File: f, e: e}, nil
}

func (e *ErrFS) Create(name string) (vfs.File, error) {
	if err := e.check(OpCreate, name); err != nil {
		return nil, err
	}
	return e.wrap(e.fs.Create(name))
}

func (e *ErrFS) Open(name string) (vfs.File, error) {
	if err := e.check(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.fs.Open(name))
}

func (e *ErrFS) OpenRW(name string) (vfs.File, error) {
	if err := e.check(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.fs.OpenRW(name))
}

func (e *ErrFS) Rename(oldname, newname string) error {
	if err := e.check(OpRename, newname); err != nil {
		return err
	}
	return e.fs.Rename(oldname, newname)
}

func (e *ErrFS) Remove(name string) error {
	if err := e.check(OpRemove, name); err != nil {
		return err
	}
	return e.fs.Remove(name)
}

func (e *ErrFS) ReadDir(name string) ([]vfs.DirEntry, error) {
	if err := e.check(OpReadDir, name); err != nil {
		return nil, err
	}
	return e.fs.ReadDir(name)
}

func (e *ErrFS) SyncDir(name string) error {
	if err := e.check(OpSyncDir, name); err != nil {
		return err
	}
	return e.fs.SyncDir(name)
}

func (e *ErrFS) Lock(name string) (io.Closer, error) {
	if err := e.check(OpLock, name); err != nil {
		return nil, err
	}
	return e.fs.Lock(name)
}

type errFile struct {
	vfs.File
	e *ErrFS
}

func (f *errFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.e.check(OpRead, f.Name()); err != nil {
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *errFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.e.check(OpWrite, f.Name()); err != nil {
		if sw, ok := err.(*ShortWrite); ok {
			n, _ := f.File.WriteAt(p[:min(sw.N, len(p))], off)
			return n, sw.Err
		}
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *errFile) Size() (int64, error) {
	if err := f.e.check(OpSize, f.Name()); err != nil {
		return 0, err
	}
	return f.File.Size()
}

func (f *errFile) Truncate(size int64) error {
	if err := f.e.check(OpTruncate, f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *errFile) Sync() error {
	if err := f.e.check(OpSync, f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *errFile) Close() error {
	if err := f.e.check(OpClose, f.Name()); err != nil {
		f.File.Close()
		return err
	}
	return f.File.Close()
}

// ShortWrite, returned by an injector for a write, makes the write put its
// first N bytes in the file before failing with Err.
type ShortWrite struct {
	N   int
	Err error
}

func (e *ShortWrite) Error() string { return e.Err.Error() }
func (e *ShortWrite) Unwrap() error { return e.Err }
