package mapreduce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// env is a namespace's files directory and a shuffle store, as an action
// sees them.
type env struct {
	root  string
	files *sdk.Files
	cfg   shuffle.Config
	store shuffle.Store // the test's own handle, to look at what tasks wrote
}

// storeKinds are the real shuffle stores the end-to-end tests run over.
var storeKinds = []string{shuffle.KindPMEM, shuffle.KindDisk}

func newEnv(t testing.TB, kind string) *env {
	t.Helper()
	root := filepath.Join(t.TempDir(), "files")
	files, err := sdk.NewFiles(root, pmem.ModeAuto)
	require.NoError(t, err)
	cfg := shuffle.Config{Kind: kind}
	switch kind {
	case shuffle.KindPMEM:
		// Emulated PMEM inside the namespace, where a job's shuffle goes.
		cfg.Dir, cfg.Mode = filepath.Join(root, ".shuffle"), "emulated"
	default:
		cfg.Dir = filepath.Join(t.TempDir(), "disk-shuffle")
	}
	store, err := shuffle.Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	return &env{root: root, files: files, cfg: cfg, store: store}
}

func (e *env) write(t testing.TB, name string, data []byte) {
	t.Helper()
	require.NoError(t, e.files.WriteFile(name, data))
}

func (e *env) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := e.files.ReadFile(name)
	require.NoError(t, err)
	return b
}

// job describes a job run task by task, as a driver would.
type job struct {
	name     string
	workload string
	args     any
	input    string
	mappers  int
	reducers int
	out      string
}

func (j job) argsJSON(t testing.TB) json.RawMessage {
	if j.args == nil {
		return nil
	}
	b, err := json.Marshal(j.args)
	require.NoError(t, err)
	return b
}

func (e *env) mapTask(t testing.TB, j job, task, attempt int, s Range) *Task {
	return &Task{Job: j.name, Phase: PhaseMap, Task: task, Attempt: attempt, Workload: j.workload,
		Shuffle: e.cfg, Args: j.argsJSON(t), Input: &Split{Path: j.input, Offset: s.Offset, Length: s.Length}, Reducers: j.reducers}
}

func (e *env) reduceTask(t testing.TB, j job, task, attempt int, maps []MapResult) *Task {
	inputs := make([]string, len(maps))
	for m, res := range maps {
		inputs[m] = res.Keys[task]
	}
	return &Task{Job: j.name, Phase: PhaseReduce, Task: task, Attempt: attempt, Workload: j.workload,
		Shuffle: e.cfg, Args: j.argsJSON(t), Inputs: inputs, Output: TempOutput(j.out, task, attempt)}
}

// runTask runs t through RunTask, as an action does, and decodes the
// result into res.
func (e *env) runTask(t *testing.T, task *Task, res any) error {
	t.Helper()
	params, err := json.Marshal(task)
	require.NoError(t, err)
	out, err := RunTask(t.Context(), e.root, params)
	if err != nil {
		return err
	}
	require.NoError(t, json.Unmarshal(out, res))
	return nil
}

// run runs every map task, then every reduce task, commits the outputs
// and returns them in part order.
func (e *env) run(t *testing.T, j job) [][]byte {
	t.Helper()
	size := int64(len(e.read(t, j.input)))
	rs, err := InputRecordSize(j.workload)
	require.NoError(t, err)
	splits, err := Splits(size, j.mappers, rs)
	require.NoError(t, err)
	maps := make([]MapResult, j.mappers)
	var bytesIn int64
	for m, s := range splits {
		require.NoError(t, e.runTask(t, e.mapTask(t, j, m, 1, s), &maps[m]))
		require.Equal(t, m, maps[m].Task)
		require.Len(t, maps[m].Keys, j.reducers)
		require.Len(t, maps[m].Bytes, j.reducers)
		for r, k := range maps[m].Keys {
			require.Equal(t, ShuffleKey(j.name, m, 1, r), k)
			b, err := e.store.Get(t.Context(), k)
			require.NoError(t, err)
			require.Len(t, b, int(maps[m].Bytes[r]))
		}
		bytesIn += maps[m].BytesIn
	}
	require.Equal(t, size, bytesIn, "the map tasks read every byte once")
	return e.reduceAll(t, j, maps)
}

func (e *env) reduceAll(t *testing.T, j job, maps []MapResult) [][]byte {
	t.Helper()
	out := make([][]byte, j.reducers)
	for r := range out {
		var res ReduceResult
		task := e.reduceTask(t, j, r, 1, maps)
		require.NoError(t, e.runTask(t, task, &res))
		require.Equal(t, task.Output, res.Output)
		require.NoError(t, CommitOutput(e.root, res.Output, FinalOutput(j.out, r)))
		out[r] = e.read(t, FinalOutput(j.out, r))
		require.Equal(t, int64(len(out[r])), res.BytesOut)
	}
	names, err := e.files.List(j.out)
	require.NoError(t, err)
	for r := range out {
		require.Contains(t, names, FinalOutput(j.out, r))
	}
	return out
}

func TestRunTaskEndToEnd(t *testing.T) {
	text := genText(t, 200_000, 31, 2000)
	recs := genRecords(t, 5000, 32)
	wantWC := countsOutput(refWordCount(string(text)))
	const pattern = `[aeiou][a-z]{2}\b`
	wantGrep := countsOutput(refGrep(string(text), pattern))
	wantSort := refSort(recs)
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			e.write(t, "in/corpus.txt", text)
			e.write(t, "in/records", recs)
			e.write(t, "in/empty", nil)
			for _, sh := range shapes {
				m, r := sh[0], sh[1]
				t.Run(fmt.Sprintf("%dx%d", m, r), func(t *testing.T) {
					checkCounts(t, e.run(t, job{fmt.Sprintf("wc-%d-%d", m, r), WordCount, nil, "in/corpus.txt", m, r, fmt.Sprintf("out/wc-%d-%d", m, r)}), wantWC)
					checkCounts(t, e.run(t, job{fmt.Sprintf("grep-%d-%d", m, r), Grep, GrepArgs{Pattern: pattern}, "in/corpus.txt", m, r, fmt.Sprintf("out/grep-%d-%d", m, r)}), wantGrep)

					sample, err := SampleRecords(bytes.NewReader(recs), int64(len(recs)), 1000)
					require.NoError(t, err)
					splits, err := SampleSplitPoints(sample, r)
					require.NoError(t, err)
					parts := e.run(t, job{fmt.Sprintf("sort-%d-%d", m, r), Sort, NewSortArgs(splits), "in/records", m, r, fmt.Sprintf("out/sort-%d-%d", m, r)})
					require.Equal(t, wantSort, bytes.Join(parts, nil))
					_, err = ValidateSort(bytes.NewReader(recs), readers(parts...)...)
					require.NoError(t, err)

					for _, w := range []string{WordCount, Sort} {
						var args any
						if w == Sort {
							args = NewSortArgs(make([][]byte, r-1))
							for i := range r - 1 {
								args.(SortArgs).Splits[i] = strings.Repeat("00", KeySize)
							}
						}
						for _, p := range e.run(t, job{fmt.Sprintf("empty-%s-%d-%d", w, m, r), w, args, "in/empty", m, r, fmt.Sprintf("out/empty-%s-%d-%d", w, m, r)}) {
							require.Empty(t, p)
						}
					}
				})
			}
			require.NoError(t, e.store.DeletePrefix(t.Context(), JobPrefix("wc-7-5")))
			_, err := e.store.Get(t.Context(), ShuffleKey("wc-7-5", 0, 1, 0))
			require.ErrorIs(t, err, shuffle.ErrNotFound, "a job's cleanup")
		})
	}
}

// cancelOn is a log handler that cancels a context when the runner logs
// an injected failure.
type cancelOn struct{ cancel context.CancelFunc }

func (c *cancelOn) Enabled(context.Context, slog.Level) bool { return true }
func (c *cancelOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "injected failure" {
		c.cancel()
	}
	return nil
}
func (c *cancelOn) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *cancelOn) WithGroup(string) slog.Handler      { return c }

// stubExit records the exit hook's status instead of exiting.
type stubExit struct{ codes []int }

func (s *stubExit) exit(code int) { s.codes = append(s.codes, code) }

// TestRetryIgnoresFailedAttempt makes the first attempt of a map task and
// of a reduce task fail in each way after writing part of their output,
// then runs the second attempts: the job's output is the reference, the
// failed attempts' partial output notwithstanding.
func TestRetryIgnoresFailedAttempt(t *testing.T) {
	text := genText(t, 50_000, 41, 500)
	want := countsOutput(refWordCount(string(text)))
	for _, kind := range storeKinds {
		for _, how := range []string{FailError, FailExit, FailHang} {
			t.Run(kind+"/"+how, func(t *testing.T) {
				e := newEnv(t, kind)
				e.write(t, "in/t", text)
				j := job{"retry", WordCount, nil, "in/t", 3, 4, "out/retry"}
				exits := &stubExit{}
				// A hanging attempt is released by cancelling its context
				// once it reports the injected failure.
				hung := &cancelOn{}
				r := &Runner{Files: e.files, Exit: exits.exit, Logger: slog.New(hung)}
				failing := func() context.Context {
					ctx, cancel := context.WithCancel(t.Context())
					t.Cleanup(cancel)
					hung.cancel = cancel
					return ctx
				}
				splits, err := Splits(int64(len(text)), j.mappers, 0)
				require.NoError(t, err)
				maps := make([]MapResult, j.mappers)
				for m, s := range splits {
					if m == 1 {
						task := e.mapTask(t, j, m, 1, s)
						task.Fail = &Fail{Attempt: 1, How: how}
						_, err := r.RunMap(failing(), task)
						require.ErrorIs(t, err, ErrInjected)
						require.Equal(t, ReasonInjected, Reason(err))
						for p := range j.reducers {
							_, err := e.store.Get(t.Context(), ShuffleKey(j.name, m, 1, p))
							if p < (j.reducers+1)/2 {
								require.NoError(t, err, "attempt 1 wrote partition %d before failing", p)
							} else {
								require.ErrorIs(t, err, shuffle.ErrNotFound, "attempt 1 failed before partition %d", p)
							}
						}
						// The failed attempt's partitions are poison: a reduce
						// that read them would fail.
						for p := range (j.reducers + 1) / 2 {
							require.NoError(t, e.store.Put(t.Context(), ShuffleKey(j.name, m, 1, p), []byte("poison")))
						}
						task = e.mapTask(t, j, m, 2, s)
						task.Fail = &Fail{Attempt: 1, How: how} // not this attempt
						res, err := r.RunMap(t.Context(), task)
						require.NoError(t, err)
						maps[m] = *res
						require.Equal(t, ShuffleKey(j.name, m, 2, 0), res.Keys[0])
						continue
					}
					res, err := r.RunMap(t.Context(), e.mapTask(t, j, m, 1, s))
					require.NoError(t, err)
					maps[m] = *res
				}

				// Reduce task 2 fails once, mid-output.
				task := e.reduceTask(t, j, 2, 1, maps)
				task.Fail = &Fail{Attempt: 1, How: how}
				_, err = r.RunReduce(failing(), task)
				require.ErrorIs(t, err, ErrInjected)
				_, err = os.Stat(filepath.Join(e.root, task.Output))
				require.ErrorIs(t, err, os.ErrNotExist, "a failed attempt commits no output")

				out := make([][]byte, j.reducers)
				for p := range out {
					attempt := 1
					if p == 2 {
						attempt = 2
					}
					res, err := r.RunReduce(t.Context(), e.reduceTask(t, j, p, attempt, maps))
					require.NoError(t, err)
					require.NoError(t, CommitOutput(e.root, res.Output, FinalOutput(j.out, p)))
					out[p] = e.read(t, FinalOutput(j.out, p))
				}
				checkCounts(t, out, want)
				if how == FailExit {
					require.Equal(t, []int{FailExitCode, FailExitCode}, exits.codes)
				} else {
					require.Empty(t, exits.codes)
				}
			})
		}
	}
}

// TestFailExitProcess runs map and reduce tasks whose attempt 1 exits, in
// a real child process: it ends with status 3 having written part of its
// output, and a second attempt succeeds.
func TestFailExitProcess(t *testing.T) {
	e := newEnv(t, shuffle.KindPMEM)
	text := genText(t, 20_000, 51, 300)
	e.write(t, "in/t", text)
	j := job{"exit", WordCount, nil, "in/t", 1, 3, "out/exit"}
	child := func(task *Task) (string, error) {
		params, err := json.Marshal(task)
		require.NoError(t, err)
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+e.root+"|"+string(params))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	split := Range{0, int64(len(text))}
	task := e.mapTask(t, j, 0, 1, split)
	task.Fail = &Fail{Attempt: 1, How: FailExit}
	out, err := child(task)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	require.Equal(t, FailExitCode, ee.ExitCode(), out)
	_, err = e.store.Get(t.Context(), ShuffleKey(j.name, 0, 1, 0))
	require.NoError(t, err, "the crashed attempt wrote its first partition")
	_, err = e.store.Get(t.Context(), ShuffleKey(j.name, 0, 1, 2))
	require.ErrorIs(t, err, shuffle.ErrNotFound)

	task.Attempt = 2
	out, err = child(task)
	require.NoError(t, err, out)
	var mr MapResult
	require.NoError(t, json.Unmarshal([]byte(out), &mr))

	rt := e.reduceTask(t, j, 0, 1, []MapResult{mr})
	rt.Fail = &Fail{Attempt: 1, How: FailExit}
	out, err = child(rt)
	require.ErrorAs(t, err, &ee, out)
	require.Equal(t, FailExitCode, ee.ExitCode(), out)
	_, err = os.Stat(filepath.Join(e.root, rt.Output))
	require.ErrorIs(t, err, os.ErrNotExist, "the crashed attempt committed nothing")
	names, err := e.files.List(j.out)
	require.NoError(t, err)
	require.Empty(t, names, "only a hidden temporary is left")

	rt = e.reduceTask(t, j, 0, 2, []MapResult{mr})
	out, err = child(rt)
	require.NoError(t, err, out)
	got := e.read(t, rt.Output)
	for _, l := range textLines(string(got)) {
		require.Contains(t, countsOutput(refWordCount(string(text))), l+"\n")
	}
}

func TestReduceInputErrors(t *testing.T) {
	e := newEnv(t, shuffle.KindDisk)
	e.write(t, "in/t", genText(t, 5000, 61, 100))
	j := job{"inputs", WordCount, nil, "in/t", 3, 2, "out/inputs"}
	r := &Runner{Files: e.files}
	splits, err := Splits(5000, 3, 0)
	require.NoError(t, err)
	maps := make([]MapResult, 3)
	for m, s := range splits {
		res, err := r.RunMap(t.Context(), e.mapTask(t, j, m, 1, s))
		require.NoError(t, err)
		maps[m] = *res
	}

	t.Run("missing", func(t *testing.T) {
		task := e.reduceTask(t, j, 1, 1, maps)
		task.Inputs[0] = ShuffleKey(j.name, 0, 9, 1)
		task.Inputs[2] = ShuffleKey(j.name, 2, 9, 1)
		_, err := r.RunReduce(t.Context(), task)
		require.ErrorIs(t, err, ErrInputMissing)
		var ie *InputError
		require.ErrorAs(t, err, &ie)
		require.Equal(t, []string{task.Inputs[0], task.Inputs[2]}, ie.Keys, "every missing key is named")
		f := NewFailure(task, err)
		require.Equal(t, ReasonInputMissing, f.Reason)
		require.Equal(t, ie.Keys, f.Keys)
		require.Equal(t, 1, f.Task)
	})
	t.Run("corrupt", func(t *testing.T) {
		task := e.reduceTask(t, j, 0, 1, maps)
		b, err := e.store.Get(t.Context(), task.Inputs[1])
		require.NoError(t, err)
		b[len(b)-1] ^= 0xff
		bad := "inputs/bad/r00000"
		require.NoError(t, e.store.Put(t.Context(), bad, b))
		task.Inputs[1] = bad
		_, err = r.RunReduce(t.Context(), task)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "body checksum")
		f := NewFailure(task, err)
		require.Equal(t, ReasonCorruptInput, f.Reason)
		require.Equal(t, []string{bad}, f.Keys)
	})
	t.Run("wrong kind", func(t *testing.T) {
		task := e.reduceTask(t, j, 0, 1, maps)
		task.Workload = Sort
		_, err := r.RunReduce(t.Context(), task)
		require.ErrorIs(t, err, ErrCorrupt, "a counts partition given to a sort reduce")
	})
	t.Run("store down", func(t *testing.T) {
		down := &Runner{Files: e.files, OpenStore: func(context.Context, shuffle.Config) (shuffle.Store, error) {
			return nil, errors.New("connection refused")
		}}
		_, err := down.RunReduce(t.Context(), e.reduceTask(t, j, 0, 1, maps))
		require.ErrorContains(t, err, "connection refused")
		require.Equal(t, ReasonFailed, Reason(err))
	})
}

func TestTaskValidate(t *testing.T) {
	e := newEnv(t, shuffle.KindDisk)
	good := func() *Task {
		return &Task{Job: "j", Phase: PhaseMap, Task: 0, Attempt: 1, Workload: WordCount, Shuffle: e.cfg,
			Input: &Split{Path: "in/x", Length: 10}, Reducers: 2}
	}
	require.NoError(t, good().Validate())
	for _, tc := range []struct {
		name   string
		mutate func(*Task)
		want   []string
	}{
		{"job", func(t *Task) { t.Job = "a/b" }, []string{`job "a/b"`}},
		{"dot job", func(t *Task) { t.Job = ".j" }, []string{"starting with a dot"}},
		{"phase", func(t *Task) { t.Phase = "combine" }, []string{`phase "combine"`}},
		{"numbers", func(t *Task) { t.Task, t.Attempt, t.Reducers = -1, 0, 0 }, []string{"task -1", "attempt 0", "reducers 0"}},
		{"workload", func(t *Task) { t.Workload = "pagerank" }, []string{`workload "pagerank"`}},
		{"shuffle", func(t *Task) { t.Shuffle = shuffle.Config{Kind: "disk", Dir: "rel"} }, []string{"not absolute"}},
		{"absolute input", func(t *Task) { t.Input.Path = "/etc/passwd" }, []string{"is absolute"}},
		{"dotdot input", func(t *Task) { t.Input.Path = "in/../../x" }, []string{"not a clean path"}},
		{"leading dotdot", func(t *Task) { t.Input.Path = "../x" }, []string{`component ".."`}},
		{"hidden input", func(t *Task) { t.Input.Path = "in/.x" }, []string{"start with a dot"}},
		{"range", func(t *Task) { t.Input.Offset = -1 }, []string{"offset -1"}},
		{"no input", func(t *Task) { t.Input = nil }, []string{"without input"}},
		{"grep args", func(t *Task) { t.Workload, t.Args = Grep, json.RawMessage(`{"pattern":"("}`) }, []string{"missing closing )"}},
		{"sort args", func(t *Task) { t.Workload = Sort }, []string{"0 split points for 2 reducers"}},
		{"fail", func(t *Task) { t.Fail = &Fail{Attempt: 0, How: "explode"} }, []string{`fail.how "explode"`, "fail.attempt 0"}},
		{"reduce fields", func(t *Task) { t.Phase, t.Inputs = PhaseReduce, []string{"a//b"} }, []string{"inputs[0]", "output path is empty", "not input and reducers"}},
		{"map fields", func(t *Task) { t.Output = "o" }, []string{"not inputs and output"}},
		{"everything", func(t *Task) { t.Job, t.Attempt, t.Workload = "", 0, "" }, []string{`job ""`, "attempt 0", `workload ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := good()
			tc.mutate(task)
			err := task.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w, "every problem is reported")
			}
			// Run refuses it the same way, as a Failure with reason invalid.
			r := &Runner{Files: e.files}
			args := map[string]any{}
			b, _ := json.Marshal(task)
			require.NoError(t, json.Unmarshal(b, &args))
			res, err := r.Serve(t.Context(), "", args)
			require.NoError(t, err)
			require.Equal(t, ReasonInvalid, res["reason"], res)
		})
	}
}

func TestServe(t *testing.T) {
	e := newEnv(t, shuffle.KindPMEM)
	text := genText(t, 10_000, 71, 100)
	e.write(t, "in/t", text)
	r := &Runner{Files: e.files, KeepStores: true}
	defer r.Close()
	j := job{"serve", WordCount, nil, "in/t", 1, 2, "out/serve"}
	toArgs := func(task *Task) map[string]any {
		b, err := json.Marshal(task)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return m
	}
	mt := e.mapTask(t, j, 0, 1, Range{0, int64(len(text))})
	args := toArgs(mt)
	delete(args, "workload")
	args["__extra"] = "ignored" // OpenWhisk may merge default parameters
	res, err := r.Serve(t.Context(), WordCount, args)
	require.NoError(t, err)
	require.NotContains(t, res, "error")
	require.Equal(t, []any{ShuffleKey(j.name, 0, 1, 0), ShuffleKey(j.name, 0, 1, 1)}, res["keys"])
	require.Contains(t, res["timings_ms"], "shuffle_write")

	res, err = r.Serve(t.Context(), Sort, toArgs(mt))
	require.NoError(t, err)
	require.Equal(t, ReasonInvalid, res["reason"], "a wordcount task sent to the sort action")
	require.Contains(t, res["error"], "runs sort tasks")

	var mr MapResult
	b, _ := json.Marshal(map[string]any{"keys": res["keys"]})
	require.NoError(t, json.Unmarshal(b, &mr))
	mr.Keys = []string{ShuffleKey(j.name, 0, 1, 0), ShuffleKey(j.name, 0, 1, 1)}
	rt := e.reduceTask(t, j, 1, 1, []MapResult{mr})
	res, err = r.Serve(t.Context(), "", toArgs(rt))
	require.NoError(t, err)
	require.Equal(t, rt.Output, res["output"])
	require.Contains(t, res["timings_ms"], "shuffle_read")

	rt.Inputs = []string{"serve/none/r00001"}
	res, err = r.Serve(t.Context(), "", toArgs(rt))
	require.NoError(t, err)
	require.Equal(t, ReasonInputMissing, res["reason"])
	require.Equal(t, []any{"serve/none/r00001"}, res["keys"])
	require.EqualValues(t, 1, res["task"])

	res, err = r.Serve(t.Context(), "", map[string]any{"job": 7})
	require.NoError(t, err)
	require.Equal(t, ReasonInvalid, res["reason"], "parameters that do not decode")
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", ErrInvalid), ReasonInvalid},
		{&InputError{Reason: ErrInputMissing, Keys: []string{"k"}, Err: shuffle.ErrNotFound}, ReasonInputMissing},
		{&InputError{Reason: ErrCorrupt, Keys: []string{"k"}, Err: errors.New("bad")}, ReasonCorruptInput},
		{fmt.Errorf("x: %w", ErrBadInput), ReasonBadInput},
		{fmt.Errorf("x: %w", ErrInjected), ReasonInjected},
		{errors.New("connection reset"), ReasonFailed},
		{context.DeadlineExceeded, ReasonFailed},
	} {
		require.Equal(t, tc.want, Reason(tc.err), "%v", tc.err)
	}
}

func TestMapInputErrors(t *testing.T) {
	e := newEnv(t, shuffle.KindDisk)
	r := &Runner{Files: e.files}
	j := job{"in", WordCount, nil, "in/none", 1, 1, "out/in"}
	_, err := r.RunMap(t.Context(), e.mapTask(t, j, 0, 1, Range{0, 10}))
	require.ErrorIs(t, err, ErrBadInput, "a missing input file")
	e.write(t, "in/short", []byte("abc\n"))
	j.input = "in/short"
	_, err = r.RunMap(t.Context(), e.mapTask(t, j, 0, 1, Range{0, 10}))
	require.ErrorIs(t, err, ErrInvalid, "a range past the end")
	e.write(t, "in/recs", make([]byte, 150))
	j.input, j.workload, j.args = "in/recs", Sort, SortArgs{}
	_, err = r.RunMap(t.Context(), e.mapTask(t, j, 0, 1, Range{0, 100}))
	require.ErrorIs(t, err, ErrBadInput, "a sort input that is not whole records")
}

func TestCommitOutput(t *testing.T) {
	root := t.TempDir()
	temp, final := TempOutput("out/j", 3, 2), FinalOutput("out/j", 3)
	require.Equal(t, "out/j/_temporary/r00003-a2/part-r-00003", temp)
	require.Equal(t, "out/j/part-r-00003", final)
	require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(temp)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, temp), []byte("x"), 0o644))
	require.NoError(t, CommitOutput(root, temp, final))
	b, err := os.ReadFile(filepath.Join(root, final))
	require.NoError(t, err)
	require.Equal(t, "x", string(b))
	require.NoError(t, CommitOutput(root, temp, final), "committing twice")
	require.Error(t, CommitOutput(root, TempOutput("out/j", 4, 1), FinalOutput("out/j", 4)), "nothing to commit")
	require.ErrorIs(t, CommitOutput(root, "../x", final), ErrInvalid)
}

func TestNames(t *testing.T) {
	require.Equal(t, "wc-1a2b/m00003-a1/r00002", ShuffleKey("wc-1a2b", 3, 1, 2))
	require.Equal(t, "wc-1a2b/m00003-a1/", MapAttemptPrefix("wc-1a2b", 3, 1))
	require.True(t, strings.HasPrefix(ShuffleKey("j", 3, 1, 0), MapAttemptPrefix("j", 3, 1)))
	require.False(t, strings.HasPrefix(ShuffleKey("j", 3, 10, 0), MapAttemptPrefix("j", 3, 1)), "attempt 1's prefix is not attempt 10's")
	require.NoError(t, shuffle.ValidKey(ShuffleKey("wc-1a2b", MaxTasks-1, 99, MaxTasks-1)))
}
