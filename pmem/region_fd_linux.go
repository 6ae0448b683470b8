//go:build linux

package pmem

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OpenRegionFile maps the region behind an already open file f, typically
// one inherited from a parent process (the Marvel runtime opens a function's
// region and hands the descriptor to the action process, which then needs no
// access to the namespace directory). The descriptor is duplicated, so f stays
// the caller's to close. The lock rules of OpenRegion apply to the open file
// description: a parent holding the exclusive lock on the same description
// does not block the child, while any other open of the file does.
// f must have been opened read-write unless opts.ReadOnly.
func OpenRegionFile(f *os.File, opts RegionOptions) (*Region, error) {
	if err := checkMode(f.Name(), opts.Mode); err != nil {
		return nil, err
	}
	name := f.Name()
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pmem: open region %s from descriptor: %w", name, err)
	}
	fd := -1
	var dupErr error
	if err := sc.Control(func(raw uintptr) {
		fd, dupErr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("pmem: open region %s from descriptor: %w", name, err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("pmem: open region %s: duplicate descriptor: %w", name, dupErr)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pmem: open region %s: read descriptor flags: %w", name, err)
	}
	if !opts.ReadOnly && fl&unix.O_ACCMODE != unix.O_RDWR {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: region %s: the descriptor was not opened read-write; open it with O_RDWR or map it read-only",
			ErrInvalid, name)
	}
	if err := lockFd(fd, name, opts.ReadOnly); err != nil {
		unix.Close(fd)
		return nil, err
	}
	r, err := mapFd(fd, name, opts, opts.logger())
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

// LockFile takes the exclusive lock a read-write open of a region takes, on
// an open file the caller keeps (see OpenRegionFile). It fails with ErrLocked
// if another open file description holds it.
func LockFile(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("pmem: lock %s: %w", f.Name(), err)
	}
	var lockErr error
	if err := sc.Control(func(raw uintptr) { lockErr = lockFd(int(raw), f.Name(), false) }); err != nil {
		return fmt.Errorf("pmem: lock %s: %w", f.Name(), err)
	}
	return lockErr
}
