package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// MapReduceAction is the action `marvel job run` deploys to run tasks.
const MapReduceAction = "marvel-mapreduce"

// jobCmd holds the flags of `marvel job run`.
type jobCmd struct {
	*wskCmd
	data        string
	input       string
	output      string
	mappers     int
	reducers    int
	shuffle     string
	shuffleDir  string
	addr        string
	bucket      string
	latency     time.Duration
	pattern     string
	attempts    int
	taskTimeout time.Duration
	memoryMB    int
	binary      string
	name        string
	jsonOut     bool
}

func (a *app) jobCommand() *cobra.Command {
	group := &cobra.Command{
		Use:   "job",
		Short: "Run MapReduce jobs on actions (wordcount, sort, grep) and generate their input",
		Args:  a.usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	j := &jobCmd{wskCmd: a.wskGroup(group)}
	run := &cobra.Command{
		Use:   "run WORKLOAD",
		Short: "Run a MapReduce job through the OpenWhisk API",
		Long: `run splits --input (a file or directory under the namespace's files), invokes
one map activation per split through the OpenWhisk API, then one reduce
activation per partition, and commits part-r-NNNNN files under --output.
Map outputs go to the --shuffle store: pmem (files in the PMEM namespace,
mapped by the reducers), disk (files on a local disk, fsynced), redis
(--addr of a redis-server) or s3 (--addr of an S3 server, --bucket, keys from
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Failed or timed-out tasks are
retried (--attempts) under new attempt ids; only one attempt's output is
committed. It deploys the tasks' action (` + MapReduceAction + `, stateless, up to
max(mappers, reducers) instances) running this marvel binary.

It runs on the node of marvel standalone: --data is its data directory.

` + wskConfigHelp,
		Args: a.usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error { return j.run(cmd, args[0]) },
	}
	f := run.Flags()
	f.StringVar(&j.data, "data", "/var/lib/marvel", "the data directory of marvel standalone (env MARVEL_DATA)")
	f.StringVar(&j.input, "input", "", "input file or directory, relative to the namespace's files (required)")
	f.StringVar(&j.output, "output", "", "output directory, relative to the namespace's files (required)")
	f.IntVar(&j.mappers, "mappers", 4, "map tasks (at most; small inputs get fewer)")
	f.IntVar(&j.reducers, "reducers", 2, "reduce tasks: output files")
	f.StringVar(&j.shuffle, "shuffle", "pmem", "shuffle store: pmem, disk, redis or s3")
	f.StringVar(&j.shuffleDir, "shuffle-dir", "", "directory of the pmem or disk store (default: FILES/.shuffle for pmem, /var/tmp/marvel-shuffle for disk)")
	f.StringVar(&j.addr, "addr", "", "host:port of the redis or s3 store")
	f.StringVar(&j.bucket, "bucket", "marvel-shuffle", "bucket of the s3 store")
	f.DurationVar(&j.latency, "latency", 0, "latency injected before each shuffle store request (remote-store emulation; shown in the results)")
	f.StringVar(&j.pattern, "pattern", "", "grep: the regular expression")
	f.IntVar(&j.attempts, "attempts", 3, "attempts per task")
	f.DurationVar(&j.taskTimeout, "task-timeout", 5*time.Minute, "time limit of each task activation")
	f.IntVar(&j.memoryMB, "memory", 256, "memory limit of the task action in MB (GB-seconds are counted with it)")
	f.StringVar(&j.binary, "action-binary", "", "marvel executable the task action runs (default: this one)")
	f.StringVar(&j.name, "name", "", "job name in shuffle keys (default: WORKLOAD-<random>)")
	f.BoolVar(&j.jsonOut, "json", false, "print the result as JSON")
	group.AddCommand(run, a.jobGenCommand())
	return group
}

// filesDir is the namespace's files directory under the data directory.
func filesDir(data, ns string) string { return filepath.Join(data, "fs", ns) }

func (j *jobCmd) run(cmd *cobra.Command, workload string) error {
	ctx := cmd.Context()
	if j.input == "" || j.output == "" {
		return j.usageErr(cmd, fmt.Errorf("--input and --output are required"))
	}
	c, err := j.client(cmd)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	nss, err := c.Namespaces(ctx)
	if err != nil || len(nss) == 0 {
		return fmt.Errorf("job: find the namespace of the credentials: %v", describeWsk(err))
	}
	data, err := filepath.Abs(j.data)
	if err != nil {
		return err
	}
	files := filesDir(data, nss[0])
	sc := shuffle.Config{Kind: j.shuffle, Addr: j.addr, Latency: j.latency}
	switch j.shuffle {
	case "pmem":
		sc.Dir = j.shuffleDir
		if sc.Dir == "" {
			sc.Dir = filepath.Join(files, ".shuffle")
		}
	case "disk":
		sc.Dir = j.shuffleDir
		if sc.Dir == "" {
			sc.Dir = "/var/tmp/marvel-shuffle"
		}
		// Actions may run as their namespace's user: let them write.
		if err := mkdirMode(sc.Dir, 0o1777); err != nil {
			return fmt.Errorf("job: disk shuffle directory: %w", err)
		}
	case "s3":
		sc.Bucket = j.bucket
		sc.AccessKey, sc.SecretKey = j.env.Getenv("AWS_ACCESS_KEY_ID"), j.env.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	job := driver.Job{Name: j.name, Workload: workload, Input: j.input, Output: j.output, Mappers: j.mappers,
		Reducers: j.reducers, Shuffle: sc, MaxAttempts: j.attempts, TaskTimeout: j.taskTimeout, MemoryMB: j.memoryMB}
	if workload == mapreduce.Grep {
		if j.pattern == "" {
			return j.usageErr(cmd, fmt.Errorf("grep needs --pattern"))
		}
		job.Args, _ = json.Marshal(mapreduce.GrepArgs{Pattern: j.pattern})
	}
	bin := j.binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("job: find the marvel executable: %w (give it with --action-binary)", err)
		}
	}
	if err := driver.Deploy(ctx, c, MapReduceAction, TaskExec(bin), max(j.mappers, j.reducers), j.memoryMB, j.taskTimeout); err != nil {
		return err
	}
	w := j.env.Stderr
	res, err := driver.Run(ctx, driver.Env{Client: c, FilesDir: files, Action: MapReduceAction,
		Progress: func(e driver.Event) {
			switch {
			case e.Err != nil:
				fmt.Fprintf(w, "%s task %d attempt %d failed (%v)%s\n", e.Phase, e.Task, e.Attempt, e.Err, map[bool]string{true: "; retrying", false: ""}[e.Retrying])
			default:
				fmt.Fprintf(w, "\r%-6s %d/%d", e.Phase, e.Done, e.Total)
				if e.Done == e.Total {
					fmt.Fprintln(w)
				}
			}
		}}, job)
	if err != nil {
		return fmt.Errorf("job %s: %w", res.Job, err)
	}
	if j.jsonOut {
		enc := json.NewEncoder(j.out())
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return printJobResult(j.out(), res)
}

// TaskExec is the exec of the MapReduce action: a script that runs
// `marvel mr-task` (ActionLoop) from binary bin.
func TaskExec(bin string) whisk.Exec {
	code := "#!/bin/sh\nexec " + shellQuote(bin) + " mr-task\n"
	return whisk.Exec{Kind: "native", Code: &code}
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}

// printJobResult prints a job's figures.
func printJobResult(w interface{ Write([]byte) (int, error) }, r driver.Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "job %s: %s with %s shuffle, %d maps, %d reduces, %d retries", r.Job, r.Workload, r.Shuffle, r.Maps, r.Reduces, r.Retries)
	if r.MapReruns > 0 {
		fmt.Fprintf(bw, ", %d maps rerun (their output was lost)", r.MapReruns)
	}
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "  time      %v (map stage %v, reduce stage %v)\n", r.Total.Round(time.Millisecond), r.MapStage.Round(time.Millisecond), r.ReduceStage.Round(time.Millisecond))
	fmt.Fprintf(bw, "  shuffle   %s written in %v, read in %v (summed over tasks)\n", humanize.IBytes(uint64(r.BytesShuffled)), r.ShuffleWrite.Round(time.Millisecond), r.ShuffleRead.Round(time.Millisecond))
	fmt.Fprintf(bw, "  data      %s in, %s out (%d records)\n", humanize.IBytes(uint64(r.BytesIn)), humanize.IBytes(uint64(r.BytesOut)), r.RecordsOut)
	fmt.Fprintf(bw, "  billing   %.3f GB-s\n", r.GBSeconds)
	for _, o := range r.Outputs {
		fmt.Fprintf(bw, "  output    %s\n", o)
	}
	return bw.Flush()
}

// mrTaskCommand is the MapReduce action: every workload's map and reduce
// tasks, served as an ActionLoop process (hidden).
func (a *app) mrTaskCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "mr-task",
		Short:  "Serve MapReduce tasks as an action (ActionLoop on stdin and fd 3)",
		Hidden: true,
		Args:   a.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sdk.Serve(mapreduce.ActionMain)
		},
	}
}

// jobGenCommand is `marvel job gen`.
func (a *app) jobGenCommand() *cobra.Command {
	var size sizeValue
	var seed int64
	var vocab int
	cmd := &cobra.Command{
		Use:   "gen WORKLOAD FILE",
		Short: "Write a deterministic input for a workload (Zipf text, or 100-byte sort records)",
		Long: `gen writes --size bytes of input for WORKLOAD to FILE (a path on this host,
e.g. DATA/fs/guest/in/corpus.txt so that actions and hdfs:// read it): text
with Zipf-distributed words for wordcount and grep, TeraGen-style 100-byte
records with 10-byte keys for sort. The same --seed gives the same bytes.`,
		Args: a.usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genInput(cmd.Context(), args[0], args[1], size.n, seed, vocab)
		},
	}
	size.n = 64 << 20
	cmd.Flags().Var(&size, "size", "bytes to write (sort: rounded down to whole records)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&vocab, "vocab", 50000, "distinct words of the text")
	return cmd
}

// genInput writes an input file atomically.
func genInput(_ context.Context, workload, path string, size, seed int64, vocab int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gen-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	switch workload {
	case mapreduce.WordCount, mapreduce.Grep:
		err = mapreduce.GenerateText(bw, size, seed, vocab)
	case mapreduce.Sort:
		err = mapreduce.GenerateRecords(bw, size/mapreduce.RecordSize, seed)
	default:
		return fmt.Errorf("gen: workload %q: want wordcount, grep or sort", workload)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("gen %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
