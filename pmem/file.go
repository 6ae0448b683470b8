package pmem

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Named files are the other shape of persistent data in a namespace: whole
// byte sequences (shuffle partitions, job outputs) written once by one
// function and read, possibly many times and by other processes, through a
// mapping. They are plain files of the namespace's filesystem, so on an fsdax
// mount they are persistent memory mapped with MAP_SYNC, and the HDFS bridge
// can serve them without a copy.
//
// A file is written under a hidden temporary name through a Region (streaming
// stores, flushes, one fence), cut to its exact length, fsynced and then
// renamed into place, so a reader or a crash sees either no file or the whole
// committed file, never a prefix.

// FileOptions configure CreateFile.
type FileOptions struct {
	// Mode forces the mapping mode of the file while it is written (see
	// RegionOptions.Mode).
	Mode Mode
	// SizeHint is the expected length; the file starts at this size (at
	// least 64 KiB) and doubles when a write outgrows it.
	SizeHint int64
	// MaxSize bounds the file's length (0: no bound but the filesystem).
	// A write past it fails with an error wrapping ErrTooLarge.
	MaxSize int64
	// Overwrite lets Commit replace an existing file of the same name.
	// Without it Commit fails with an error wrapping ErrExist.
	Overwrite bool
}

// minFileSize is the smallest mapping CreateFile makes.
const minFileSize = 64 << 10

// fileBufSize is how many bytes FileWriter gathers before one streaming copy
// into the mapping, so that small writes do not each flush partial cache
// lines.
const fileBufSize = 64 << 10

// FileWriter writes one new named file. It is not safe for concurrent use.
// Call Commit to publish the file or Abort to drop it; until Commit returns
// nil nothing is visible under the file's name.
type FileWriter struct {
	path string // final name
	tmp  string // hidden name while writing
	opts FileOptions
	r    *Region
	n    int64 // bytes written into the mapping
	buf  []byte
	done bool
	err  error // sticky error: the writer is unusable after one
}

// CreateFile starts writing a new file at path. Parent directories are
// created (mode 0755) if missing.
func CreateFile(path string, opts FileOptions) (*FileWriter, error) {
	if opts.SizeHint < 0 || opts.MaxSize < 0 {
		return nil, fmt.Errorf("%w: create file %s: negative size hint %d or max size %d", ErrInvalid, path, opts.SizeHint, opts.MaxSize)
	}
	dir, base := filepath.Split(path)
	if base == "" || base == "." || base == ".." {
		return nil, fmt.Errorf("%w: create file %q: not a file name", ErrInvalid, path)
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pmem: create file %s: %w", path, err)
	}
	if !opts.Overwrite {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%w: file %s (remove it first, or overwrite it)", ErrExist, path)
		}
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, fmt.Errorf("pmem: create file %s: %w", path, err)
	}
	tmp := filepath.Join(dir, tempPrefix+base+tempMarker+hex.EncodeToString(suffix[:]))
	size := max(opts.SizeHint, minFileSize)
	if opts.MaxSize > 0 {
		size = min(size, max(opts.MaxSize, 1))
	}
	r, err := CreateRegion(tmp, size, RegionOptions{Mode: opts.Mode})
	if err != nil {
		return nil, err
	}
	return &FileWriter{path: path, tmp: tmp, opts: opts, r: r, buf: make([]byte, 0, fileBufSize)}, nil
}

// Path returns the name the file will have once committed.
func (w *FileWriter) Path() string { return w.path }

// Len returns the number of bytes written so far.
func (w *FileWriter) Len() int64 { return w.n + int64(len(w.buf)) }

// Write appends p to the file.
func (w *FileWriter) Write(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	if w.opts.MaxSize > 0 && w.Len()+int64(len(p)) > w.opts.MaxSize {
		w.err = fmt.Errorf("%w: file %s would exceed its limit of %d bytes", ErrTooLarge, w.path, w.opts.MaxSize)
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= fileBufSize {
			// Large writes go straight into the mapping.
			if err := w.copyOut(p); err != nil {
				return written, err
			}
			return written + len(p), nil
		}
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, written = p[k:], written+k
		if len(w.buf) == cap(w.buf) {
			if err := w.drain(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// ReadFrom copies r into the file until EOF.
func (w *FileWriter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if err := w.usable(); err != nil {
			return total, err
		}
		if len(w.buf) == cap(w.buf) {
			if err := w.drain(); err != nil {
				return total, err
			}
		}
		k, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		if k > 0 {
			if w.opts.MaxSize > 0 && w.Len()+int64(k) > w.opts.MaxSize {
				w.err = fmt.Errorf("%w: file %s would exceed its limit of %d bytes", ErrTooLarge, w.path, w.opts.MaxSize)
				return total, w.err
			}
			w.buf = w.buf[:len(w.buf)+k]
			total += int64(k)
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (w *FileWriter) usable() error {
	switch {
	case w.done:
		return fmt.Errorf("%w: file %s already committed or aborted", ErrClosed, w.path)
	case w.err != nil:
		return w.err
	}
	return nil
}

// drain moves the buffered bytes into the mapping.
func (w *FileWriter) drain() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.copyOut(w.buf)
	w.buf = w.buf[:0]
	return err
}

// copyOut streams p into the mapping at the end of the file, growing the
// region by doubling when needed.
func (w *FileWriter) copyOut(p []byte) error {
	need := w.n + int64(len(p))
	if size := w.r.Size(); need > size {
		target := max(size*2, need)
		if w.opts.MaxSize > 0 {
			target = max(min(target, w.opts.MaxSize), need)
		}
		if err := w.r.Grow(target); err != nil {
			w.err = fmt.Errorf("pmem: write file %s: grow to %d bytes: %w", w.path, target, err)
			return w.err
		}
	}
	w.r.CopyNT(w.n, p)
	w.n = need
	return nil
}

// Commit makes the written bytes durable and publishes the file under its
// name. After Commit returns nil a crash never loses the file; after an error
// the file was not published and the temporary is removed.
func (w *FileWriter) Commit() error {
	if err := w.usable(); err != nil {
		if !w.done { // a failed writer: drop what it wrote
			w.done = true
			w.abort()
		}
		return err
	}
	err := w.commit()
	if err != nil {
		w.err = err
		w.done = true
		w.abort()
		return err
	}
	w.done = true
	return nil
}

func (w *FileWriter) commit() error {
	if err := w.drain(); err != nil {
		return err
	}
	if err := w.r.Fence(); err != nil {
		return fmt.Errorf("pmem: commit file %s: %w", w.path, err)
	}
	if err := w.r.Close(); err != nil {
		return fmt.Errorf("pmem: commit file %s: %w", w.path, err)
	}
	w.r = nil
	f, err := os.OpenFile(w.tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("pmem: commit file %s: %w", w.path, err)
	}
	defer f.Close()
	if err := f.Truncate(w.n); err != nil {
		return fmt.Errorf("pmem: commit file %s: cut to %d bytes: %w", w.path, w.n, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pmem: commit file %s: fsync: %w", w.path, err)
	}
	if w.opts.Overwrite {
		err = os.Rename(w.tmp, w.path)
	} else {
		err = renameFile(w.tmp, w.path)
	}
	if err != nil {
		return fmt.Errorf("pmem: commit file %s: %w", w.path, err)
	}
	if err := syncDir(filepath.Dir(w.path)); err != nil {
		return fmt.Errorf("pmem: commit file %s: fsync directory: %w", w.path, err)
	}
	return nil
}

// Abort drops the file. It is safe to call after Commit (it does nothing).
func (w *FileWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.abort()
}

func (w *FileWriter) abort() error {
	var errs []error
	if w.r != nil {
		errs = append(errs, w.r.Close())
		w.r = nil
	}
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// MappedFile is a committed named file mapped read-only. Its bytes are the
// file's bytes in place: on DAX media, persistent memory itself.
type MappedFile struct {
	path string
	r    *Region // nil for an empty file
}

// MapFile maps the committed file at path read-only (under a shared lock, so
// it cannot be mapped by a writer meanwhile).
func MapFile(path string, mode Mode) (*MappedFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: file %s", ErrNotExist, path)
		}
		return nil, fmt.Errorf("pmem: map file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalid, path)
	}
	if fi.Size() == 0 {
		return &MappedFile{path: path}, nil
	}
	r, err := OpenRegion(path, RegionOptions{Mode: mode, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return &MappedFile{path: path, r: r}, nil
}

// Bytes returns the file's contents. The slice is valid until Close.
func (m *MappedFile) Bytes() []byte {
	if m.r == nil {
		return nil
	}
	return m.r.Bytes()
}

// Size returns the file's length.
func (m *MappedFile) Size() int64 { return int64(len(m.Bytes())) }

// Mode returns how the file is mapped (ModeEmulated for an empty file).
func (m *MappedFile) Mode() Mode {
	if m.r == nil {
		return ModeEmulated
	}
	return m.r.Mode()
}

// Close unmaps the file.
func (m *MappedFile) Close() error {
	if m.r == nil {
		return nil
	}
	err := m.r.Close()
	m.r = nil
	return err
}
