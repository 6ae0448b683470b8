package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/dustin/go-humanize"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/standalone"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/pmem"
)

// Where the demo's files live, relative to the guest namespace's files
// (HDFS /guest).
const (
	demoCorpus = "in/corpus.txt"
	demoWarmIn = "in/warm-up.txt"
	demoWarm   = "out/warm-up"
	demoOutput = "out/wordcount-" // + the store's kind
)

// demoTaskMemoryMB is the task action's memory limit (the unit of its
// GB-seconds); demoTaskTimeout each task's time limit.
const (
	demoTaskMemoryMB = 256
	demoTaskTimeout  = 5 * time.Minute
)

// demoJob is one wordcount run of the demo.
type demoJob struct {
	store         shuffle.Config
	where         string // what the store is, for the reader
	input, output string // relative to the files directory
	res           driver.Result
}

// mainJob brings the stack up over dir, runs wordcount with the pmem
// shuffle and the disk baseline, reports, reads an output back through the
// HDFS bridge, and stops the stack. It returns the number of the next
// section of the output.
func (d *demoCmd) mainJob(ctx context.Context, out io.Writer, exe, dir string) (next int, err error) {
	mode, method, err := probePMEM(dir)
	if err != nil {
		return 0, err
	}
	diskFS, err := d.checkDiskDir()
	if err != nil {
		return 0, err
	}
	shuffleDisk, err := os.MkdirTemp(d.diskDir, "marvel-demo-shuffle-")
	if err != nil {
		return 0, fmt.Errorf("demo: disk shuffle directory: %w", err)
	}
	defer os.RemoveAll(shuffleDisk)

	cfg := invoker.DefaultConfig()
	// Isolation (each namespace's actions as a user of its own) is off: the
	// actions run this binary, and `go run` leaves it in a private
	// temporary directory other users cannot enter.
	cfg.Data, cfg.Binary, cfg.Isolate = dir, exe, false
	st, err := standalone.Start(standalone.Config{
		Invoker: cfg, APIAddr: "127.0.0.1:0",
		NameNodeAddr: "127.0.0.1:0", DataNodeAddr: "127.0.0.1:0", WebHDFSAddr: "-",
		Getenv: d.env.Getenv, Build: versionLine(debug.ReadBuildInfo()), Logger: d.logger(),
	})
	if err != nil {
		return 0, fmt.Errorf("demo: start the stack: %w", err)
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	nn := st.Bridge().NameNodeAddr().String()
	files := st.FilesDir("guest")
	fmt.Fprintf(out, "1. The stack, in this process (marvel standalone)\n")
	fmt.Fprintf(out, "   data       %s (%s: PMEM mode %s, persistence %s)\n", dir, fsName(dir), mode, method)
	fmt.Fprintf(out, "   API        %s (OpenWhisk REST, guest key)\n", st.APIHost())
	fmt.Fprintf(out, "   HDFS       hdfs://%s (NameNode and DataNode on loopback)\n", nn)
	fmt.Fprintf(out, "   isolation  off: actions run as %s; they run this marvel binary, and `go run` leaves it in a private temporary directory\n", currentUser())
	fmt.Fprintf(out, "   baseline   disk shuffle in %s (%s), every partition fsynced\n", shuffleDisk, diskFS)

	c, err := st.Client("")
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	defer c.CloseIdleConnections()
	// A previous run with --data left its files: start over.
	for _, rel := range []string{demoCorpus, demoWarmIn, demoWarm, demoOutput + shuffle.KindPMEM, demoOutput + shuffle.KindDisk} {
		if err := os.RemoveAll(filepath.Join(files, filepath.FromSlash(rel))); err != nil {
			return 0, fmt.Errorf("demo: %w", err)
		}
	}

	workers := max(d.mappers, d.reducers)
	if err := driver.Deploy(ctx, c, MapReduceAction, TaskExec(exe), workers, demoTaskMemoryMB, demoTaskTimeout); err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	if err := checkRoom(dir, d.size.n+d.size.n/8+64<<20); err != nil {
		return 0, err
	}
	line := fmt.Sprintf("   corpus     %s: %s of text, %d distinct Zipf-distributed words, seed %d",
		demoCorpus, humanize.IBytes(uint64(d.size.n)), d.vocab, DemoSeed)
	fmt.Fprint(out, line)
	t := time.Now()
	var progress func(int64)
	if isTerminal(out) {
		progress = func(n int64) { fmt.Fprintf(out, "\r%s (%d%%)", line, 100*n/d.size.n) }
	}
	if err := genCorpus(ctx, filepath.Join(files, demoCorpus), d.size.n, DemoSeed, d.vocab, progress); err != nil {
		fmt.Fprintln(out)
		return 0, fmt.Errorf("demo: generate the corpus: %w", err)
	}
	if progress != nil {
		fmt.Fprintf(out, "\r%s", line)
	}
	fmt.Fprintf(out, " (generated in %.1fs)\n", time.Since(t).Seconds())

	// The warm-up starts the task instances, so that neither measured job
	// pays for the cold starts.
	t = time.Now()
	if err := genCorpus(ctx, filepath.Join(files, demoWarmIn), int64(d.mappers)<<16, DemoSeed+1, d.vocab, nil); err != nil {
		return 0, fmt.Errorf("demo: generate the warm-up input: %w", err)
	}
	warm := demoJob{store: shuffle.Config{Kind: shuffle.KindPMEM, Dir: filepath.Join(files, ".shuffle")}, input: demoWarmIn, output: demoWarm}
	if err := d.runJob(ctx, nil, c, files, &warm); err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "   action     %s (marvel mr-task, up to %d instances of %d MB); a warm-up job started them in %.1fs\n\n",
		MapReduceAction, workers, demoTaskMemoryMB, time.Since(t).Seconds())

	jobs := []*demoJob{
		{store: shuffle.Config{Kind: shuffle.KindPMEM, Dir: filepath.Join(files, ".shuffle")},
			where: fmt.Sprintf("partitions as files in the PMEM namespace (%s), read through mappings", fsName(dir))},
		{store: shuffle.Config{Kind: shuffle.KindDisk, Dir: shuffleDisk},
			where: fmt.Sprintf("partitions as files on %s, each fsynced, read back with read(2)", diskFS)},
	}
	for i, j := range jobs {
		j.input, j.output = demoCorpus, demoOutput+j.store.Kind
		fmt.Fprintf(out, "%d. wordcount, %d maps and %d reduces, %s shuffle: %s\n", i+2, d.mappers, d.reducers, j.store.Kind, j.where)
		if err := d.runJob(ctx, out, c, files, j); err != nil {
			return 0, err
		}
		fmt.Fprintf(out, "   %s in %.2fs, output %s/\n\n", j.res.Job, j.res.Total.Seconds(), j.output)
	}

	n := len(jobs) + 2
	words, err := d.checkOutputs(files, jobs)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "%d. Top 10 words of the corpus (%s distinct; both jobs wrote the same %s)\n", n, humanize.Comma(int64(len(words))),
		plural(len(jobs[0].res.Outputs), "file"))
	printTopWords(out, words, 10)
	fmt.Fprintln(out)

	fmt.Fprintf(out, "%d. Job times, measured in this run (one job each, after the warm-up)\n", n+1)
	printJobTable(out, jobs[0], jobs[1])
	fmt.Fprintln(out)

	fmt.Fprintf(out, "%d. An output file read back through the HDFS bridge (github.com/colinmarc/hdfs client, user guest)\n", n+2)
	if err := readBack(out, nn, files, jobs[0].res.Outputs[0]); err != nil {
		return 0, err
	}
	fmt.Fprintln(out)

	c.CloseIdleConnections()
	cerr := st.Close()
	st = nil
	if cerr != nil {
		return 0, fmt.Errorf("demo: stop the stack: %w", cerr)
	}
	return n + 3, os.RemoveAll(filepath.Join(files, filepath.FromSlash(demoWarm)))
}

// runJob runs job j and shows its progress on out (nil: silently).
func (d *demoCmd) runJob(ctx context.Context, out io.Writer, c *client.Client, files string, j *demoJob) error {
	env := driver.Env{Client: c, FilesDir: files, Action: MapReduceAction}
	var p *demoProgress
	if out != nil {
		p = newDemoProgress(out, isTerminal(out), d.mappers, d.reducers)
		defer p.stop()
		env.Progress = p.event
	}
	res, err := driver.Run(ctx, env, driver.Job{
		Workload: mapreduce.WordCount, Input: j.input, Output: j.output,
		Mappers: d.mappers, Reducers: d.reducers, Shuffle: j.store,
		TaskTimeout: demoTaskTimeout, MemoryMB: demoTaskMemoryMB,
	})
	if err != nil {
		return fmt.Errorf("demo: wordcount with the %s shuffle (job %s): %w", j.store.Kind, res.Job, err)
	}
	j.res = res
	return nil
}

// genCorpus writes size bytes of text to path (mapreduce.GenerateText with
// seed and vocab, as `marvel job gen wordcount` does), stopping when ctx
// ends, and tells progress (if set) of every 1% written.
func genCorpus(ctx context.Context, path string, size, seed int64, vocab int, progress func(written int64)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := &corpusWriter{ctx: ctx, f: f, step: max(size/100, 1), progress: progress}
	bw := bufio.NewWriterSize(w, 1<<20)
	err = mapreduce.GenerateText(bw, size, seed, vocab)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// corpusWriter writes to f until ctx ends, telling progress of its way.
type corpusWriter struct {
	ctx      context.Context
	f        *os.File
	n, next  int64
	step     int64
	progress func(int64)
}

func (w *corpusWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if w.progress != nil && w.n >= w.next {
		w.progress(w.n)
		w.next = w.n + w.step
	}
	return n, err
}

// demoWord is a word of the output and its count.
type demoWord struct {
	word  string
	count uint64
}

// checkOutputs checks that every job wrote the same output and returns its
// words.
func (d *demoCmd) checkOutputs(files string, jobs []*demoJob) ([]demoWord, error) {
	var first []byte
	for i, j := range jobs {
		var all []byte
		for _, o := range j.res.Outputs {
			b, err := os.ReadFile(filepath.Join(files, filepath.FromSlash(o)))
			if err != nil {
				return nil, fmt.Errorf("demo: read the output: %w", err)
			}
			all = append(all, b...)
		}
		if i == 0 {
			first = all
		} else if !bytes.Equal(all, first) {
			return nil, fmt.Errorf("demo: the %s and %s jobs wrote different outputs (%s and %s)",
				jobs[0].store.Kind, j.store.Kind, jobs[0].output, j.output)
		}
	}
	var words []demoWord
	for line := range bytes.Lines(first) {
		w, n, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte("\t"))
		count, err := strconv.ParseUint(string(n), 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("demo: output line %q is not \"word<TAB>count\"", line)
		}
		words = append(words, demoWord{string(w), count})
	}
	if len(words) == 0 {
		return nil, errors.New("demo: the output holds no words")
	}
	return words, nil
}

// printTopWords prints the n most frequent words, by count then word.
func printTopWords(out io.Writer, words []demoWord, n int) {
	top := slices.Clone(words)
	slices.SortFunc(top, func(a, b demoWord) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.word, b.word))
	})
	tw := newTable(out)
	for i, w := range top[:min(n, len(top))] {
		fmt.Fprintf(tw, "   %d\t%s\t%s\n", i+1, w.word, humanize.Comma(int64(w.count)))
	}
	tw.Flush()
}

// printJobTable prints the stage breakdown of the pmem job p and the
// baseline job b side by side, and the ratio of their job times.
func printJobTable(out io.Writer, p, b *demoJob) {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
	ratio := func(x, y time.Duration) string {
		if y <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", float64(x)/float64(y))
	}
	pr, br := p.res, b.res
	var buf bytes.Buffer
	tw := newTable(&buf)
	fmt.Fprintf(tw, "   \t%s\t%s\t%s / %s\n", p.store.Kind, b.store.Kind, b.store.Kind, p.store.Kind)
	for _, row := range []struct {
		name string
		p, b time.Duration
	}{
		{"job time", pr.Total, br.Total},
		{"  map stage", pr.MapStage, br.MapStage},
		{"  reduce stage", pr.ReduceStage, br.ReduceStage},
		{"summed over tasks:", 0, 0},
		{"  map compute", pr.MapCompute, br.MapCompute},
		{"  shuffle write", pr.ShuffleWrite, br.ShuffleWrite},
		{"  shuffle read", pr.ShuffleRead, br.ShuffleRead},
		{"  reduce compute", pr.ReduceCompute, br.ReduceCompute},
	} {
		if row.p == 0 && row.b == 0 {
			fmt.Fprintf(tw, "   %s\t\t\t\n", row.name)
			continue
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\n", row.name, secs(row.p), secs(row.b), ratio(row.b, row.p))
	}
	fmt.Fprintf(tw, "   bytes in\t%s\t%s\t\n", humanize.IBytes(uint64(pr.BytesIn)), humanize.IBytes(uint64(br.BytesIn)))
	fmt.Fprintf(tw, "   bytes shuffled\t%s\t%s\t\n", humanize.IBytes(uint64(pr.BytesShuffled)), humanize.IBytes(uint64(br.BytesShuffled)))
	fmt.Fprintf(tw, "   bytes out\t%s\t%s\t\n", humanize.IBytes(uint64(pr.BytesOut)), humanize.IBytes(uint64(br.BytesOut)))
	fmt.Fprintf(tw, "   billed\t%.2f GB-s\t%.2f GB-s\t\n", pr.GBSeconds, br.GBSeconds)
	tw.Flush()
	for line := range bytes.Lines(buf.Bytes()) {
		fmt.Fprintf(out, "%s\n", bytes.TrimRight(line, " \n"))
	}
	fmt.Fprintf(out, "   ratio %s / %s = %s (job time with the %s shuffle over job time with the %s shuffle)\n",
		b.store.Kind, p.store.Kind, ratio(br.Total, pr.Total), b.store.Kind, p.store.Kind)

	// Say what the ratio can and cannot show: with a small shuffle the
	// store's share of the work is small, and the job times differ by the
	// variation of the computing.
	inStore := func(r driver.Result) time.Duration { return r.ShuffleWrite + r.ShuffleRead }
	tasks := func(r driver.Result) time.Duration { return r.MapCompute + r.ReduceCompute + inStore(r) }
	if pr.BytesIn > 0 && 20*inStore(pr) < tasks(pr) && 20*inStore(br) < tasks(br) {
		fmt.Fprintf(out, "   the shuffle is small: %s crossed it (%.1f%% of the input; wordcount's maps combine their counts), and the\n",
			humanize.IBytes(uint64(pr.BytesShuffled)), 100*float64(pr.BytesShuffled)/float64(pr.BytesIn))
		fmt.Fprintf(out, "   tasks spent %s (%s) and %s (%s) of %s and %s in the store: the job times differ mostly by how the\n",
			secs(inStore(pr)), p.store.Kind, secs(inStore(br)), b.store.Kind, secs(tasks(pr)), secs(tasks(br)))
		fmt.Fprintf(out, "   computing varies from run to run. `marvel bench` compares the stores on sort, whose shuffle is its whole input.\n")
	}
}

// readBack reads output file rel through the HDFS bridge at nn with the
// HDFS Go client and checks it against the file on the host.
func readBack(out io.Writer, nn, files, rel string) error {
	hc, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{nn}, User: "guest"})
	if err != nil {
		return fmt.Errorf("demo: HDFS client: %w", err)
	}
	defer hc.Close()
	name := path.Join("/guest", rel)
	got, err := hc.ReadFile(name)
	if err != nil {
		return fmt.Errorf("demo: read hdfs://%s%s: %w", nn, name, err)
	}
	host := filepath.Join(files, filepath.FromSlash(rel))
	want, err := os.ReadFile(host)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("demo: hdfs://%s%s (%d bytes) differs from %s on the host (%d bytes)", nn, name, len(got), host, len(want))
	}
	fmt.Fprintf(out, "   hdfs://%s%s: %s (%d bytes), identical to %s\n", nn, name, humanize.IBytes(uint64(len(got))), len(got), host)
	fmt.Fprintf(out, "   first lines:\n")
	sc := bufio.NewScanner(bytes.NewReader(got))
	for i := 0; i < 3 && sc.Scan(); i++ {
		fmt.Fprintf(out, "     %s\n", strings.ReplaceAll(sc.Text(), "\t", "  "))
	}
	return nil
}

// probePMEM reports how regions in dir are mapped: it creates a small
// region there, reads its mode and persistence method, and removes it.
func probePMEM(dir string) (pmem.Mode, string, error) {
	p := filepath.Join(dir, ".demo-probe")
	os.Remove(p)
	r, err := pmem.CreateRegion(p, 64<<10, pmem.RegionOptions{})
	if err != nil {
		return 0, "", fmt.Errorf("demo: map a region in %s: %w", dir, err)
	}
	mode, method := r.Mode(), r.Method()
	err = r.Close()
	if rerr := os.Remove(p); err == nil {
		err = rerr
	}
	if err != nil {
		return 0, "", fmt.Errorf("demo: probe region in %s: %w", dir, err)
	}
	return mode, method, nil
}

// checkDiskDir checks that the disk baseline's directory is on a disk, not
// in memory, and says what it is.
func (d *demoCmd) checkDiskDir() (string, error) {
	if err := os.MkdirAll(d.diskDir, 0o755); err != nil {
		return "", fmt.Errorf("demo: --disk-dir: %w", err)
	}
	fsType, source, err := mountOf(d.diskDir)
	if err != nil {
		return "", fmt.Errorf("demo: find the filesystem of --disk-dir %s: %w", d.diskDir, err)
	}
	if fsType == "tmpfs" || fsType == "ramfs" {
		return "", fmt.Errorf("demo: --disk-dir %s is on %s, in memory: the disk baseline needs a directory on a disk", d.diskDir, fsType)
	}
	return fsType + " on " + source, nil
}

// fsName names the filesystem holding dir ("tmpfs", "ext4 on /dev/vda").
func fsName(dir string) string {
	fsType, source, err := mountOf(dir)
	switch {
	case err != nil:
		return "filesystem unknown"
	case fsType == "tmpfs" || fsType == "ramfs":
		return fsType
	}
	return fsType + " on " + source
}

// currentUser names the user running the demo.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}
