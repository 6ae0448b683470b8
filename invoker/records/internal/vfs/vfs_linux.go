package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// dataSync is fdatasync: the data and the size, not the times.
func dataSync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// lockFile takes an exclusive flock without waiting; a held lock gives
// unix.EWOULDBLOCK.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}
