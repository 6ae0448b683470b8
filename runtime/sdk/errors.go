package sdk

import "errors"

var (
	// ErrNotFound is returned for a key or file that does not exist.
	ErrNotFound = errors.New("sdk: not found")
	// ErrNoRegion: the process was started without a region (not under the
	// Marvel runtime, or the runtime was initialised without the action's
	// namespace and name).
	ErrNoRegion = errors.New("sdk: no persistent region for this action")
	// ErrNoFiles: the process was started without a files directory.
	ErrNoFiles = errors.New("sdk: no files directory for this action")
	// ErrBadName: a file name that is not a clean relative path.
	ErrBadName = errors.New("sdk: invalid file name")
	// ErrSignature: Serve was given a function of an unsupported shape.
	ErrSignature = errors.New("sdk: unsupported Main signature")
)
