package archive

import (
	"errors"
	"fmt"
)

// Limits bounds what one payload may unpack to. A zero field takes its
// default from DefaultLimits; a negative field is invalid.
type Limits struct {
	// MaxFiles bounds the entries read from the archive and, separately,
	// the files and directories created (parent directories that the
	// archive implies without listing count too). Default 10000.
	MaxFiles int
	// MaxFileBytes bounds the uncompressed bytes of one entry, counted as
	// they are decompressed. Default 256 MiB.
	MaxFileBytes int64
	// MaxTotalBytes bounds the uncompressed bytes of all entries together.
	// Default 512 MiB.
	MaxTotalBytes int64
	// MaxNameBytes bounds the length of an entry name. Default 1024.
	MaxNameBytes int
	// MaxDepth bounds the path components of an entry name. Default 64.
	MaxDepth int
}

// DefaultLimits returns the default Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxFiles:      10000,
		MaxFileBytes:  256 << 20,
		MaxTotalBytes: 512 << 20,
		MaxNameBytes:  1024,
		MaxDepth:      64,
	}
}

// Validate reports every invalid field at once; each error wraps ErrInvalid.
func (l *Limits) Validate() error {
	var errs []error
	if l.MaxFiles < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxFiles %d is negative (0 means the default %d)", ErrInvalid, l.MaxFiles, DefaultLimits().MaxFiles))
	}
	if l.MaxFileBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxFileBytes %d is negative (0 means the default %d)", ErrInvalid, l.MaxFileBytes, DefaultLimits().MaxFileBytes))
	}
	if l.MaxTotalBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxTotalBytes %d is negative (0 means the default %d)", ErrInvalid, l.MaxTotalBytes, DefaultLimits().MaxTotalBytes))
	}
	if l.MaxNameBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxNameBytes %d is negative (0 means the default %d)", ErrInvalid, l.MaxNameBytes, DefaultLimits().MaxNameBytes))
	}
	if l.MaxDepth < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxDepth %d is negative (0 means the default %d)", ErrInvalid, l.MaxDepth, DefaultLimits().MaxDepth))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFiles == 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxNameBytes == 0 {
		l.MaxNameBytes = d.MaxNameBytes
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}
