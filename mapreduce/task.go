package mapreduce

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// Phase is the phase a task belongs to.
type Phase string

// Phases.
const (
	PhaseMap    Phase = "map"
	PhaseReduce Phase = "reduce"
)

// MaxTasks bounds the map tasks and the reducers of a job: task numbers
// are 0..MaxTasks-1, written with five digits in keys and file names.
const MaxTasks = 100000

// Task is the parameters of one attempt of a map or reduce task: the JSON
// the driver sends to the workload's action.
//
//	{"job":"wc-1a2b","phase":"map","task":3,"attempt":1,"workload":"wordcount",
//	 "input":{"path":"in/corpus.txt","offset":0,"length":1048576},"reducers":4,
//	 "shuffle":{"kind":"pmem","dir":"/data/fs/guest/.shuffle"},"args":{}}
//
//	{"job":"wc-1a2b","phase":"reduce","task":2,"attempt":1,"workload":"wordcount",
//	 "inputs":["wc-1a2b/m00000-a1/r00002","wc-1a2b/m00001-a2/r00002"],
//	 "output":"out/wc/_temporary/r00002-a1/part-r-00002",
//	 "shuffle":{"kind":"pmem","dir":"/data/fs/guest/.shuffle"}}
type Task struct {
	// Job names the job; it is the first component of every shuffle key,
	// so it is made of [A-Za-z0-9._-] and does not start with a dot.
	Job   string `json:"job"`
	Phase Phase  `json:"phase"`
	// Task is the task's number within its phase, 0..MaxTasks-1.
	Task int `json:"task"`
	// Attempt numbers the task's attempts from 1. Each attempt writes
	// under its own names, so a retry never mixes with a failed attempt.
	Attempt int `json:"attempt"`
	// Workload is "wordcount", "grep" or "sort".
	Workload string `json:"workload"`
	// Shuffle is the store map tasks write to and reduce tasks read from.
	Shuffle shuffle.Config `json:"shuffle"`
	// Args are the workload's arguments (GrepArgs, SortArgs); wordcount
	// takes none. Reduce tasks ignore them.
	Args json.RawMessage `json:"args,omitempty"`

	// Map tasks: the byte range of the input file to read, and the number
	// of reduce tasks (partitions to write).
	Input    *Split `json:"input,omitempty"`
	Reducers int    `json:"reducers,omitempty"`

	// Reduce tasks: the shuffle keys to read (one per map task: the
	// partition of the successful attempt) and the file to write.
	Inputs []string `json:"inputs,omitempty"`
	Output string   `json:"output,omitempty"`

	// Fail is a test hook (see Fail); nil in real jobs.
	Fail *Fail `json:"fail,omitempty"`
}

// Split is a byte range [Offset, Offset+Length) of an input file. Path is
// relative to the namespace's files directory.
type Split struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

// Fail is a test hook for the driver's retry tests: when the task's
// Attempt equals Attempt, the task writes part of its output (the first
// half of its partitions, or the first half of its output file's first
// chunk, uncommitted) and then, by How:
//
//   - "exit": the process exits with status 3 (the activation fails as a
//     crashed action);
//   - "error": the task returns an error wrapping ErrInjected;
//   - "hang": the task waits until its context is done (the activation's
//     deadline), then returns an error.
//
// Other attempts of the task run normally. The hook only makes a task
// fail; it cannot make one succeed wrongly, so it is harmless in real jobs.
type Fail struct {
	Attempt int    `json:"attempt"`
	How     string `json:"how"`
}

// Ways a Fail hook fails.
const (
	FailExit  = "exit"
	FailError = "error"
	FailHang  = "hang"
)

// FailExitCode is the exit status of a process ended by the "exit" hook.
const FailExitCode = 3

// MapResult is what a map task returns.
type MapResult struct {
	Task    int `json:"task"`
	Attempt int `json:"attempt"`
	// Keys are the shuffle keys written, one per reducer, in reducer
	// order; Bytes their lengths.
	Keys  []string `json:"keys"`
	Bytes []int64  `json:"bytes"`
	// RecordsIn counts the lines (text) or records (sort) read; BytesIn the
	// bytes they span, which for text differs from the split's length.
	RecordsIn int64 `json:"records_in"`
	BytesIn   int64 `json:"bytes_in"`
	// RecordsOut counts the entries written over all partitions (distinct
	// keys after combining, or records).
	RecordsOut int64      `json:"records_out"`
	Timings    MapTimings `json:"timings_ms"`
}

// MapTimings are a map task's phases in milliseconds.
type MapTimings struct {
	Read         float64 `json:"read"`          // open and map the input
	Compute      float64 `json:"compute"`       // map, combine, partition, sort, encode
	ShuffleWrite float64 `json:"shuffle_write"` // Put every partition
}

// ReduceResult is what a reduce task returns.
type ReduceResult struct {
	Task    int    `json:"task"`
	Attempt int    `json:"attempt"`
	Output  string `json:"output"` // the file written (Task.Output)
	// BytesIn and RecordsIn measure the shuffle input; BytesOut and
	// RecordsOut the output file (lines, or records for sort).
	BytesIn    int64         `json:"bytes_in"`
	RecordsIn  int64         `json:"records_in"`
	BytesOut   int64         `json:"bytes_out"`
	RecordsOut int64         `json:"records_out"`
	Timings    ReduceTimings `json:"timings_ms"`
}

// ReduceTimings are a reduce task's phases in milliseconds.
type ReduceTimings struct {
	ShuffleRead float64 `json:"shuffle_read"` // Get every input
	Compute     float64 `json:"compute"`      // decode, aggregate or merge
	Write       float64 `json:"write"`        // write and commit the output file
}

// Validate reports every problem of t at once, each wrapping ErrInvalid.
// It checks the workload's arguments too.
func (t *Task) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if err := checkJob(t.Job); err != nil {
		errs = append(errs, err)
	}
	if t.Task < 0 || t.Task >= MaxTasks {
		bad("task %d: want 0..%d", t.Task, MaxTasks-1)
	}
	if t.Attempt < 1 {
		bad("attempt %d: attempts count from 1", t.Attempt)
	}
	w, werr := lookupWorkload(t.Workload)
	if werr != nil {
		errs = append(errs, werr)
	}
	if err := t.Shuffle.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: shuffle: %w", ErrInvalid, err))
	}
	switch t.Phase {
	case PhaseMap:
		if t.Input == nil {
			bad("map task without input")
		} else {
			if err := checkPath("input path", t.Input.Path); err != nil {
				errs = append(errs, err)
			}
			if t.Input.Offset < 0 || t.Input.Length < 0 {
				bad("input range offset %d length %d: want both >= 0", t.Input.Offset, t.Input.Length)
			}
		}
		if t.Reducers < 1 || t.Reducers > MaxTasks {
			bad("reducers %d: want 1..%d", t.Reducers, MaxTasks)
		}
		if len(t.Inputs) > 0 || t.Output != "" {
			bad("a map task takes input and reducers, not inputs and output")
		}
		if werr == nil && t.Reducers >= 1 && t.Reducers <= MaxTasks {
			if _, err := w.newMapper(t.Args, t.Reducers); err != nil {
				errs = append(errs, err)
			}
		}
	case PhaseReduce:
		for i, k := range t.Inputs {
			if err := shuffle.ValidKey(k); err != nil {
				bad("inputs[%d]: %v", i, err)
			}
		}
		if err := checkPath("output path", t.Output); err != nil {
			errs = append(errs, err)
		}
		if t.Input != nil || t.Reducers != 0 {
			bad("a reduce task takes inputs and output, not input and reducers")
		}
	default:
		bad("phase %q: want %q or %q", t.Phase, PhaseMap, PhaseReduce)
	}
	if t.Fail != nil {
		switch t.Fail.How {
		case FailExit, FailError, FailHang:
		default:
			bad("fail.how %q: want %q, %q or %q", t.Fail.How, FailExit, FailError, FailHang)
		}
		if t.Fail.Attempt < 1 {
			bad("fail.attempt %d: attempts count from 1", t.Fail.Attempt)
		}
	}
	return errors.Join(errs...)
}

// failing returns how this attempt is to fail, or "".
func (t *Task) failing() string {
	if t.Fail != nil && t.Fail.Attempt == t.Attempt {
		return t.Fail.How
	}
	return ""
}

// checkJob checks a job name: one shuffle key component.
func checkJob(job string) error {
	if job == "" || strings.Contains(job, "/") {
		return fmt.Errorf("%w: job %q: want one component of [A-Za-z0-9._-], not starting with a dot", ErrInvalid, job)
	}
	if err := shuffle.ValidKey(job); err != nil {
		return fmt.Errorf("%w: job: %w", ErrInvalid, err)
	}
	return nil
}

// checkPath checks a file name relative to the namespace's files
// directory: slash-separated, not absolute, no empty, "." or ".."
// components, none starting with a dot (the files' hidden temporaries).
func checkPath(what, p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: %s %q is absolute; give it relative to the namespace's files directory", ErrInvalid, what, p)
	case strings.ContainsAny(p, "\\\x00"):
		return fmt.Errorf("%w: %s %q holds a backslash or NUL", ErrInvalid, what, p)
	case path.Clean(p) != p:
		return fmt.Errorf("%w: %s %q is not a clean path (empty, \".\" or \"..\" components, or a trailing slash)", ErrInvalid, what, p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." || strings.HasPrefix(c, ".") {
			return fmt.Errorf("%w: %s %q has component %q (components may not be \"..\" or start with a dot)", ErrInvalid, what, p, c)
		}
	}
	return nil
}
