// Package driver runs a MapReduce job on OpenWhisk actions: it splits the
// input, invokes one map activation per split through the OpenWhisk API,
// then one reduce activation per partition, retrying failed or timed-out
// attempts, and commits each reduce output by renaming the winning
// attempt's file, so a retry never duplicates output. Map outputs go to the
// job's shuffle store (package mapreduce/shuffle); the tasks themselves are
// package mapreduce's.
//
// The driver runs on the node that holds the namespace's files (it reads
// the input's size and sample, and commits outputs, in FilesDir); the
// actions reach the same files as their MARVEL_FILES_DIR.
package driver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// stragglerGrace is how long after a job ends its cleanup goes over the
// job's data a second time when an attempt got no answer from the API
// (its server died, or the connection broke): the attempt's task process
// may still be writing for a moment.
const stragglerGrace = 2 * time.Second

// Job describes one MapReduce job.
type Job struct {
	// Name identifies the job in shuffle keys; empty: WORKLOAD-<random>.
	Name string
	// Workload is "wordcount", "grep" or "sort".
	Workload string
	// Input is a file, or a directory of files, relative to the files
	// directory; Output a directory there that must not hold output yet.
	Input, Output string
	// Mappers is how many map tasks (at most; small inputs get fewer) and
	// Reducers how many reduce tasks (output files).
	Mappers, Reducers int
	// Shuffle is where map outputs go.
	Shuffle shuffle.Config
	// Args are the workload's arguments (mapreduce.GrepArgs); for sort the
	// driver samples the input for split points when Args is empty.
	Args json.RawMessage
	// MaxAttempts bounds the attempts of each task (default 3).
	MaxAttempts int
	// TaskTimeout is each activation's time limit (default 5 minutes).
	TaskTimeout time.Duration
	// MemoryMB is the actions' memory limit (default 256), the unit of
	// GB-seconds.
	MemoryMB int
	// Fail injects failures into given tasks, "map/3" or "reduce/0"
	// (tests only; see mapreduce.Fail).
	Fail map[string]*mapreduce.Fail
}

// Env is where the job runs.
type Env struct {
	// Client reaches the OpenWhisk API as the namespace that runs the job.
	Client *client.Client
	// FilesDir is the namespace's files directory on this host
	// (DATA/fs/NAMESPACE under marvel standalone).
	FilesDir string
	// Action is the action that runs the workload's tasks (both phases).
	// Deploy creates it.
	Action string
	// Progress, if set, is told of each task attempt as it ends, one call
	// at a time (it must not call back into the job).
	Progress func(Event)
}

// Event reports a task that ended.
type Event struct {
	Phase     mapreduce.Phase
	Task      int
	Attempt   int
	Err       error // nil: it succeeded
	Done      int   // tasks of the phase done so far
	Total     int
	Retrying  bool
	Duration  time.Duration
	Activated string // activation id
}

// Times are where a job's time went.
type Times struct {
	// Total is the job's time from the first invoke to the last commit;
	// MapStage and ReduceStage the two stages' wall times.
	Total       time.Duration `json:"total_ns"`
	MapStage    time.Duration `json:"map_stage_ns"`
	ReduceStage time.Duration `json:"reduce_stage_ns"`
	// ShuffleWrite and ShuffleRead sum the tasks' time in the shuffle
	// store (map Puts, reduce Gets); MapCompute and ReduceCompute their
	// computing.
	ShuffleWrite  time.Duration `json:"shuffle_write_ns"`
	ShuffleRead   time.Duration `json:"shuffle_read_ns"`
	MapCompute    time.Duration `json:"map_compute_ns"`
	ReduceCompute time.Duration `json:"reduce_compute_ns"`
	// TaskTime sums the activations' durations, failed attempts too.
	TaskTime time.Duration `json:"task_ns"`
}

// Result is what a job did and what it took.
type Result struct {
	Job      string `json:"job"`
	Workload string `json:"workload"`
	Shuffle  string `json:"shuffle"`
	Maps     int    `json:"maps"`
	Reduces  int    `json:"reduces"`
	Retries  int    `json:"retries"`
	// MapReruns counts map tasks run again during the reduce stage
	// because a reducer found their output lost or corrupt.
	MapReruns int `json:"map_reruns,omitempty"`
	Times
	// BytesIn is the input read, BytesShuffled the partitions written,
	// BytesOut the output.
	BytesIn       int64 `json:"bytes_in"`
	BytesShuffled int64 `json:"bytes_shuffled"`
	BytesOut      int64 `json:"bytes_out"`
	RecordsOut    int64 `json:"records_out"`
	// GBSeconds is OpenWhisk's billing measure: each activation's
	// duration times its memory limit in GB, summed (failed attempts too).
	GBSeconds float64 `json:"gb_seconds"`
	// Outputs are the committed files, relative to the files directory.
	Outputs []string `json:"outputs"`
}

// Deploy creates or updates action name to run workload tasks with exec:
// stateless (annotation state=false), so up to concurrency instances run
// tasks at once, each with memoryMB and timeout.
func Deploy(ctx context.Context, c *client.Client, name string, exec whisk.Exec, concurrency, memoryMB int, timeout time.Duration) error {
	if memoryMB == 0 {
		memoryMB = 256
	}
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ms := int(timeout.Milliseconds())
	a := whisk.Action{
		Name:        name,
		Exec:        &exec,
		Annotations: whisk.KeyValues{}.Set("state", false).Set("description", "Marvel MapReduce tasks"),
		Limits:      &whisk.Limits{Timeout: &ms, Memory: &memoryMB, Concurrency: &concurrency},
	}
	if _, err := c.PutAction(ctx, a, true); err != nil {
		return fmt.Errorf("deploy action %s: %w", name, err)
	}
	return nil
}

// Run runs job in env and returns what it did. The output directory gets
// one file per reducer, part-r-NNNNN; on failure what was committed stays
// and the error says which task failed and why. Before it returns, the
// job's shuffle data and temporary outputs are deleted; if an attempt got
// no answer from the API, once more stragglerGrace later, for a task
// process that outlived its server for a moment.
func Run(ctx context.Context, env Env, job Job) (Result, error) {
	if err := fill(&job); err != nil {
		return Result{}, err
	}
	recSize, err := mapreduce.InputRecordSize(job.Workload)
	if err != nil {
		return Result{}, err
	}
	out := filepath.Join(env.FilesDir, filepath.FromSlash(job.Output))
	if ents, err := os.ReadDir(out); err == nil && slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), "part-") }) {
		return Result{}, fmt.Errorf("output %s already holds a job's output: choose another --output or remove it", job.Output)
	}
	splits, err := split(env.FilesDir, job.Input, job.Mappers, recSize)
	if err != nil {
		return Result{}, err
	}
	if job.Workload == mapreduce.Sort && len(job.Args) == 0 {
		if job.Args, err = sortArgs(env.FilesDir, job.Input, job.Reducers); err != nil {
			return Result{}, err
		}
	}
	store, err := shuffle.Open(ctx, job.Shuffle)
	if err != nil {
		return Result{}, fmt.Errorf("shuffle store: %w", err)
	}
	defer store.Close()

	r := &run{env: env, job: job, res: Result{Job: job.Name, Workload: job.Workload, Shuffle: job.Shuffle.Label(),
		Maps: len(splits), Reduces: job.Reducers}}
	t0 := time.Now()
	defer func() {
		// The shuffle data of the job, committed or not, is not needed
		// once the job ends.
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		clean := func() {
			store.DeletePrefix(cctx, mapreduce.JobPrefix(job.Name))
			os.RemoveAll(filepath.Join(out, "_temporary"))
		}
		clean()
		if r.unanswered.Load() {
			// An attempt got no answer: the API's server may have died
			// under it. Its task processes die with it (parent-death
			// signals), but a moment later, and may write until then.
			t := time.NewTimer(stragglerGrace)
			select {
			case <-t.C:
				clean()
			case <-ctx.Done():
				t.Stop()
			}
		}
	}()

	// Map stage. mu guards maps, which a rerun replaces during the
	// reduce stage.
	var mu sync.Mutex
	maps := make([]*mapreduce.MapResult, len(splits))
	mapTask := func(i, attempt int) mapreduce.Task {
		sp := splits[i]
		return mapreduce.Task{Job: job.Name, Phase: mapreduce.PhaseMap, Task: i, Attempt: attempt, Workload: job.Workload,
			Shuffle: job.Shuffle, Args: job.Args, Input: &sp, Reducers: job.Reducers}
	}
	acceptMap := func(i int, raw json.RawMessage) error {
		var m mapreduce.MapResult
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Keys) != job.Reducers {
			return fmt.Errorf("map task %d answered %s: not a map result with %d keys", i, abbreviate(raw), job.Reducers)
		}
		mu.Lock()
		maps[i] = &m
		mu.Unlock()
		return nil
	}
	err = r.stage(ctx, mapreduce.PhaseMap, len(splits), mapTask, acceptMap, nil)
	r.res.MapStage = time.Since(t0)
	if err != nil {
		return r.res, err
	}
	for _, m := range maps {
		r.addMap(m)
	}

	// Reduce stage: each reducer reads its partition of every map task's
	// successful attempt; the winning attempt's file is committed.
	t1 := time.Now()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return r.res, fmt.Errorf("output directory: %w", err)
	}
	rerun := r.rerunner(maps, &mu, mapTask, acceptMap)
	err = r.stage(ctx, mapreduce.PhaseReduce, job.Reducers, func(j, attempt int) mapreduce.Task {
		inputs := make([]string, len(maps))
		mu.Lock()
		for i, m := range maps {
			inputs[i] = m.Keys[j]
		}
		mu.Unlock()
		return mapreduce.Task{Job: job.Name, Phase: mapreduce.PhaseReduce, Task: j, Attempt: attempt, Workload: job.Workload,
			Shuffle: job.Shuffle, Args: job.Args, Inputs: inputs, Output: mapreduce.TempOutput(job.Output, j, attempt)}
	}, func(j int, raw json.RawMessage) error {
		var rr mapreduce.ReduceResult
		if err := json.Unmarshal(raw, &rr); err != nil || rr.Output == "" {
			return fmt.Errorf("reduce task %d answered %s: not a reduce result", j, abbreviate(raw))
		}
		final := mapreduce.FinalOutput(job.Output, j)
		if err := mapreduce.CommitOutput(env.FilesDir, rr.Output, final); err != nil {
			return err
		}
		r.mu.Lock()
		r.res.BytesOut += rr.BytesOut
		r.res.RecordsOut += rr.RecordsOut
		r.res.ShuffleRead += ms(rr.Timings.ShuffleRead)
		r.res.ReduceCompute += ms(rr.Timings.Compute)
		r.mu.Unlock()
		return nil
	}, rerun)
	r.res.ReduceStage = time.Since(t1)
	r.res.Total = time.Since(t0)
	for j := range job.Reducers {
		r.res.Outputs = append(r.res.Outputs, mapreduce.FinalOutput(job.Output, j))
	}
	if err != nil {
		r.res.Outputs = nil
		return r.res, err
	}
	return r.res, nil
}

// addMap counts a successful map attempt's input, output and times.
func (r *run) addMap(m *mapreduce.MapResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.BytesIn += m.BytesIn
	for _, b := range m.Bytes {
		r.res.BytesShuffled += b
	}
	r.res.ShuffleWrite += ms(m.Timings.ShuffleWrite)
	r.res.MapCompute += ms(m.Timings.Compute)
}

// rerunner returns the reduce stage's answer to lost inputs, as Hadoop
// re-executes a map whose output a reducer cannot fetch: the map tasks that
// wrote the keys run again, with attempt numbers after the map stage's, and
// their new outputs replace the old ones in maps, so the reducer's next
// attempt reads those. Reducers that lose the same map's output at once
// cause one rerun: a key no longer in maps was already replaced.
func (r *run) rerunner(maps []*mapreduce.MapResult, mu *sync.Mutex,
	task func(i, attempt int) mapreduce.Task, accept func(i int, raw json.RawMessage) error) func(context.Context, []string) error {
	var serial sync.Mutex // one rerun at a time
	next := make([]int, len(maps))
	for i := range next {
		next[i] = r.job.MaxAttempts + 1
	}
	return func(ctx context.Context, keys []string) error {
		serial.Lock()
		defer serial.Unlock()
		lost := map[int]bool{}
		mu.Lock()
		for i, m := range maps {
			for _, k := range m.Keys {
				if slices.Contains(keys, k) {
					lost[i] = true
				}
			}
		}
		mu.Unlock()
		for i := range maps {
			if !lost[i] {
				continue
			}
			var err error
			for range r.job.MaxAttempts {
				t := task(i, next[i])
				next[i]++
				var raw json.RawMessage
				if raw, _, err = r.invoke(ctx, &t); err == nil {
					err = accept(i, raw)
				}
				if err == nil || ctx.Err() != nil {
					break
				}
			}
			if err != nil {
				return fmt.Errorf("map task %d: %w", i, err)
			}
			mu.Lock()
			m := maps[i]
			mu.Unlock()
			r.addMap(m)
			r.mu.Lock()
			r.res.MapReruns++
			r.mu.Unlock()
		}
		return nil
	}
}

// fill checks job and sets its defaults.
func fill(job *Job) error {
	if job.Name == "" {
		var b [4]byte
		rand.Read(b[:])
		job.Name = job.Workload + "-" + hex.EncodeToString(b[:])
	}
	if job.MaxAttempts == 0 {
		job.MaxAttempts = 3
	}
	if job.TaskTimeout == 0 {
		job.TaskTimeout = 5 * time.Minute
	}
	if job.MemoryMB == 0 {
		job.MemoryMB = 256
	}
	var errs []error
	if !slices.Contains(mapreduce.Workloads(), job.Workload) {
		errs = append(errs, fmt.Errorf("workload %q: want one of %s", job.Workload, strings.Join(mapreduce.Workloads(), ", ")))
	}
	for _, p := range []struct{ what, v string }{{"input", job.Input}, {"output", job.Output}} {
		if p.v == "" || path.IsAbs(p.v) || strings.Contains("/"+p.v+"/", "/../") {
			errs = append(errs, fmt.Errorf("%s %q: want a path relative to the namespace's files, without ..", p.what, p.v))
		}
	}
	if job.Mappers < 1 || job.Reducers < 1 || job.Mappers > mapreduce.MaxTasks || job.Reducers > mapreduce.MaxTasks {
		errs = append(errs, fmt.Errorf("%d mappers and %d reducers: want 1 to %d each", job.Mappers, job.Reducers, mapreduce.MaxTasks))
	}
	if job.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts %d: want at least 1", job.MaxAttempts))
	}
	if err := job.Shuffle.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// split lists the input's files and cuts them into at most mappers splits.
func split(files, input string, mappers, recSize int) ([]mapreduce.Split, error) {
	root := filepath.Join(files, filepath.FromSlash(input))
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", input, err)
	}
	type file struct {
		rel  string
		size int64
	}
	var list []file
	var total int64
	if !fi.IsDir() {
		list, total = []file{{input, fi.Size()}}, fi.Size()
	} else {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(files, p)
			list = append(list, file{filepath.ToSlash(rel), info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", input, err)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("input %s holds no files", input)
	}
	per := max((total+int64(mappers)-1)/int64(mappers), 1)
	var out []mapreduce.Split
	for _, f := range list {
		n := int(max((f.size+per-1)/per, 1))
		ranges, err := mapreduce.Splits(f.size, n, recSize)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", f.rel, err)
		}
		for _, r := range ranges {
			out = append(out, mapreduce.Split{Path: f.rel, Offset: r.Offset, Length: r.Length})
		}
	}
	if len(out) > mapreduce.MaxTasks {
		return nil, fmt.Errorf("input %s makes %d splits, over %d", input, len(out), mapreduce.MaxTasks)
	}
	return out, nil
}

// sortArgs samples the sort input for the reducers' split points.
func sortArgs(files, input string, reducers int) (json.RawMessage, error) {
	root := filepath.Join(files, filepath.FromSlash(input))
	var paths []string
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		ents, err := os.ReadDir(root)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
				paths = append(paths, filepath.Join(root, e.Name()))
			}
		}
	} else {
		paths = []string{root}
	}
	var sample []byte
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err == nil {
			var s []byte
			s, err = mapreduce.SampleRecords(f, st.Size(), max(10000/len(paths), 100))
			sample = append(sample, s...)
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", p, err)
		}
	}
	pts, err := mapreduce.SampleSplitPoints(sample, reducers)
	if err != nil {
		return nil, err
	}
	return json.Marshal(mapreduce.NewSortArgs(pts))
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func abbreviate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
