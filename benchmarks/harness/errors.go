package harness

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies (test with errors.Is) and say which run, store or option they
// concern.
var (
	// ErrInvalidOptions: Options.Validate found a problem.
	ErrInvalidOptions = errors.New("harness: invalid options")
	// ErrOutputMismatch: a run's output differs from the first store's
	// output of the same workload, or a sort output is not its input
	// sorted. The stores do not compute the same job: a bug, not noise.
	ErrOutputMismatch = errors.New("harness: outputs differ across stores")
	// ErrNoRoom: the data directory cannot hold the inputs, the shuffle
	// and the output of the largest job.
	ErrNoRoom = errors.New("harness: not enough room")
)
