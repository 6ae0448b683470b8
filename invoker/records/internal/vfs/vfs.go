// Package vfs is the narrow interface through which package records reaches
// the disk: every byte the store persists, and every directory change,
// passes through an FS. OS is the real one; package vfstest holds a
// crashable in-memory FS and an error-injecting wrapper for tests.
package vfs

import (
	"io"
	"os"
	"path/filepath"
	"slices"
)

// FS is a file system. Names are slash-separated paths as given; errors are
// *os.PathError (or wrap one) naming the path, so they reach the user with
// the file they concern.
type FS interface {
	// Mkdir creates one directory (0700). An existing one gives an error
	// wrapping fs.ErrExist, a missing parent one wrapping fs.ErrNotExist.
	Mkdir(name string) error
	// Create creates or truncates a file (0600) open for reading and
	// writing. The new name is durable once its directory is synced.
	Create(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// OpenRW opens an existing file for reading and writing.
	OpenRW(name string) (File, error)
	// Rename replaces newname by oldname, atomically; durable once the
	// directory is synced.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(name string) ([]DirEntry, error)
	// SyncDir makes the directory's entries durable (fsync).
	SyncDir(name string) error
	// Lock takes an exclusive advisory lock on the named file, creating it
	// if needed, without waiting; closing the returned Closer releases it.
	Lock(name string) (io.Closer, error)
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name  string
	IsDir bool
}

// File is an open file.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Size is the file's current size.
	Size() (int64, error)
	// Truncate sets the file's size.
	Truncate(size int64) error
	// Sync makes the file's data and size durable (fdatasync).
	Sync() error
	Close() error
	Name() string
}

// OS is the operating system's file system.
type OS struct{}

var _ FS = OS{}

func (OS) Mkdir(name string) error { return os.Mkdir(name, 0o700) }

func (OS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (OS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (OS) OpenRW(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (OS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (OS) Remove(name string) error { return os.Remove(name) }

func (OS) ReadDir(name string) ([]DirEntry, error) {
	ents, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, DirEntry{Name: e.Name(), IsDir: e.IsDir()})
	}
	slices.SortFunc(out, func(a, b DirEntry) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

func (OS) SyncDir(name string) error {
	d, err := os.Open(filepath.Clean(name))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (OS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "lock", Path: name, Err: err}
	}
	return f, nil
}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f osFile) Sync() error { return dataSync(f.File) }
