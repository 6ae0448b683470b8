package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/mapreduce"
)

// run is one job in progress.
type run struct {
	env Env
	job Job

	mu  sync.Mutex
	res Result

	// unanswered is set when an attempt's invoke got no answer from the
	// API (the connection failed or broke): the attempt may have started
	// and may still be writing, so the job's cleanup goes over its data
	// again after a grace period.
	unanswered atomic.Bool
}

// stage runs n tasks of a phase at once, each until an attempt succeeds
// and accept takes its result, or MaxAttempts attempts failed; then the
// stage fails with that task's last error and the others are cancelled.
// When an attempt fails because shuffle inputs were missing or corrupt,
// lost (if not nil) is called with their keys before the next attempt: it
// reruns the map tasks that wrote them.
//
// A failing stage starts no more attempts, but it waits for the attempts
// in flight (they run on the server whether or not the driver waits, and
// end by their time limit) and does not accept their results: so when the
// job's cleanup runs, no task of it is still writing shuffle data or a
// temporary output, and nothing more is committed.
func (r *run) stage(ctx context.Context, phase mapreduce.Phase, n int,
	task func(i, attempt int) mapreduce.Task, accept func(i int, result json.RawMessage) error,
	lost func(ctx context.Context, keys []string) error) error {
	parent := ctx // attempts in flight run until they end, or parent is done
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var done int
	for i := range n {
		wg.Go(func() {
			var last error
			for attempt := 1; attempt <= r.job.MaxAttempts; attempt++ {
				if ctx.Err() != nil {
					return
				}
				t := task(i, attempt)
				t.Fail = r.job.Fail[string(phase)+"/"+strconv.Itoa(i)]
				t0 := time.Now()
				raw, id, err := r.invoke(parent, &t)
				if err == nil && ctx.Err() != nil {
					return // the stage failed meanwhile: commit nothing more
				}
				if err == nil {
					err = accept(i, raw)
				}
				var perm *permanentError
				retrying := err != nil && attempt < r.job.MaxAttempts && !errors.As(err, &perm)
				r.mu.Lock()
				if err == nil {
					done++
				} else if retrying {
					r.res.Retries++
				}
				ev := Event{Phase: phase, Task: i, Attempt: attempt, Err: err, Done: done, Total: n,
					Retrying: retrying, Duration: time.Since(t0), Activated: id}
				if r.env.Progress != nil {
					r.env.Progress(ev) // under the lock: one call at a time, in order
				}
				r.mu.Unlock()
				if err == nil {
					return
				}
				last = err
				var in *inputError
				if lost != nil && retrying && errors.As(err, &in) {
					if lerr := lost(parent, in.keys); lerr != nil {
						last = fmt.Errorf("%w; rerunning the maps that wrote its inputs: %w", err, lerr)
						if ctx.Err() == nil {
							cancel(fmt.Errorf("%s task %d failed: %w", phase, i, last))
						}
						return
					}
				}
				if errors.As(err, &perm) {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("%s task %d failed (not retried: the task or its input is wrong): %w", phase, i, perm.err))
					}
					return
				}
			}
			if ctx.Err() == nil {
				cancel(fmt.Errorf("%s task %d failed after %d attempts: %w", phase, i, r.job.MaxAttempts, last))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// invoke runs one task attempt as an activation of the job's action and
// returns its result, or why it failed.
func (r *run) invoke(ctx context.Context, t *mapreduce.Task) (json.RawMessage, string, error) {
	params, err := json.Marshal(t)
	if err != nil {
		return nil, "", err
	}
	// The activation's own time limit ends a hung task; the extra minute
	// covers a cold start and the queue.
	ictx, cancel := context.WithTimeout(ctx, r.job.TaskTimeout+time.Minute)
	defer cancel()
	inv, err := r.env.Client.Invoke(ictx, r.env.Action, json.RawMessage(params), client.InvokeOptions{Blocking: true})
	var appErr *client.ApplicationError
	if err != nil && !errors.As(err, &appErr) {
		r.noteUnanswered(err)
		return nil, inv.ActivationID, fmt.Errorf("invoke %s: %w", r.env.Action, err)
	}
	act := inv.Activation
	if inv.Pending { // still running after the API's blocking wait
		a, err := r.env.Client.WaitActivation(ictx, inv.ActivationID, 100*time.Millisecond)
		if err != nil {
			r.noteUnanswered(err)
			return nil, inv.ActivationID, fmt.Errorf("wait for activation %s: %w", inv.ActivationID, err)
		}
		act = &a
	}
	if act == nil || act.Response == nil {
		return nil, inv.ActivationID, fmt.Errorf("activation %s: no record in the reply", inv.ActivationID)
	}
	r.mu.Lock()
	r.res.TaskTime += time.Duration(act.Duration) * time.Millisecond
	r.res.GBSeconds += float64(act.Duration) / 1000 * float64(r.job.MemoryMB) / 1024
	r.mu.Unlock()
	if !act.Response.Success {
		var f mapreduce.Failure
		msg := string(act.Response.Result)
		if json.Unmarshal(act.Response.Result, &f) == nil && f.Error != "" {
			msg = f.Error
		}
		err := fmt.Errorf("activation %s (%s): %s", act.ActivationID, act.Response.Status, msg)
		switch f.Reason {
		case mapreduce.ReasonInvalid, mapreduce.ReasonBadInput:
			// Another attempt would fail the same way.
			err = &permanentError{err}
		case mapreduce.ReasonInputMissing, mapreduce.ReasonCorruptInput:
			// Another attempt would too, unless the maps that wrote
			// the inputs run again.
			if len(f.Keys) > 0 {
				err = &inputError{err: err, keys: f.Keys}
			}
		}
		return nil, act.ActivationID, err
	}
	return act.Response.Result, act.ActivationID, nil
}

// noteUnanswered records that an attempt's fate is unknown when err is
// not the server's answer but a failed or broken connection (or the
// driver's own deadline).
func (r *run) noteUnanswered(err error) {
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		r.unanswered.Store(true)
	}
}

// inputError is a reduce attempt that could not read some of its shuffle
// inputs (lost or corrupt): keys are the inputs.
type inputError struct {
	err  error
	keys []string
}

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// permanentError is a task failure that another attempt would repeat (bad
// arguments, bad input): the stage fails at once.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
