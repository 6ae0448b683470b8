package pmem

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Options configure opening or creating a region and its store.
type Options struct {
	// Mode forces a mapping mode; ModeAuto (the default) detects devdax,
	// then fsdax, then emulated.
	Mode Mode
	// ReadOnly maps the region read-only under a shared lock; writes fail with
	// ErrReadOnly. Used by `marvel pmem info|check`.
	ReadOnly bool
	// InitialSize is the size of a new region. Default 1 MiB; minimum 64 KiB.
	InitialSize int64
	// MaxSize bounds growth (0: no bound but the filesystem). A capacity pool
	// sets it to the granted size.
	MaxSize int64
	// Owner is recorded in the superblock of a new region (at most 62 bytes),
	// e.g. "fn:guest/counter" or "job:1234".
	Owner string
	// Pinned marks a new region as exempt from lease reclamation.
	Pinned bool
	// NTThreshold is the value size from which values are written with
	// non-temporal copies. Default 4 KiB.
	NTThreshold int
	// VerifyOnOpen checks every value checksum while recovering (the default
	// checks record headers and keys; values are checked when read).
	VerifyOnOpen bool
	// SysfsRoot is where devdax attributes are read. Default "/sys".
	SysfsRoot string
	// Logger receives structured logs; nil is silent.
	Logger *slog.Logger
}

// DefaultOptions returns a fresh Options with every default filled in.
func DefaultOptions() Options {
	return Options{
		InitialSize: 1 << 20,
		NTThreshold: 4 << 10,
		SysfsRoot:   "/sys",
	}
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Mode < ModeAuto || o.Mode > ModeEmulated {
		errs = append(errs, fmt.Errorf("%w: mode %v cannot be requested", ErrInvalid, o.Mode))
	}
	if o.InitialSize != 0 && o.InitialSize < layout.MinSize {
		errs = append(errs, fmt.Errorf("%w: initial size %d below the minimum %d", ErrInvalid, o.InitialSize, layout.MinSize))
	}
	if o.MaxSize < 0 || (o.MaxSize != 0 && o.MaxSize < layout.MinSize) {
		errs = append(errs, fmt.Errorf("%w: max size %d below the minimum %d", ErrInvalid, o.MaxSize, layout.MinSize))
	}
	if o.MaxSize != 0 && o.InitialSize > o.MaxSize {
		errs = append(errs, fmt.Errorf("%w: initial size %d above max size %d", ErrInvalid, o.InitialSize, o.MaxSize))
	}
	if len(o.Owner) > layout.OwnerMax {
		errs = append(errs, fmt.Errorf("%w: owner %q longer than %d bytes", ErrInvalid, o.Owner, layout.OwnerMax))
	}
	if o.NTThreshold < 0 {
		errs = append(errs, fmt.Errorf("%w: negative NT threshold %d", ErrInvalid, o.NTThreshold))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.InitialSize == 0 {
		o.InitialSize = d.InitialSize
		if o.MaxSize != 0 && o.InitialSize > o.MaxSize {
			o.InitialSize = o.MaxSize
		}
	}
	if o.NTThreshold == 0 {
		o.NTThreshold = d.NTThreshold
	}
	if o.SysfsRoot == "" {
		o.SysfsRoot = d.SysfsRoot
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
