package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/standalone"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/servers"
	"github.com/marvel-serverless/marvel/pmem"
)

// TaskAction is the action Run deploys to run the jobs' tasks.
const TaskAction = "marvel-bench-tasks"

// Limits of the task activations: the action's own time limit (the
// largest OpenWhisk allows) ends a hung task, and the driver waits up to
// taskWait for an activation, queueing behind the others included.
const (
	taskTimeout = time.Duration(invoker.MaxTimeoutMs) * time.Millisecond
	taskWait    = time.Hour
)

// Run runs the benchmark o describes and returns its report: it starts the
// single-node stack (invoker, OpenWhisk API) in this process over o.Data,
// the redis and S3 servers the stores need, generates the inputs, deploys
// the task action, warms its instances, then runs every workload on every
// store, Repeat times, interleaved (for each repetition, for each
// workload, for each store, the stores' order rotated by one each
// repetition) so that drift, and what one job leaves the next (page cache
// to write back, freed memory the VM must back again), hit every store
// alike. Every
// output is checked against the first store's output of its workload
// (byte-identical; sort is also validated against its input), then
// removed.
//
// On an error, and when ctx is cancelled, the report holds the runs done so
// far; an output that differs fails with ErrOutputMismatch.
func Run(ctx context.Context, o Options, p Progress) (_ *Report, err error) {
	o.fill()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if p == nil {
		p = Silent{}
	}
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	rep := &Report{Date: start.UTC(), Command: o.Command, Machine: ThisMachine(), LoadStart: loadAverage()}
	defer func() { rep.Elapsed, rep.LoadEnd = time.Since(start), loadAverage(); rep.Summarize() }()
	b := &bench{o: o, p: p, lg: lg, rep: rep}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		return rep, err
	}
	return rep, b.runAll(ctx)
}

// bench is one Run in progress.
type bench struct {
	o   Options
	p   Progress
	lg  *slog.Logger
	rep *Report

	data, scratch string
	removeData    bool
	removeScratch bool
	stack         *standalone.Stack
	client        *client.Client
	files         string
	stores        map[string]shuffle.Config // by kind
	sortIn        mapreduce.RecordsSummary
	closers       []func()
}

func (b *bench) cleanup() {
	for _, c := range slices.Backward(b.closers) {
		c()
	}
	if b.removeData {
		os.RemoveAll(b.data)
	}
	if b.removeScratch {
		os.RemoveAll(b.scratch)
	}
}

func (b *bench) setup(ctx context.Context) error {
	o := b.o
	var err error
	if b.data, b.removeData, err = workDir(o.Data, "/dev/shm", "marvel-bench-", o.Keep); err != nil {
		return fmt.Errorf("harness: data directory: %w", err)
	}
	if b.scratch, b.removeScratch, err = workDir(o.Scratch, "/var/tmp", "marvel-bench-", o.Keep); err != nil {
		return fmt.Errorf("harness: scratch directory: %w", err)
	}
	st := &b.rep.Storage
	st.Data, st.Scratch = b.data, b.scratch
	st.DataFS, st.DataHuge = fsType(b.data)
	st.ScratchFS, _ = fsType(b.scratch)
	b.rep.Setup = Setup{Workloads: o.Workloads, Repeat: o.Repeat, Concurrency: o.Concurrency, MemoryMB: o.MemoryMB,
		Latency: o.Latency, Seed: o.Seed}
	if o.needsText() {
		b.rep.Setup.TextBytes, b.rep.Setup.Vocab = o.TextSize, o.Vocab
		if slices.Contains(o.Workloads, mapreduce.Grep) {
			b.rep.Setup.GrepPattern = o.GrepPattern
		}
	}
	if o.needsSort() {
		b.rep.Setup.SortBytes = o.inputSize(mapreduce.Sort)
	}
	if err := b.checkRoom(); err != nil {
		return err
	}

	// The stack: emulated PMEM, no isolation, no HDFS bridge, a budget
	// for every task instance, and waits long enough for a queue of tasks.
	ic := invoker.DefaultConfig()
	ic.Data, ic.Mode, ic.Binary, ic.Isolate = b.data, pmem.ModeEmulated, o.Binary, false
	ic.MemoryMB = max(8192, o.Concurrency*o.MemoryMB)
	ic.MaxWait, ic.IdleTimeout = taskWait, taskWait
	b.p.Begin("start the stack (invoker, OpenWhisk API)", 1, false)
	b.stack, err = standalone.Start(standalone.Config{Invoker: ic, APIAddr: "127.0.0.1:0", NameNodeAddr: "-",
		Getenv: o.Getenv, Logger: b.lg})
	if err != nil {
		b.p.End("failed")
		return err
	}
	b.closers = append(b.closers, func() { b.stack.Close() })
	if b.client, err = b.stack.Client(""); err != nil {
		b.p.End("failed")
		return fmt.Errorf("harness: client: %w", err)
	}
	b.closers = append(b.closers, b.client.CloseIdleConnections)
	b.files = b.stack.FilesDir("guest")
	// Outputs a killed run left in a kept data directory.
	if err := os.RemoveAll(filepath.Join(b.files, filepath.FromSlash(outputRoot))); err != nil {
		b.p.End("failed")
		return fmt.Errorf("harness: remove old outputs: %w", err)
	}
	b.p.End(b.stack.APIHost() + ", data " + b.data)

	if err := b.startStores(ctx); err != nil {
		return err
	}
	var note string
	if o.Latency > 0 {
		note = fmt.Sprintf("%v latency injected before every redis and s3 request", o.Latency)
	}
	st.summarize(o.Stores, note)
	labels := make([]string, len(o.Stores))
	for i, s := range o.Stores {
		labels[i] = b.stores[s].Label()
	}
	b.rep.Setup.Stores = labels

	// Inputs.
	if o.needsText() {
		if err := generate(ctx, b.files, textInput, genParams{Kind: "text", Size: o.TextSize, Seed: o.Seed, Vocab: o.Vocab}, b.p); err != nil {
			return err
		}
	}
	if o.needsSort() {
		if err := generate(ctx, b.files, sortInput, genParams{Kind: "records", Size: o.inputSize(mapreduce.Sort), Seed: o.Seed + 1}, b.p); err != nil {
			return err
		}
		if b.sortIn, err = summarize(ctx, b.files, sortInput, b.p); err != nil {
			return err
		}
	}
	if err := generate(ctx, b.files, warmupInput, genParams{Kind: "text", Size: 1 << 20, Seed: o.Seed, Vocab: 1000}, Silent{}); err != nil {
		return err
	}

	// The task action, and its instances warmed by a small job so that
	// the first measured run pays no cold starts.
	if err := driver.Deploy(ctx, b.client, TaskAction, taskExec(o.Binary), o.Concurrency, o.MemoryMB, taskTimeout); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	b.p.Begin(fmt.Sprintf("warm %d task instances", o.Concurrency), int64(2*o.Concurrency), false)
	job := driver.Job{Name: "bench-warmup", Workload: mapreduce.WordCount, Input: warmupInput, Output: outputRoot + "/warmup",
		Mappers: o.Concurrency, Reducers: o.Concurrency, Shuffle: b.stores[o.Stores[0]], TaskTimeout: taskWait, MemoryMB: o.MemoryMB}
	_, err = driver.Run(ctx, b.env(func(n int64) { b.p.SetTotal(n + int64(o.Concurrency)) }), job)
	os.RemoveAll(filepath.Join(b.files, outputRoot, "warmup"))
	if err != nil {
		b.p.End("failed")
		return fmt.Errorf("harness: warm-up job: %w", err)
	}
	b.p.End("done")
	return nil
}

// startStores starts the servers of the remote stores and makes every
// store's configuration.
func (b *bench) startStores(ctx context.Context) error {
	o := b.o
	b.stores = map[string]shuffle.Config{}
	st := &b.rep.Storage
	for _, kind := range o.Stores {
		switch kind {
		case shuffle.KindPMEM:
			b.stores[kind] = shuffle.Config{Kind: kind, Dir: filepath.Join(b.files, ".shuffle"), Mode: "emulated"}
		case shuffle.KindDisk:
			dir := filepath.Join(b.scratch, "disk")
			// Actions may run as their namespace's user: let them write.
			if err := os.MkdirAll(dir, 0o1777); err != nil {
				return fmt.Errorf("harness: disk store: %w", err)
			}
			if err := os.Chmod(dir, 0o1777); err != nil {
				return fmt.Errorf("harness: disk store: %w", err)
			}
			b.stores[kind] = shuffle.Config{Kind: kind, Dir: dir}
		case shuffle.KindRedis:
			b.p.Begin("start redis-server", 1, false)
			r, err := servers.StartRedis(ctx, filepath.Join(b.scratch, "redis"))
			if err != nil {
				b.p.End("failed")
				return fmt.Errorf("harness: redis store: %w", err)
			}
			b.closers = append(b.closers, func() { r.Close() })
			c := r.Config()
			c.Latency = o.Latency
			b.stores[kind] = c
			bin, _ := exec.LookPath(servers.RedisBinary)
			st.Redis = redisVersion(version(bin, "--version"))
			b.p.End(r.Addr)
		case shuffle.KindS3:
			opts := servers.DefaultS3Options()
			note := ""
			if _, ok := servers.FindMinIO(opts); !ok {
				note = " (building MinIO first: minutes)"
			}
			b.p.Begin("start the S3 server (MinIO)"+note, 1, false)
			s, err := servers.StartS3With(ctx, filepath.Join(b.scratch, "s3"), opts)
			if err != nil {
				b.p.End("failed")
				return fmt.Errorf("harness: s3 store: %w", err)
			}
			b.closers = append(b.closers, func() { s.Close() })
			c := s.Config()
			c.Latency = o.Latency
			b.stores[kind] = c
			st.S3 = "MinIO"
			if bin, ok := servers.FindMinIO(opts); ok {
				st.S3 = minioVersion(version(bin, "--version"))
			}
			b.p.End(s.Addr)
		}
	}
	return nil
}

// checkRoom fails with ErrNoRoom when the data directory cannot hold the
// inputs and the shuffle and output of the largest job, or the scratch
// directory the largest job's shuffle (disk and s3 stores; each job's
// shuffle is deleted when it ends).
func (b *bench) checkRoom() error {
	var inputs, largest int64
	if b.o.needsText() {
		inputs += b.o.TextSize
		largest = b.o.TextSize
	}
	if b.o.needsSort() {
		n := b.o.inputSize(mapreduce.Sort)
		inputs += n
		largest = max(largest, n)
	}
	const margin = 256 << 20
	need := inputs + 2*largest + margin
	if free := freeBytes(b.data); free >= 0 && free < need {
		return fmt.Errorf("%w: %s has %s free; the inputs (%s) and the largest job's shuffle and output need about %s: use a smaller --size, fewer workloads or another --data",
			ErrNoRoom, b.data, humanize.IBytes(uint64(free)), humanize.IBytes(uint64(inputs)), humanize.IBytes(uint64(need)))
	}
	if !slices.Contains(b.o.Stores, shuffle.KindDisk) && !slices.Contains(b.o.Stores, shuffle.KindS3) {
		return nil
	}
	if free := freeBytes(b.scratch); free >= 0 && free < largest+margin {
		return fmt.Errorf("%w: %s has %s free; the largest job's shuffle needs about %s: use a smaller --size or another --scratch",
			ErrNoRoom, b.scratch, humanize.IBytes(uint64(free)), humanize.IBytes(uint64(largest+margin)))
	}
	return nil
}

// runAll runs every workload on every store, Repeat times, interleaved.
func (b *bench) runAll(ctx context.Context) error {
	o := b.o
	total := o.Repeat * len(o.Workloads) * len(o.Stores)
	refs := map[string]Output{}
	seq := 0
	for r := 1; r <= o.Repeat; r++ {
		for _, w := range o.Workloads {
			for _, s := range rotate(o.Stores, r-1) {
				seq++
				res, out, err := b.runOne(ctx, seq, total, r, w, b.stores[s])
				if err != nil {
					return err
				}
				ref, ok := refs[w]
				if !ok {
					refs[w] = out
				} else if err := CompareOutputs(ref, out); err != nil {
					b.rep.Runs = append(b.rep.Runs, res)
					return err
				}
				b.rep.Runs = append(b.rep.Runs, res)
			}
		}
	}
	return nil
}

// rotate returns stores rotated left by k: repetition r starts with store
// (r-1) mod n, so that no store always runs first or always follows the
// same one. The first repetition keeps the given order (its first store's
// outputs are the reference).
func rotate(stores []string, k int) []string {
	k %= len(stores)
	return append(slices.Clone(stores[k:]), stores[:k]...)
}

// runOne runs workload w on store sc, checks its output and removes it.
func (b *bench) runOne(ctx context.Context, seq, total, repeat int, w string, sc shuffle.Config) (RunResult, Output, error) {
	o := b.o
	label := sc.Label()
	input := textInput
	var args json.RawMessage
	switch w {
	case mapreduce.Sort:
		input = sortInput
	case mapreduce.Grep:
		args, _ = json.Marshal(mapreduce.GrepArgs{Pattern: o.GrepPattern})
	}
	maps, reduces := o.tasks(o.inputSize(w))
	name := fmt.Sprintf("bench-%03d-%s-%s", seq, w, sc.Kind)
	outDir := outputRoot + "/" + name
	job := driver.Job{Name: name, Workload: w, Input: input, Output: outDir, Mappers: maps, Reducers: reduces,
		Shuffle: sc, Args: args, TaskTimeout: taskWait, MemoryMB: o.MemoryMB}
	what := fmt.Sprintf("[%d/%d] %s on %s", seq, total, w, label)
	if o.Repeat > 1 {
		what += fmt.Sprintf(" (repeat %d)", repeat)
	}
	b.p.Begin(what, int64(maps+reduces), false)
	started := time.Now()
	res, err := driver.Run(ctx, b.env(func(n int64) { b.p.SetTotal(n + int64(reduces)) }), job)
	defer os.RemoveAll(filepath.Join(b.files, filepath.FromSlash(outDir)))
	if err != nil {
		b.p.End("failed")
		return RunResult{}, Output{}, fmt.Errorf("harness: %s on %s (repeat %d): %w", w, label, repeat, err)
	}
	run := RunResult{Seq: seq, Repeat: repeat, Store: label, Started: started.UTC(), Result: res}
	var in *mapreduce.RecordsSummary
	if w == mapreduce.Sort {
		in = &b.sortIn
	}
	sum, n, err := readOutput(b.files, res.Outputs, in)
	if err != nil {
		b.p.End("output check failed")
		return run, Output{}, fmt.Errorf("harness: %s on %s (repeat %d): %w", w, label, repeat, err)
	}
	run.OutputSHA256 = sum
	b.p.End(fmt.Sprintf("%s (map %s, reduce %s), %s shuffled", secs(res.Total), secs(res.MapStage), secs(res.ReduceStage),
		humanize.IBytes(uint64(res.BytesShuffled))))
	return run, Output{Workload: w, Store: label, Repeat: repeat, SHA256: sum, Bytes: n}, nil
}

// env is the driver's environment; mapsKnown is told the number of map
// tasks at the first task event.
func (b *bench) env(mapsKnown func(n int64)) driver.Env {
	first := true
	return driver.Env{Client: b.client, FilesDir: b.files, Action: TaskAction, Progress: func(e driver.Event) {
		if first && e.Phase == mapreduce.PhaseMap {
			first = false
			mapsKnown(int64(e.Total))
		}
		if e.Err == nil {
			b.p.Add(1)
		}
	}}
}

// workDir returns dir, created if missing, or else a new directory under
// parent (os.TempDir() if parent is missing) and whether to remove it at
// the end.
func workDir(dir, parent, prefix string, keep bool) (string, bool, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", false, err
		}
		abs, err := filepath.Abs(dir)
		return abs, false, err
	}
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		parent = os.TempDir()
	}
	d, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", false, err
	}
	if err := os.Chmod(d, 0o755); err != nil {
		os.RemoveAll(d)
		return "", false, err
	}
	return d, !keep, nil
}

// taskExec is the task action's exec: a script that runs `marvel mr-task`
// (ActionLoop) from bin, as `marvel job run` deploys it.
func taskExec(bin string) whisk.Exec {
	code := "#!/bin/sh\nexec " + shellQuote(bin) + " mr-task\n"
	return whisk.Exec{Kind: "native", Code: &code}
}

func shellQuote(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, `'\''`...)
		} else {
			out = append(out, s[i])
		}
	}
	return string(append(out, '\''))
}
