package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/mapreduce"
)

// The demo is Marvel's main job, end to end on this machine: it starts the
// single-node stack in this process, generates a text corpus into the
// namespace, runs wordcount as map and reduce actions twice, once with the
// shuffle in persistent memory and once on a local disk with fsync (the
// baseline), prints the result and both job times, and reads an output file
// back through the HDFS bridge with a real HDFS client (demo_job.go). With
// --all it goes on with the state tour (demo_state.go, demo_runtime.go).

// Demo defaults. The corpus size keeps the whole demo near a minute on a
// 2-core machine (see README.md for a measured run).
const (
	DemoSeed     = 1       // seed of the demo's corpus (mapreduce.GenerateText)
	DemoVocab    = 50000   // distinct words of the corpus
	DemoSize     = 1 << 30 // default corpus size in bytes
	DemoMappers  = 8
	DemoReducers = 4
)

type demoCmd struct {
	*app
	data     string
	keep     bool
	all      bool
	kills    int
	size     sizeValue
	mappers  int
	reducers int
	diskDir  string
	vocab    int
	exe      func() (string, error) // the marvel binary: runtime instances, tasks, child processes
}

func (a *app) demoCommand() *cobra.Command {
	d := &demoCmd{app: a, exe: os.Executable, size: sizeValue{DemoSize}}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the main job: wordcount on actions, shuffle in PMEM vs on disk, read back over HDFS",
		Long: `demo runs Marvel's main job on this machine, on the embedded default:

  1. It starts the single-node stack in this process (the OpenWhisk API, the
     invoker, and the HDFS bridge on free loopback ports) over a fresh data
     directory under /dev/shm, where persistent memory is emulated on tmpfs.
     Actions run as the user running the demo (isolation off).
  2. It generates a text corpus (--size, Zipf-distributed words, seed 1)
     into the namespace's files, in/corpus.txt.
  3. It deploys the MapReduce action (marvel mr-task) and runs wordcount
     twice through the OpenWhisk API, showing progress: with the shuffle in
     persistent memory (pmem), then with the shuffle on a local disk with
     fsync (disk, under --disk-dir, which must not be tmpfs), after a small
     warm-up job that starts the task instances.
  4. It prints the top 10 words, both job times and their ratio (disk / pmem,
     measured in this run), the stage breakdown and the bytes shuffled.
  5. It reads an output file back through the HDFS bridge with the HDFS Go
     client (github.com/colinmarc/hdfs) and checks it equals the file on the
     host.

The data directory is removed at the end unless --keep (or --data) is given;
when the demo fails it is left in place and the error says where.

--all then runs the state tour in the same namespace: a function's state
surviving cold starts (new processes) and kill -9 of the writer (--kills),
capacity moving from a job to a function through the pool's leases,
durable-write latency next to a stateless baseline, and an action under the
real action proxy. Nothing here ran on real PMEM unless a DAX device or
mount was found.`,
		Args: a.usageArgs(cobra.NoArgs),
		RunE: d.run,
	}
	f := cmd.Flags()
	f.StringVar(&d.data, "data", "", "data directory to use (default: a new directory under /dev/shm, removed afterwards)")
	f.BoolVar(&d.keep, "keep", false, "keep the data directory afterwards")
	f.Var(&d.size, "size", "corpus size (e.g. 64MiB)")
	f.IntVar(&d.mappers, "mappers", DemoMappers, "map tasks")
	f.IntVar(&d.reducers, "reducers", DemoReducers, "reduce tasks (output files)")
	f.IntVar(&d.vocab, "vocab", DemoVocab, "distinct words of the corpus")
	f.StringVar(&d.diskDir, "disk-dir", "/var/tmp", "directory on a local disk for the disk shuffle baseline (not tmpfs)")
	f.BoolVar(&d.all, "all", false, "after the job, run the state tour (cold starts, kill -9, capacity pool, latency, action runtime)")
	f.IntVar(&d.kills, "kills", 50, "--all: how many times to kill -9 the writer")
	return cmd
}

func (d *demoCmd) run(cmd *cobra.Command, _ []string) (err error) {
	ctx := cmd.Context()
	// The task action's concurrency is max(mappers, reducers).
	maxTasks := min(mapreduce.MaxTasks, invoker.MaxConcurrency)
	if d.size.n < 1 || d.vocab < 1 || d.kills < 1 || d.mappers < 1 || d.reducers < 1 || d.mappers > maxTasks || d.reducers > maxTasks {
		return d.usageErr(cmd, fmt.Errorf("--size %d, --vocab %d, --kills %d, --mappers %d, --reducers %d: want positive numbers, and 1 to %d tasks",
			d.size.n, d.vocab, d.kills, d.mappers, d.reducers, maxTasks))
	}
	out := d.out()
	exe, err := d.exe()
	if err != nil {
		return fmt.Errorf("demo: find the marvel executable (run by the actions): %w", err)
	}
	dir, remove, err := d.namespace()
	if err != nil {
		return err
	}
	defer func() {
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			err = fmt.Errorf("%w (the data directory is left at %s for inspection)", err, dir)
		case remove:
			if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
				err = fmt.Errorf("demo: remove the data directory: %w", rerr)
			}
		}
	}()
	start := time.Now()
	fmt.Fprintf(out, "Marvel demo: wordcount on serverless functions, the shuffle in persistent memory vs on disk\n\n")
	next, err := d.mainJob(ctx, out, exe, dir)
	if err != nil {
		return err
	}
	if d.all {
		if err := d.stateTour(ctx, out, exe, dir, next); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "done in %.1fs", time.Since(start).Seconds())
	if remove {
		fmt.Fprintf(out, "; the data directory was removed (--keep keeps it)\n")
	} else {
		fmt.Fprintf(out, "; the data directory stays at %s\n", dir)
	}
	return nil
}

// namespace returns the data directory and whether to remove it when the
// demo succeeds (or is interrupted).
func (d *demoCmd) namespace() (string, bool, error) {
	if d.data != "" {
		dir, err := filepath.Abs(d.data)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return "", false, fmt.Errorf("demo: data directory: %w", err)
		}
		return dir, false, nil
	}
	parent := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "marvel-demo-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		return "", false, fmt.Errorf("demo: make a data directory: %w", err)
	}
	return dir, !d.keep, nil
}

// isTerminal reports whether w is a terminal (progress lines are redrawn
// only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
