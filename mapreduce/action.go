package mapreduce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// Failure is the result of a task that failed, as an action returns it (an
// object with "error" is an OpenWhisk application error). The driver
// decodes it to decide what to do: see the Reason constants.
//
//	{"error":"mapreduce: shuffle input missing: ...","reason":"input_missing",
//	 "keys":["wc-1a2b/m00003-a1/r00002"],"task":2,"attempt":1}
type Failure struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
	// Keys are the shuffle inputs a reduce task could not read (reasons
	// input_missing and corrupt_input).
	Keys    []string `json:"keys,omitempty"`
	Task    int      `json:"task"`
	Attempt int      `json:"attempt"`
}

// NewFailure describes err, the failure of task (which may be nil when the
// parameters did not decode).
func NewFailure(t *Task, err error) Failure {
	f := Failure{Error: err.Error(), Reason: Reason(err)}
	var ie *InputError
	if errors.As(err, &ie) {
		f.Keys = ie.Keys
	}
	if t != nil {
		f.Task, f.Attempt = t.Task, t.Attempt
	}
	return f
}

// ActionMain is the Main of an action that serves every workload's map and
// reduce tasks (the "workload" and "phase" parameters say which): it runs
// the task with the namespace's files (sdk.OpenFiles) under the
// activation's deadline and returns its MapResult or ReduceResult, or a
// Failure. Shuffle stores stay open across the warm activations of the
// process.
func ActionMain(args map[string]any) (map[string]any, error) {
	return ServeWorkload("", args)
}

// ServeWorkload is ActionMain for an action of one workload: a task that
// names no workload is taken to be of this one, and a task of another is
// refused. An empty workload serves all.
func ServeWorkload(workload string, args map[string]any) (map[string]any, error) {
	r, err := actionRunner()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if d := sdk.Current().Deadline; !d.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	return r.Serve(ctx, workload, args)
}

// Serve runs the task args (Task parameters as an action receives them)
// and returns its result, or a Failure (with a nil error: an object with
// "error" is how an action reports an application error). workload is as
// for ServeWorkload. The error is for results that cannot be encoded.
func (r *Runner) Serve(ctx context.Context, workload string, args map[string]any) (map[string]any, error) {
	var t *Task
	result, err := func() (json.RawMessage, error) {
		if workload != "" {
			switch w, ok := args["workload"]; {
			case !ok:
				args["workload"] = workload
			case w != workload:
				return nil, fmt.Errorf("%w: this action runs %s tasks, not %v", ErrInvalid, workload, w)
			}
		}
		raw, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("%w: task parameters: %w", ErrInvalid, err)
		}
		if t, err = DecodeTask(raw); err != nil {
			return nil, err
		}
		return r.run(ctx, t)
	}()
	if err != nil {
		r.logger().Error("task failed", "error", err)
		return toMap(NewFailure(t, err))
	}
	var m map[string]any
	if err := json.Unmarshal(result, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

var (
	actionOnce sync.Once
	actionR    *Runner
	actionErr  error
)

// actionRunner returns the runner of the action's process.
func actionRunner() (*Runner, error) {
	actionOnce.Do(func() {
		files, err := sdk.OpenFiles()
		if err != nil {
			actionErr = err
			return
		}
		actionR = &Runner{
			Files:      files,
			KeepStores: true,
			Logger:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
		}
	})
	return actionR, actionErr
}
