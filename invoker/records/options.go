package records

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
)

// Options configure a Store. Zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// MaxActivations bounds the activation records kept; the oldest
	// appended are dropped first. Default 100000.
	MaxActivations int
	// MaxBytes bounds the bytes of activation segments kept; whole oldest
	// segments are dropped, never the one being written. Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment is started. Default
	// 64 MiB; minimum 4 KiB.
	SegmentBytes int64
	// MaxRecordBytes bounds one activation record as stored (JSON plus a
	// 32-byte frame); larger ones are refused with ErrInvalid. Default
	// 32 MiB; at most 1 GiB.
	MaxRecordBytes int
	// Logger receives structured logs (recovery, retention, failures); nil
	// is silent.
	Logger *slog.Logger
}

// Minimum and maximum settings.
const (
	MinSegmentBytes   = 4 << 10
	MinMaxRecordBytes = 1 << 10
)

// DefaultOptions returns a fresh Options with every default filled in.
func DefaultOptions() Options {
	return Options{
		MaxActivations: 100_000,
		MaxBytes:       1 << 30,
		SegmentBytes:   64 << 20,
		MaxRecordBytes: 32 << 20,
	}
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.MaxActivations < 0 {
		errs = append(errs, fmt.Errorf("%w: negative MaxActivations %d", ErrInvalid, o.MaxActivations))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: negative MaxBytes %d", ErrInvalid, o.MaxBytes))
	}
	if o.SegmentBytes < 0 || (o.SegmentBytes != 0 && o.SegmentBytes < MinSegmentBytes) {
		errs = append(errs, fmt.Errorf("%w: SegmentBytes %d below the minimum %d", ErrInvalid, o.SegmentBytes, MinSegmentBytes))
	}
	if o.MaxRecordBytes < 0 || (o.MaxRecordBytes != 0 && o.MaxRecordBytes < MinMaxRecordBytes) {
		errs = append(errs, fmt.Errorf("%w: MaxRecordBytes %d below the minimum %d", ErrInvalid, o.MaxRecordBytes, MinMaxRecordBytes))
	}
	if o.MaxRecordBytes > format.MaxPayload {
		errs = append(errs, fmt.Errorf("%w: MaxRecordBytes %d above the format limit %d", ErrInvalid, o.MaxRecordBytes, format.MaxPayload))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxActivations == 0 {
		o.MaxActivations = d.MaxActivations
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = d.SegmentBytes
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = d.MaxRecordBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
