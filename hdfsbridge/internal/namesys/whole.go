package namesys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// Whole-file reads and writes, for WebHDFS and tools: the same leases and
// rules as the block protocol, in one call.

func internalHolder(what string) string {
	var b [8]byte
	rand.Read(b[:])
	return "marvel-" + what + "-" + hex.EncodeToString(b[:])
}

// WriteFile creates p (o.Holder is ignored) with r's bytes and closes it.
// If r fails, the new file is removed and the error returned.
func (fs *FS) WriteFile(u User, p Path, o CreateOptions, r io.Reader) (*FileStatus, error) {
	o.Holder = internalHolder("create")
	st, err := fs.Create(u, p, o)
	if err != nil {
		return nil, err
	}
	of := fs.openOf(st.FileID)
	if of == nil {
		return nil, newErr(ClassIO, "create %s: the file was removed while it was being written", p)
	}
	if _, err := fs.copyIn(of, 0, r); err != nil {
		fs.mu.Lock()
		if of2 := fs.openOf(st.FileID); of2 == of {
			fs.dropOpen(of.ino)
			fs.removeIfIno(p, of.ino)
		}
		fs.mu.Unlock()
		return nil, err
	}
	if _, err := fs.Complete(u, p, of.holder, of.ino, nil); err != nil {
		return nil, err
	}
	return fs.Stat(u, p)
}

// AppendFile appends r's bytes to p. If r fails, p is cut back to its old
// length.
func (fs *FS) AppendFile(u User, p Path, r io.Reader) error {
	holder := internalHolder("append")
	st, _, err := fs.Append(u, p, holder)
	if err != nil {
		return err
	}
	of := fs.openOf(st.FileID)
	if of == nil {
		return newErr(ClassIO, "append %s: the file was removed while it was being written", p)
	}
	if _, err := fs.copyIn(of, st.Length, r); err != nil {
		of.mu.Lock()
		if !of.closed.Load() {
			unix.Ftruncate(of.fd, st.Length)
		}
		of.mu.Unlock()
		fs.mu.Lock()
		ferr := fs.finish(of, false)
		fs.mu.Unlock()
		return errors.Join(err, ferr)
	}
	_, err = fs.Complete(u, p, holder, of.ino, nil)
	return err
}

func (fs *FS) copyIn(of *openFile, off int64, r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	start := off
	renewed := time.Now()
	for {
		// The writer is this call: keep its lease alive while the body
		// arrives, however slowly.
		if time.Since(renewed) > time.Second {
			fs.RenewLease(of.holder)
			renewed = time.Now()
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			of.mu.Lock()
			if of.closed.Load() {
				of.mu.Unlock()
				return off - start, newErr(ClassLeaseExpired, "%s: the file was closed while it was written", fs.where(of))
			}
			_, err := unix.Pwrite(of.fd, buf[:n], off)
			of.mu.Unlock()
			if err != nil {
				return off - start, ioErr("write", fs.where(of).String(), err)
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			return off - start, nil
		}
		if rerr != nil {
			return off - start, &Error{Class: ClassIO, Err: rerr, Msg: "write " + fs.where(of).String() + ": reading the data failed: " + rerr.Error()}
		}
	}
}

func (fs *FS) removeIfIno(p Path, ino uint64) {
	w, err := fs.walk(p)
	if err != nil {
		return
	}
	defer w.close()
	if w.exists() && w.target().ino() == ino {
		if dir := w.parent(); dir != nil {
			unix.Unlinkat(dir.fd, p.Name(), 0)
		}
	}
}

// FileView is a whole file mapped for reading.
type FileView struct {
	Data []byte
	m    []byte
}

// Close unmaps the file.
func (v *FileView) Close() error {
	if v.m == nil {
		return nil
	}
	m := v.m
	v.m, v.Data = nil, nil
	return unix.Munmap(m)
}

// OpenFile maps file p for reading; it needs READ on p.
func (fs *FS) OpenFile(u User, p Path) (*FileView, error) {
	w, err := fs.target(u, p)
	if err != nil {
		return nil, err
	}
	defer w.close()
	t := w.target()
	if t.isDir() {
		return nil, newErr(ClassFileNotFound, "Path is not a file: %s", p)
	}
	if err := fs.check(u, t, p.String(), accR); err != nil {
		return nil, err
	}
	fd, err := unix.Open(procPath(t.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, ioErr("open", p.String(), err)
	}
	defer unix.Close(fd)
	size, err := fileSize(fd)
	if err != nil {
		return nil, ioErr("open", p.String(), err)
	}
	if size == 0 {
		return &FileView{}, nil
	}
	m, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, ioErr("map", p.String(), err)
	}
	return &FileView{Data: m, m: m}, nil
}
