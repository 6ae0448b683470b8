package mapreduce

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies (test with errors.Is) and say which task, key or file they
// concern.
var (
	// ErrInvalid: a task's parameters, a workload's arguments or a
	// function's argument are wrong. Retrying the same task cannot help.
	ErrInvalid = errors.New("mapreduce: invalid argument")
	// ErrInputMissing: a reduce task's shuffle input is not in the store
	// (the map attempt that wrote it is gone, or never finished). Run the
	// map tasks named by the *InputError again.
	ErrInputMissing = errors.New("mapreduce: shuffle input missing")
	// ErrCorrupt: a shuffle partition is not well formed (it wraps the
	// decoder's partition error, with the offset). Run the map tasks named
	// by the *InputError again.
	ErrCorrupt = errors.New("mapreduce: shuffle input corrupt")
	// ErrBadInput: the job's input file does not fit the workload (a sort
	// input whose length is not a whole number of records).
	ErrBadInput = errors.New("mapreduce: bad input file")
	// ErrInjected: the task's "fail" test hook made this attempt fail.
	ErrInjected = errors.New("mapreduce: injected failure (test hook)")
	// ErrNotSorted: ValidateSort found the output out of order, or its
	// records differ from the input's.
	ErrNotSorted = errors.New("mapreduce: sort output invalid")
)

// InputError is a reduce task's failure to read some of its shuffle inputs:
// errors.Is(err, ErrInputMissing) or errors.Is(err, ErrCorrupt) holds.
// Keys are the inputs concerned; their map attempts must be run again.
type InputError struct {
	Reason error    // ErrInputMissing or ErrCorrupt
	Keys   []string // the shuffle keys that could not be read
	Err    error    // the first underlying error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%v: %d input(s) %q: %v", e.Reason, len(e.Keys), e.Keys, e.Err)
}

// Unwrap returns the reason and the underlying error.
func (e *InputError) Unwrap() []error { return []error{e.Reason, e.Err} }

// Reasons are the values of the "reason" field of a failed task's result,
// which is how the driver tells failures apart once they have crossed the
// action boundary as JSON.
const (
	ReasonInvalid      = "invalid"       // ErrInvalid: do not retry
	ReasonInputMissing = "input_missing" // ErrInputMissing: rerun the maps of "keys"
	ReasonCorruptInput = "corrupt_input" // ErrCorrupt: rerun the maps of "keys"
	ReasonBadInput     = "bad_input"     // ErrBadInput: do not retry
	ReasonInjected     = "injected"      // ErrInjected: the test hook
	ReasonFailed       = "failed"        // anything else: retry the task
)

// reasons maps sentinel errors to the reason reported for them, in order of
// precedence.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrInvalid, ReasonInvalid},
	{ErrInputMissing, ReasonInputMissing},
	{ErrCorrupt, ReasonCorruptInput},
	{ErrBadInput, ReasonBadInput},
	{ErrInjected, ReasonInjected},
}

// Reason classifies err for a task's result: one of the Reason constants.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonFailed
}
