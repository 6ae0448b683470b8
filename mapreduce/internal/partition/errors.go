package partition

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrCorrupt: the bytes are not a well-formed partition.
	ErrCorrupt = errors.New("partition: corrupt")
	// ErrOrder: a Builder was given an entry out of order, a zero count, or
	// a record of the wrong size.
	ErrOrder = errors.New("partition: entry out of order")
)

// CorruptError says what is wrong with a partition and where.
// errors.Is(err, ErrCorrupt) holds.
type CorruptError struct {
	Offset int64  // byte offset of the damaged structure
	Reason string // what was wrong
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", ErrCorrupt, e.Offset, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(off int, format string, args ...any) error {
	return &CorruptError{Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
}
