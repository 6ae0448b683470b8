package records

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) and say which namespace, name, id or file they concern.
var (
	ErrNotFound = errors.New("records: not found")
	ErrExists   = errors.New("records: already exists")
	ErrInvalid  = errors.New("records: invalid argument")
	ErrClosed   = errors.New("records: store closed")
	ErrCorrupt  = errors.New("records: data damaged")
	ErrLocked   = errors.New("records: directory in use by another process")
	// ErrPoisoned: an fsync of the activation log failed, so what reached
	// the disk is unknown; appends fail until the store is reopened, which
	// recovers what is there.
	ErrPoisoned = errors.New("records: activation log failed to sync; close and reopen the store")
)

// CorruptError reports damage found in a file of the store.
// errors.Is(err, ErrCorrupt) holds.
type CorruptError struct {
	Path   string // the damaged file
	Offset int64  // byte offset of the damaged structure
	What   string // "activation segment", "action file"
	Reason string // what was wrong
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s %s at offset %d: %s (move the file aside, e.g. mv %s %s.damaged, and open the store again: it starts without that file's contents)",
		ErrCorrupt, e.What, e.Path, e.Offset, e.Reason, e.Path, e.Path)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// advice says what to do about an I/O error, or "" when there is nothing
// better to say than the error itself.
func advice(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the disk is full: free space there or lower Options.MaxBytes"
	case errors.Is(err, syscall.EROFS):
		return "the file system is mounted read-only"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "check the owner and permissions of the store's directory"
	case errors.Is(err, syscall.EIO):
		return "the disk reported an I/O error: check it (dmesg)"
	}
	return ""
}

// ioError wraps an I/O error with what the store was doing and, when
// known, what to do about it.
func ioError(doing string, err error) error {
	if a := advice(err); a != "" {
		return fmt.Errorf("records: %s: %w (%s)", doing, err, a)
	}
	return fmt.Errorf("records: %s: %w", doing, err)
}
