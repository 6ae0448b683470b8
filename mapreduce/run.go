package mapreduce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// Runner runs map and reduce tasks in the process of an action.
type Runner struct {
	// Files are the namespace's files: map tasks read their input and
	// reduce tasks write their output there. Required.
	Files *sdk.Files
	// OpenStore opens a task's shuffle store; default shuffle.Open. The
	// runner closes the store when the task ends, unless KeepStores.
	OpenStore func(ctx context.Context, c shuffle.Config) (shuffle.Store, error)
	// KeepStores keeps each store open after its task, for the next task
	// of the same configuration (a warm action's next activation); a store
	// is closed and reopened after a task fails for a reason other than
	// its parameters, its inputs or the test hook (a dropped connection,
	// say). Close closes the stores kept.
	KeepStores bool
	// Parallelism bounds the concurrent Puts of a map task and Gets of a
	// reduce task; default DefaultParallelism.
	Parallelism int
	// Exit ends the process for the "exit" failure hook; default os.Exit.
	// It is called for nothing else.
	Exit func(code int)
	// Logger receives one record per task; default: none.
	Logger *slog.Logger

	stores storeCache
}

// Close closes the shuffle stores kept open (KeepStores).
func (r *Runner) Close() error { return r.stores.closeAll() }

// DefaultParallelism is the default of Runner.Parallelism.
const DefaultParallelism = 4

// RunTask runs the task params (a Task as JSON) with the files under root
// (the namespace's files directory, sdk.OpenFiles().Root() in an action)
// and returns its MapResult or ReduceResult as JSON.
func RunTask(ctx context.Context, root string, params json.RawMessage) (json.RawMessage, error) {
	files, err := sdk.NewFiles(root, pmem.ModeAuto)
	if err != nil {
		return nil, err
	}
	return (&Runner{Files: files}).Run(ctx, params)
}

// Run decodes a Task from params, runs it and returns its result as JSON.
func (r *Runner) Run(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	t, err := DecodeTask(params)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, t)
}

// run runs t by its phase and returns its result as JSON.
func (r *Runner) run(ctx context.Context, t *Task) (json.RawMessage, error) {
	var res any
	var err error
	switch t.Phase {
	case PhaseMap:
		res, err = r.RunMap(ctx, t)
	default:
		res, err = r.RunReduce(ctx, t)
	}
	if err != nil {
		if r.KeepStores && Reason(err) == ReasonFailed {
			// The store may be what failed: the next task opens it afresh.
			r.stores.evict(t.Shuffle)
		}
		return nil, err
	}
	return json.Marshal(res)
}

// DecodeTask decodes a Task; unknown fields are ignored (OpenWhisk may add
// an action's default parameters).
func DecodeTask(params json.RawMessage) (*Task, error) {
	var t Task
	if err := json.Unmarshal(params, &t); err != nil {
		return nil, fmt.Errorf("%w: task parameters %s: %w", ErrInvalid, clipJSON(params), err)
	}
	return &t, nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runner) parallelism() int {
	if r.Parallelism > 0 {
		return r.Parallelism
	}
	return DefaultParallelism
}

func (r *Runner) openStore(ctx context.Context, c shuffle.Config) (shuffle.Store, error) {
	open := r.OpenStore
	if open == nil {
		open = shuffle.Open
	}
	var s shuffle.Store
	var err error
	if r.KeepStores {
		s, err = r.stores.open(ctx, c, open)
	} else {
		s, err = open(ctx, c)
	}
	if err != nil {
		return nil, fmt.Errorf("mapreduce: open shuffle store %s: %w", c.Label(), err)
	}
	return s, nil
}

// fire carries out the failure hook how, after the attempt wrote part of
// its output. It returns the error the task ends with (when Exit returns,
// as a test's does).
func (r *Runner) fire(ctx context.Context, t *Task, how string) error {
	r.logger().Warn("injected failure", "job", t.Job, "phase", t.Phase, "task", t.Task, "attempt", t.Attempt, "how", how)
	switch how {
	case FailExit:
		exit := r.Exit
		if exit == nil {
			exit = os.Exit
		}
		exit(FailExitCode)
		return fmt.Errorf("%w: exit %d", ErrInjected, FailExitCode)
	case FailHang:
		<-ctx.Done()
		return fmt.Errorf("%w: hung until %w", ErrInjected, context.Cause(ctx))
	}
	return fmt.Errorf("%w: %s %s task %d attempt %d", ErrInjected, t.Job, t.Phase, t.Task, t.Attempt)
}

// RunMap runs a map task: read the split, map, write one partition per
// reducer to the shuffle store.
func (r *Runner) RunMap(ctx context.Context, t *Task) (*MapResult, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Phase != PhaseMap {
		return nil, fmt.Errorf("%w: RunMap of a %q task", ErrInvalid, t.Phase)
	}
	if r.Files == nil {
		return nil, fmt.Errorf("%w: Runner.Files is nil", ErrInvalid)
	}
	w, _ := lookupWorkload(t.Workload)
	m, err := w.newMapper(t.Args, t.Reducers)
	if err != nil {
		return nil, err
	}
	res := &MapResult{Task: t.Task, Attempt: t.Attempt}
	start := time.Now()

	f, err := r.Files.Map(t.Input.Path)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return nil, fmt.Errorf("%w: input %q: %w", ErrBadInput, t.Input.Path, err)
		}
		return nil, fmt.Errorf("mapreduce: map task %d: input %q: %w", t.Task, t.Input.Path, err)
	}
	defer f.Close()
	data, err := inputRange(f.Bytes(), w, t.Input)
	if err != nil {
		return nil, err
	}
	res.BytesIn = int64(len(data))
	read := time.Now()
	res.Timings.Read = ms(read.Sub(start))

	parts, st, err := m.Map(data)
	if err != nil {
		return nil, fmt.Errorf("mapreduce: map task %d of %s: %w", t.Task, t.Job, err)
	}
	f.Close() // the partitions do not alias the input
	res.RecordsIn, res.RecordsOut = st.recordsIn, st.recordsOut
	computed := time.Now()
	res.Timings.Compute = ms(computed.Sub(read))

	res.Keys = make([]string, len(parts))
	res.Bytes = make([]int64, len(parts))
	for i, p := range parts {
		res.Keys[i] = ShuffleKey(t.Job, t.Task, t.Attempt, i)
		res.Bytes[i] = int64(len(p))
	}
	store, err := r.openStore(ctx, t.Shuffle)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	putStart := time.Now() // the store's opening is not the shuffle's cost
	how := t.failing()
	n := len(parts)
	if how != "" {
		n = (len(parts) + 1) / 2
	}
	_, err = parallel(ctx, n, r.parallelism(), func(ctx context.Context, i int) error {
		return store.Put(ctx, res.Keys[i], parts[i])
	})
	if err != nil {
		return nil, fmt.Errorf("mapreduce: map task %d of %s: write shuffle: %w", t.Task, t.Job, err)
	}
	if how != "" {
		return nil, r.fire(ctx, t, how)
	}
	res.Timings.ShuffleWrite = ms(time.Since(putStart))
	r.logger().Info("map task done", "job", t.Job, "task", t.Task, "attempt", t.Attempt,
		"bytes_in", res.BytesIn, "records_in", res.RecordsIn,
		"read_ms", res.Timings.Read, "compute_ms", res.Timings.Compute, "shuffle_write_ms", res.Timings.ShuffleWrite)
	return res, nil
}

// inputRange returns the bytes of file a map task processes: the lines
// whose first byte is in the split (text), or the split's records.
func inputRange(file []byte, w *workload, s *Split) ([]byte, error) {
	size := int64(len(file))
	if s.Offset > size || s.Length > size-s.Offset {
		return nil, fmt.Errorf("%w: input range [%d, %d) of %q runs past its end (%d bytes)", ErrInvalid, s.Offset, s.Offset+s.Length, s.Path, size)
	}
	if w.recordSize == 0 {
		start, end := LineRange(file, s.Offset, s.Length)
		return file[start:end], nil
	}
	rs := int64(w.recordSize)
	if size%rs != 0 {
		return nil, fmt.Errorf("%w: %s input %q is %d bytes, not a whole number of %d-byte records", ErrBadInput, w.name, s.Path, size, rs)
	}
	if s.Offset%rs != 0 || s.Length%rs != 0 {
		return nil, fmt.Errorf("%w: input range [%d, %d) of %q cuts %d-byte records (use Splits with the record size)", ErrInvalid, s.Offset, s.Offset+s.Length, s.Path, rs)
	}
	return file[s.Offset : s.Offset+s.Length], nil
}

// RunReduce runs a reduce task: read its partitions from the shuffle
// store, reduce, write the output file (durably, replacing any).
func (r *Runner) RunReduce(ctx context.Context, t *Task) (*ReduceResult, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Phase != PhaseReduce {
		return nil, fmt.Errorf("%w: RunReduce of a %q task", ErrInvalid, t.Phase)
	}
	if r.Files == nil {
		return nil, fmt.Errorf("%w: Runner.Files is nil", ErrInvalid)
	}
	w, _ := lookupWorkload(t.Workload)
	res := &ReduceResult{Task: t.Task, Attempt: t.Attempt, Output: t.Output}

	store, err := r.openStore(ctx, t.Shuffle)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	// The inputs are only read while they are merged or decoded: view
	// them in place (the PMEM store lends its mapping) rather than copy.
	start := time.Now()
	in := viewAll(ctx, store, t.Inputs, r.parallelism())
	defer in.release()
	if err := inputErrors(t.Inputs, in.errs, in.first); err != nil {
		return nil, fmt.Errorf("mapreduce: reduce task %d of %s: %w", t.Task, t.Job, err)
	}
	inputs := in.inputs
	for _, in := range inputs {
		res.BytesIn += int64(len(in))
	}
	fetched := time.Now()
	res.Timings.ShuffleRead = ms(fetched.Sub(start))

	fw, err := r.Files.Create(t.Output, res.BytesIn, true)
	if err != nil {
		return nil, fmt.Errorf("mapreduce: reduce task %d of %s: create output %q: %w", t.Task, t.Job, t.Output, err)
	}
	defer fw.Abort() // after Commit it does nothing
	out := &timedWriter{w: fw}
	var sink io.Writer = out
	how := t.failing()
	if how != "" {
		sink = &failWriter{w: out, fire: func() error { return r.fire(ctx, t, how) }}
	}
	st, err := w.reduce(inputs, sink)
	released := time.Now()
	in.release() // the output holds no byte of the inputs
	unviewed := time.Since(released)
	if err != nil {
		var de *inputDecodeError
		if errors.As(err, &de) {
			err = &InputError{Reason: ErrCorrupt, Keys: []string{t.Inputs[de.input]}, Err: de.err}
		}
		return nil, fmt.Errorf("mapreduce: reduce task %d of %s: %w", t.Task, t.Job, err)
	}
	if how != "" { // nothing was written: fail before committing
		return nil, r.fire(ctx, t, how)
	}
	reduced := time.Now()
	if err := fw.Commit(); err != nil {
		return nil, fmt.Errorf("mapreduce: reduce task %d of %s: commit output %q: %w", t.Task, t.Job, t.Output, err)
	}
	res.RecordsIn, res.RecordsOut, res.BytesOut = st.recordsIn, st.recordsOut, fw.Len()
	res.Timings.Write = ms(out.spent + time.Since(reduced))
	res.Timings.Compute = ms(reduced.Sub(fetched) - out.spent - unviewed)
	res.Timings.ShuffleRead += ms(unviewed) // unmapping is the store's
	r.logger().Info("reduce task done", "job", t.Job, "task", t.Task, "attempt", t.Attempt,
		"bytes_in", res.BytesIn, "bytes_out", res.BytesOut,
		"shuffle_read_ms", res.Timings.ShuffleRead, "compute_ms", res.Timings.Compute, "write_ms", res.Timings.Write)
	return res, nil
}

// inputErrors turns the errors of fetching a reduce task's inputs into one:
// the first error other than a missing key, else an *InputError naming
// every missing key, else nil.
func inputErrors(keys []string, errs []error, first error) error {
	if first != nil {
		return fmt.Errorf("read shuffle: %w", first)
	}
	var missing []string
	var cause error
	for i, err := range errs {
		if err != nil {
			missing = append(missing, keys[i])
			if cause == nil {
				cause = err
			}
		}
	}
	if missing != nil {
		return &InputError{Reason: ErrInputMissing, Keys: missing, Err: cause}
	}
	return nil
}

// parallel runs fn(ctx, i) for i in [0, n), at most par at a time, and
// returns their errors by i and the first error to happen that is not
// shuffle.ErrNotFound. After such an error the calls not yet started are
// skipped (their error is the context's) and the others see ctx done.
func parallel(ctx context.Context, n, par int, fn func(ctx context.Context, i int) error) (errs []error, first error) {
	errs = make([]error, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // guards first
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := fn(ctx, i)
			errs[i] = err
			if err != nil && !errors.Is(err, shuffle.ErrNotFound) {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	if first == nil {
		// The parent context ended while calls were being skipped.
		for _, err := range errs {
			if err != nil && !errors.Is(err, shuffle.ErrNotFound) {
				first = err
				break
			}
		}
	}
	return errs, first
}

// timedWriter adds up the time spent writing.
type timedWriter struct {
	w     io.Writer
	spent time.Duration
}

func (t *timedWriter) Write(p []byte) (int, error) {
	start := time.Now()
	n, err := t.w.Write(p)
	t.spent += time.Since(start)
	return n, err
}

// failWriter writes half of the first chunk of output and then fires the
// failure hook.
type failWriter struct {
	w    io.Writer
	fire func() error
}

func (f *failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p[:len(p)/2])
	if err != nil {
		return n, err
	}
	return n, f.fire()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
