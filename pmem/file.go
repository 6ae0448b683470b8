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
// A file is written under a hidden temporary name with write(2), fsynced and
// then renamed into place (and its directory fsynced), so a reader or a
// crash sees either no file or the whole committed file, never a prefix.
//
// Writes go through the kernel rather than a mapping because a file written
// once gains nothing from one and pays for it: mapping fresh pages costs a
// page fault per 4 KiB page and unmapping them a TLB shootdown, which in a
// virtual machine made a mapped write several times slower than write(2).
// On a DAX filesystem the kernel's write path is itself a PMEM write path
// (non-temporal copies and cache flushes straight into persistent memory,
// no page cache), and the fsync at Commit makes the block allocations
// durable, as MAP_SYNC's page faults would have; in emulated mode the fsync
// is the disk's, as msync would have been. Readers still map (MapFile): that
// is where zero copy pays.

// FileOptions configure CreateFile.
type FileOptions struct {
	// Mode is the mode the file must be in: ModeFSDax fails with an error
	// wrapping ErrNotDAX unless the file's filesystem is DAX (MAP_SYNC is
	// accepted), ModeDevDax always fails (a device is not a file), and
	// ModeAuto and ModeEmulated take the filesystem as it is. Persistence
	// is the same write-and-fsync in every mode (see above).
	Mode Mode
	// SizeHint is the expected length. It sizes the writer's buffer (at
	// most fileBufSize); the file grows as it is written.
	SizeHint int64
	// MaxSize bounds the file's length (0: no bound but the filesystem).
	// A write past it fails with an error wrapping ErrTooLarge.
	MaxSize int64
	// Overwrite lets Commit replace an existing file of the same name.
	// Without it Commit fails with an error wrapping ErrExist.
	Overwrite bool
}

// filePerm is the permission of the files CreateFile makes.
const filePerm = 0o600

// fileBufSize is how many bytes FileWriter gathers before one write(2), so
// that small writes do not each cost a system call. Larger writes go to the
// file directly.
const fileBufSize = 64 << 10

// FileWriter writes one new named file. It is not safe for concurrent use.
// Call Commit to publish the file or Abort to drop it; until Commit returns
// nil nothing is visible under the file's name.
type FileWriter struct {
	path string // final name
	tmp  string // hidden name while writing
	opts FileOptions
	f    *os.File // the temporary, open for writing; nil once closed
	n    int64    // bytes written to the file
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
	if err := checkFileMode(path, opts.Mode); err != nil {
		return nil, err
	}
	if err := filesSupported(path); err != nil {
		return nil, err
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
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, fmt.Errorf("pmem: create file %s: %w", path, err)
	}
	if opts.Mode == ModeFSDax {
		if err := requireDAX(f); err != nil {
			f.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("pmem: create file %s: %w", path, err)
		}
	}
	bufSize := int64(fileBufSize)
	if opts.SizeHint > 0 {
		bufSize = min(bufSize, opts.SizeHint)
	}
	return &FileWriter{path: path, tmp: tmp, opts: opts, f: f, buf: make([]byte, 0, bufSize)}, nil
}

// checkFileMode rejects the modes a named file cannot be written in.
func checkFileMode(path string, m Mode) error {
	switch m {
	case ModeAuto, ModeFSDax, ModeEmulated:
		return nil
	case ModeDevDax:
		return fmt.Errorf("%w: create file %s: device-DAX namespaces hold no files; use --pmem fsdax or emulated", ErrNotDAX, path)
	}
	return fmt.Errorf("%w: create file %s: mode %v (want auto, fsdax or emulated)", ErrInvalid, path, m)
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
		if len(w.buf) == 0 && len(p) >= cap(w.buf) {
			// Large writes go straight to the file.
			if err := w.writeOut(p); err != nil {
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
	if cap(w.buf) < fileBufSize && len(w.buf) == 0 {
		w.buf = make([]byte, 0, fileBufSize) // the size hint was small; the reader may not be
	}
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

// drain writes the buffered bytes to the file.
func (w *FileWriter) drain() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.writeOut(w.buf)
	w.buf = w.buf[:0]
	return err
}

// writeOut writes p at the end of the file.
func (w *FileWriter) writeOut(p []byte) error {
	k, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("pmem: write file %s (%d bytes at offset %d): %w", w.path, len(p), w.n, err)
	}
	w.n += int64(k)
	return w.err
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
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("pmem: commit file %s: fsync: %w", w.path, err)
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("pmem: commit file %s: %w", w.path, err)
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
	if w.f != nil {
		errs = append(errs, w.f.Close())
		w.f = nil
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
