package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/marvel-serverless/marvel/benchmarks/harness"
)

// benchCmd holds the flags of `marvel bench`.
type benchCmd struct {
	*app
	quick       bool
	size        sizeValue
	workloads   string
	stores      string
	repeat      int
	mappers     int
	reducers    int
	concurrency int
	latency     time.Duration
	memoryMB    int
	outDir      string
	data        string
	scratch     string
	keep        bool
	plots       string
	binary      string
	now         func() time.Time
}

func (a *app) benchCommand() *cobra.Command {
	b := &benchCmd{app: a, now: time.Now}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark MapReduce jobs with PMEM shuffle against Redis, S3 and disk shuffle",
		Long: `bench runs each workload (wordcount, sort, grep) with each shuffle store
(pmem, redis, s3, disk) on this machine and compares them. It starts the
single-node stack in this process over --data (by default a new directory on
/dev/shm, removed afterwards), a real redis-server and a real S3 server
(MinIO) as the stores need, generates the inputs (deterministic), and runs
every workload × store --repeat times, interleaved (the stores' order rotated
each repetition) so that drift hits every store alike. Every output is
checked against the first store's output of its workload, byte for byte
(sort also TeraValidate-style against its input); a difference fails the
command.

PMEM is emulated on tmpfs (DRAM) here; the disk store writes and fsyncs files
on ext4 under --scratch (default /var/tmp); redis runs without persistence;
MinIO stores on --scratch. --latency is injected on the redis and s3 stores
only, and labelled so ("redis+2ms"). /dev/shm maps 4 KiB pages; a PMEM
namespace is mapped with 2 MiB pages, which a tmpfs mounted with huge=always
emulates (mount -t tmpfs -o size=16g,huge=always tmpfs /mnt/pmem, then
--data /mnt/pmem/bench): the table says which it ran on.

It prints a table (median job time and its spread, stage times, shuffle time
summed over tasks, bytes shuffled, GB-seconds, PMEM's speedup against each
store) and writes --out/results.json (every run, the machine and this
command line), --out/results.csv (one row per run) and plots.

  marvel bench --quick                        # ~100 MiB of input, once (a few minutes)
  marvel bench                                # 4 GiB inputs, 3 repetitions
  marvel bench --size 1GiB --workloads sort --repeat 3`,
		Args: a.usageArgs(cobra.NoArgs),
		RunE: b.run,
	}
	f := cmd.Flags()
	f.BoolVar(&b.quick, "quick", false, fmt.Sprintf("smoke run: %d MiB of text and %d MiB of records, once", harness.QuickSize>>20, harness.QuickSize>>20))
	f.Var(&b.size, "size", fmt.Sprintf("bytes of each input, the text and the sort records (default %d GiB)", harness.FullSize>>30))
	f.StringVar(&b.workloads, "workloads", "wordcount,sort,grep", "workloads to run, comma-separated, in this order")
	f.StringVar(&b.stores, "stores", "pmem,redis,s3,disk", "shuffle stores, comma-separated; the first one's outputs are the reference")
	f.IntVar(&b.repeat, "repeat", 0, "repetitions of every workload × store (default 3; 1 with --quick)")
	f.IntVar(&b.mappers, "mappers", 0, "map tasks per job (default: one per 64 MiB of input, 4 to 256)")
	f.IntVar(&b.reducers, "reducers", 0, "reduce tasks per job (default: half the mappers, 2 to 128)")
	f.IntVar(&b.concurrency, "concurrency", 0, "task instances running at once (default: two per CPU core)")
	f.DurationVar(&b.latency, "latency", 0, "latency injected before every redis and s3 request (remote-store emulation; labelled in the results)")
	f.IntVar(&b.memoryMB, "memory", harness.DefaultMemoryMB, "memory limit of the task action in MB (the unit of GB-seconds)")
	f.StringVar(&b.outDir, "out", "", "directory for results.json, results.csv and the plots (default: bench-results/DATE-TIME)")
	f.StringVar(&b.data, "data", "", "data directory of the stack, inputs and pmem store (default: a new directory under /dev/shm)")
	f.StringVar(&b.scratch, "scratch", "", "directory of the disk store and the servers (default: a new directory under /var/tmp)")
	f.BoolVar(&b.keep, "keep", false, "keep the directories bench created (a kept --data reuses its inputs)")
	f.StringVar(&b.plots, "plots", harness.PlotPNG, "plot format: png, svg or none")
	f.StringVar(&b.binary, "runtime-binary", "", "marvel executable the runtime instances and the task action run (default: this one; env MARVEL_BINARY)")
	return cmd
}

// options turns the flags into the harness's options.
func (b *benchCmd) options(cmd *cobra.Command) (harness.Options, error) {
	f := cmd.Flags()
	o := harness.DefaultOptions()
	if b.quick {
		if f.Changed("size") {
			return o, errors.New("--quick and --size: give one")
		}
		o = harness.QuickOptions()
	}
	if f.Changed("size") {
		o.TextSize, o.SortSize = b.size.n, b.size.n
	}
	o.Workloads, o.Stores = splitList(b.workloads), splitList(b.stores)
	if b.repeat != 0 || f.Changed("repeat") {
		o.Repeat = b.repeat
		if b.repeat < 1 {
			return o, fmt.Errorf("--repeat %d: want at least 1", b.repeat)
		}
	}
	o.Mappers, o.Reducers, o.Concurrency = b.mappers, b.reducers, b.concurrency
	o.Latency, o.MemoryMB = b.latency, b.memoryMB
	o.Data, o.Scratch, o.Keep = b.data, b.scratch, b.keep
	switch b.plots {
	case harness.PlotPNG, harness.PlotSVG, harness.PlotNone:
	default:
		return o, fmt.Errorf("--plots %q: want png, svg or none", b.plots)
	}
	o.Binary = b.binary
	if o.Binary == "" {
		o.Binary = b.env.Getenv("MARVEL_BINARY")
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the marvel executable: %w (give it with --runtime-binary)", err)
		}
		o.Binary = exe
	}
	if abs, err := filepath.Abs(o.Binary); err == nil {
		o.Binary = abs
	}
	o.Command = commandLine(cmd)
	o.Getenv, o.Logger = b.env.Getenv, b.logger()
	return o, o.Validate()
}

func (b *benchCmd) run(cmd *cobra.Command, _ []string) error {
	o, err := b.options(cmd)
	if err != nil {
		return b.usageErr(cmd, err)
	}
	out := b.outDir
	if out == "" {
		out = filepath.Join("bench-results", b.now().Format("20060102-150405"))
	}
	var p harness.Progress = &harness.Lines{W: b.env.Stderr}
	if isTerminalWriter(b.env.Stderr) {
		p = &harness.Bar{W: b.env.Stderr}
	}
	rep, runErr := harness.Run(cmd.Context(), o, p)
	if rep == nil || len(rep.Runs) == 0 {
		if runErr != nil {
			return fmt.Errorf("bench: %w", runErr)
		}
		return errors.New("bench: no run completed")
	}
	w := b.out()
	fmt.Fprintln(w)
	if err := harness.WriteTable(w, rep); err != nil {
		return err
	}
	if err := harness.WriteResults(out, rep); err != nil {
		return errors.Join(runErr, err)
	}
	plots, err := harness.WritePlots(out, rep, b.plots)
	if err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(w, "\nresults: %s, %s\n", filepath.Join(out, harness.ResultsJSON), filepath.Join(out, harness.ResultsCSV))
	if len(plots) > 0 {
		fmt.Fprintf(w, "plots:   %s\n", strings.Join(plots, ", "))
	}
	if b.keep {
		fmt.Fprintf(w, "kept:    data %s, scratch %s\n", rep.Storage.Data, rep.Storage.Scratch)
	}
	fmt.Fprintf(w, "took %s\n", rep.Elapsed.Round(time.Second))
	if runErr != nil {
		return fmt.Errorf("bench: %w (the results of the runs before it are written)", runErr)
	}
	return nil
}

// commandLine is the command as given: its path and the flags set.
func commandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Value.Type() == "bool" && f.Value.String() == "true" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name+" "+shellWord(f.Value.String()))
	})
	return strings.Join(parts, " ")
}

// shellWord quotes s for a shell if it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/:=+@%") == "" {
		return s
	}
	return shellQuote(s)
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// isTerminalWriter reports whether w is a terminal (a progress bar can be
// drawn on it).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
