package shuffle

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies (test with errors.Is) and name the store, the key and what to
// do about it.
var (
	// ErrNotFound: the key holds no value.
	ErrNotFound = errors.New("shuffle: key not found")
	// ErrInvalidKey: the key (or prefix) is not a valid key; see ValidKey.
	ErrInvalidKey = errors.New("shuffle: invalid key")
	// ErrInvalidConfig: Config.Validate found a problem.
	ErrInvalidConfig = errors.New("shuffle: invalid config")
	// ErrTooLarge: the value is longer than MaxValueSize.
	ErrTooLarge = errors.New("shuffle: value too large")
	// ErrConflict: in a file-backed store (pmem, disk) a key is a file and
	// its prefixes are directories, so "a/b" and "a/b/c" cannot both exist.
	ErrConflict = errors.New("shuffle: key conflicts with another key")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("shuffle: store closed")
)
