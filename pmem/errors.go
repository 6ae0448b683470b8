package pmem

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) and add the file, offset or sizes involved.
var (
	ErrClosed       = errors.New("pmem: region closed")
	ErrNotDAX       = errors.New("pmem: not a DAX mapping")
	ErrCorrupt      = errors.New("pmem: region corrupt")
	ErrTruncated    = errors.New("pmem: region file truncated")
	ErrVersion      = errors.New("pmem: unsupported format version")
	ErrNotFound     = errors.New("pmem: key not found")
	ErrExist        = errors.New("pmem: region already exists")
	ErrNotExist     = errors.New("pmem: region does not exist")
	ErrFull         = errors.New("pmem: region full")
	ErrNoCapacity   = errors.New("pmem: out of capacity")
	ErrCannotGrow   = errors.New("pmem: region cannot grow")
	ErrPoisoned     = errors.New("pmem: store failed a persistence operation; reopen it")
	ErrLeaseExpired = errors.New("pmem: lease expired")
	ErrInvalid      = errors.New("pmem: invalid argument")
	ErrTooLarge     = errors.New("pmem: value too large")
	ErrLocked       = errors.New("pmem: region in use by another process")
	ErrReadOnly     = errors.New("pmem: region opened read-only")
)

// CorruptError reports damage found at a byte offset of a region file.
// errors.Is(err, ErrCorrupt) (or ErrTruncated/ErrVersion, per Kind) holds.
type CorruptError struct {
	Path   string // file or device ("" for in-memory media)
	Offset int64  // byte offset of the damaged structure
	What   string // which structure: "superblock", "root 0", "record", ...
	Reason string // what was wrong
	Kind   error  // ErrCorrupt, ErrTruncated or ErrVersion
}

func (e *CorruptError) Error() string {
	p := e.Path
	if p == "" {
		p = "<memory>"
	}
	return fmt.Sprintf("%v: %s at offset %d of %s: %s (run `marvel pmem check` on the namespace; restore the region from a copy or delete it)",
		e.Kind, e.What, e.Offset, p, e.Reason)
}

func (e *CorruptError) Unwrap() error { return e.Kind }

// CapacityError is returned when a grant or growth asks for more than is free.
// errors.Is(err, ErrNoCapacity) holds.
type CapacityError struct {
	Asked int64 // bytes asked for
	Free  int64 // bytes free in the pool at the time
	Total int64 // the pool's budget
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("%v: asked for %d bytes, %d of %d free (release or let leases of other regions expire, or raise the pool capacity)",
		ErrNoCapacity, e.Asked, e.Free, e.Total)
}

func (e *CapacityError) Unwrap() error { return ErrNoCapacity }
