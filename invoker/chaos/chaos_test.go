package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/marvel-serverless/marvel/internal/mrref"
	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// Sizes and bounds of the jobs.
const (
	textSize    = 16 << 20 // wordcount input
	textVocab   = 5000
	sortRecords = 150000 // sort input: 15 MB
	mappers     = 4
	reducers    = 3
	taskTimeout = time.Minute
	// jobTimeout bounds one driver.Run; a Run still going 30 s after it
	// is a driver that never returns.
	jobTimeout = 3 * time.Minute
	// chaosTries is how many runs of a job the chaos may break; the next
	// run is quiet (no kills) and must succeed.
	chaosTries = 4
	// minJobs is the least number of jobs a run makes, however short.
	minJobs = 4
)

// Kinds of processes the chaos kills.
const (
	kindAction     = "action"     // marvel mr-task or the counter: children of runtimes
	kindRuntime    = "runtime"    // marvel runtime: children of standalone
	kindStandalone = "standalone" // marvel standalone, restarted
)

var kinds = []string{kindAction, kindRuntime, kindStandalone}

// kindWeight is how often each kind is picked after the first three kills
// (which are one of each, in a random order).
var kindWeight = map[string]int{kindAction: 5, kindRuntime: 3, kindStandalone: 2}

// spec is a kind of job the test runs.
type spec struct {
	workload string
	store    string // pmem or disk
}

// TestChaos runs MapReduce jobs against a real `marvel standalone` while
// processes are killed at random (see the package documentation).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: not in -short")
	}
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	dur := *durationFlag
	if dur == 0 {
		dur = 40 * time.Second
		if os.Getenv("MARVEL_LONG") == "1" {
			dur = 10 * time.Minute
		}
	}
	t.Logf("chaos seed %d (replay the schedule with -chaos.seed %d); jobs for %v, a kill every %v on average", seed, seed, dur, *everyFlag)
	began := time.Now()

	s := newStack(t)
	ctx := t.Context()
	code := "#!/bin/sh\nexec '" + marvelBin + "' mr-task\n"
	if err := driver.Deploy(ctx, s.c, "mr", whisk.Exec{Kind: "native", Code: &code}, mappers, 256, taskTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.PutAction(ctx, whisk.Action{Name: "counter", Exec: &whisk.Exec{Kind: "go:default", Code: &counterZip}}, true); err != nil {
		t.Fatal(err)
	}
	text := writeInput(t, s, "in/text.txt", func(b *bytes.Buffer) error { return mapreduce.GenerateText(b, textSize, 11, textVocab) })
	recs := writeInput(t, s, "in/recs", func(b *bytes.Buffer) error { return mapreduce.GenerateRecords(b, sortRecords, 11) })

	h := &harness{t: t, s: s, ids: map[string]string{}, diskDir: t.TempDir(), golden: map[string][][]byte{}}
	// The references: a fault-free run of each workload, checked against
	// results computed here independently; every later run must produce
	// the same part files, byte for byte.
	for _, w := range []string{mapreduce.WordCount, mapreduce.Sort} {
		res, err := h.runJob(ctx, "ref-"+w, spec{w, "pmem"}, "out/ref-"+w)
		if err != nil {
			t.Fatalf("fault-free %s: %v", w, err)
		}
		var parts [][]byte
		for _, o := range res.Outputs {
			b, err := os.ReadFile(filepath.Join(s.files, o))
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, b)
		}
		all := bytes.Join(parts, nil)
		switch w {
		case mapreduce.WordCount:
			if !slices.Equal(refWordCount(text), lines(all)) {
				t.Fatalf("fault-free wordcount differs from the reference computed here")
			}
		case mapreduce.Sort:
			if !bytes.Equal(refSort(recs), all) {
				t.Fatalf("fault-free sort differs from the reference computed here")
			}
		}
		h.golden[w] = parts
		t.Logf("reference %s: %d parts, %d bytes, in %v", w, len(parts), len(all), res.Total.Round(time.Millisecond))
	}
	if _, err := h.count(ctx); err != nil {
		t.Fatalf("counter: %v", err)
	}

	// The chaos: the monkey and a client of the stateful counter.
	m := &monkey{h: h, every: *everyFlag, rng: rand.New(rand.NewPCG(uint64(seed), 1)),
		pick: rand.New(rand.NewPCG(uint64(seed), 2)), kills: map[string]int{}, missed: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { m.run(stop) })
	wg.Go(func() { h.countLoop(stop) })

	specs := []spec{{mapreduce.WordCount, "pmem"}, {mapreduce.Sort, "pmem"}, {mapreduce.WordCount, "disk"}, {mapreduce.Sort, "pmem"}}
	chaosStart := time.Now()
	var lastOK string
	for i := 0; i < minJobs || time.Since(chaosStart) < dur; i++ {
		sp := specs[i%len(specs)]
		h.jobs++
		for try := 1; ; try++ {
			quiet := try > chaosTries
			name := fmt.Sprintf("c%03d-t%d", i, try)
			out := fmt.Sprintf("out/%s-%s-%s", name, sp.workload, sp.store)
			if quiet {
				h.gate.Lock() // no kills, no counter: this run must succeed
				h.quietRuns++
			}
			s.waitUp()
			t0 := time.Now()
			h.running.Store(name)
			h.mu.Lock()
			restartsBefore := h.restarts
			h.mu.Unlock()
			res, err := h.runJob(ctx, name, sp, out)
			h.running.Store("")
			h.jobTime += time.Since(t0)
			h.mu.Lock()
			if h.restarts != restartsBefore && err == nil {
				h.survived++
				t.Logf("job %s completed though marvel standalone was killed and restarted while it ran (%d retries)", name, res.Retries)
			}
			h.mu.Unlock()
			h.runs++
			h.retries += res.Retries
			h.mapReruns += res.MapReruns
			if !quiet {
				h.gate.Lock()
			}
			h.checkJob(sp, name, out, res, err)
			h.between(ctx)
			h.gate.Unlock()
			if t.Failed() {
				t.FailNow()
			}
			if err == nil {
				lastOK = out
				if try == 1 {
					h.firstTry++
				} else {
					h.rerunOK++
				}
				break
			}
			if quiet {
				t.Fatalf("job %s failed without chaos: %v", name, err)
			}
			h.failedRuns++
			t.Logf("job %s (%s on %s) failed, to be rerun to a fresh output: %v", name, sp.workload, sp.store, err)
		}
	}
	close(stop)
	wg.Wait()

	// Final checks, quiet: the counter, every record, the output over HDFS.
	h.gate.Lock()
	h.between(ctx)
	h.checkRecords(ctx)
	h.checkNamespace()
	h.gate.Unlock()
	if lastOK != "" {
		h.readOverHDFS(lastOK)
	}

	t.Logf("chaos summary (seed %d, %v in all, %v of jobs under chaos):\n"+
		"  jobs      %d: %d completed first time, %d after reruns (%d failed runs, %d of them with some parts committed; %d quiet reruns)\n"+
		"  runs      %d, %v each on average; %d task attempts retried, %d map tasks rerun for lost inputs\n"+
		"  kills     %d action, %d runtime, %d standalone (each restarted); none running at the moment: %d action, %d runtime\n"+
		"  counter   %d invokes, %d acknowledged, %d failed, final count %v\n"+
		"  records   %d activation records returned to blocking invokes, all found by id after %d restarts",
		seed, time.Since(began).Round(time.Second), time.Since(chaosStart).Round(time.Second),
		h.jobs, h.firstTry, h.rerunOK, h.failedRuns, h.partialFailed, h.quietRuns,
		h.runs, (h.jobTime / time.Duration(max(h.runs, 1))).Round(time.Millisecond), h.retries, h.mapReruns,
		m.kills[kindAction], m.kills[kindRuntime], m.kills[kindStandalone], m.missed[kindAction], m.missed[kindRuntime],
		h.sent, h.acks, h.countFails, h.lastAck, len(h.ids), h.restarts)
	if len(h.errs) > 0 {
		t.Logf("job errors seen:\n  %s", strings.Join(h.errs, "\n  "))
	}
}

// harness is the test's state shared by the job loop, the monkey and the
// counter's client.
type harness struct {
	t       *testing.T
	s       *stack
	diskDir string
	golden  map[string][][]byte // workload → its parts from a fault-free run

	// gate: the monkey and the counter's client hold it shared while they
	// act; the job loop takes it to check in quiet.
	gate sync.RWMutex

	mu           sync.Mutex        // guards the fields below
	ids          map[string]string // activation id returned to a blocking invoke → what it ran
	sent, acks   int               // counter invokes sent, and answered with a count
	countFails   int
	lastAck      float64 // the highest count acknowledged
	restarts     int     // standalone restarts
	checkedAfter int     // restarts when the records were last checked

	// running is the job being run, "" between jobs.
	running atomic.Value
	// survived counts jobs that completed across a restart (under mu).
	survived int

	// Job loop only.
	jobs, firstTry, rerunOK, failedRuns, partialFailed, quietRuns int
	runs, retries, mapReruns                                      int
	jobTime                                                       time.Duration
	errs                                                          []string
}

// runJob runs one job and checks that the driver returns.
func (h *harness) runJob(ctx context.Context, name string, sp spec, out string) (driver.Result, error) {
	sc := shuffle.Config{Kind: "pmem", Dir: filepath.Join(h.s.files, ".shuffle"), Mode: "emulated"}
	if sp.store == "disk" {
		sc = shuffle.Config{Kind: "disk", Dir: h.diskDir}
	}
	input := "in/text.txt"
	if sp.workload == mapreduce.Sort {
		input = "in/recs"
	}
	env := driver.Env{Client: h.s.c, FilesDir: h.s.files, Action: "mr", Progress: func(e driver.Event) {
		// An activation whose record came back: it succeeded, or its
		// record says why not.
		if e.Activated != "" && (e.Err == nil || strings.Contains(e.Err.Error(), "activation "+e.Activated+" (")) {
			h.mu.Lock()
			h.ids[e.Activated] = fmt.Sprintf("%s %s/%d attempt %d", name, e.Phase, e.Task, e.Attempt)
			h.mu.Unlock()
		}
	}}
	job := driver.Job{Name: name, Workload: sp.workload, Input: input, Output: out, Mappers: mappers, Reducers: reducers,
		Shuffle: sc, TaskTimeout: taskTimeout}
	jctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	type ret struct {
		res driver.Result
		err error
	}
	done := make(chan ret, 1)
	go func() {
		res, err := driver.Run(jctx, env, job)
		done <- ret{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(jobTimeout + 30*time.Second):
		h.t.Fatalf("job %s: driver.Run has not returned %v after it started (its context ended 30 s ago)", name, jobTimeout+30*time.Second)
		return driver.Result{}, nil
	}
}

// clearError is what a failed job's error must say: which task failed, or
// which step.
var clearError = regexp.MustCompile(`^(map|reduce) task \d+ failed`)

// checkJob checks a job's run once every activation ended: a success wrote
// exactly the reference's parts; a failure says which task failed and left
// only whole, correct parts; either left no temporaries and no shuffle data.
func (h *harness) checkJob(sp spec, name, out string, res driver.Result, runErr error) {
	t := h.t
	t.Helper()
	if err := h.s.waitIdle(2 * time.Minute); err != nil {
		t.Errorf("job %s: %v", name, err)
		return
	}
	want := h.golden[sp.workload]
	dir := filepath.Join(h.s.files, filepath.FromSlash(out))
	ents, err := os.ReadDir(dir)
	if err != nil && !(runErr != nil && errors.Is(err, fs.ErrNotExist)) {
		t.Errorf("job %s: output %s: %v", name, out, err)
	}
	var parts []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, "part-r-") {
			t.Errorf("job %s: output %s holds %q (a %v), not a committed part (failed: %v)", name, out, n, e.Type(), runErr)
			continue
		}
		parts = append(parts, n)
		var j int
		if _, err := fmt.Sscanf(n, "part-r-%05d", &j); err != nil || j >= len(want) || n != mapreduce.PartName(j) {
			t.Errorf("job %s: output %s holds %q, not one of the %d parts", name, out, n, len(want))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Errorf("job %s: %v", name, err)
		} else if !bytes.Equal(b, want[j]) {
			t.Errorf("job %s: %s/%s is %d bytes and differs from the fault-free run's (%d bytes): committed output is not whole or not right (failed: %v)",
				name, out, n, len(b), len(want[j]), runErr)
		}
	}
	if runErr == nil {
		if len(parts) != len(want) {
			t.Errorf("job %s succeeded with parts %v, want %d", name, parts, len(want))
		}
		if len(res.Outputs) != len(want) {
			t.Errorf("job %s: result lists outputs %v", name, res.Outputs)
		}
	} else {
		msg := runErr.Error()
		if !clearError.MatchString(msg) {
			t.Errorf("job %s failed with an error that does not say which task failed: %v", name, runErr)
		}
		if len(parts) > 0 {
			h.partialFailed++
		}
		h.errs = append(h.errs, fmt.Sprintf("%s: %s", name, abbreviate(msg, 300)))
	}
	// The job's shuffle data is gone, in either case.
	shuffleDir := filepath.Join(h.s.files, ".shuffle", name)
	if sp.store == "disk" {
		shuffleDir = filepath.Join(h.diskDir, name)
	}
	if _, err := os.Stat(shuffleDir); !errors.Is(err, fs.ErrNotExist) {
		left, _ := filesUnder(shuffleDir)
		t.Errorf("job %s (failed: %v) left its shuffle data in %s: %v", name, runErr, shuffleDir, left)
	}
	h.checkNamespace()
}

// checkNamespace checks that nothing half-written is left in the
// namespace's files: no _temporary directory of a job, no hidden temporary
// of pmem.CreateFile or of a shuffle Put (".NAME.tmp-RANDOM").
func (h *harness) checkNamespace() {
	t := h.t
	for _, root := range []string{h.s.files, h.diskDir} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Errorf("walk %s: %v", p, err)
				return nil
			}
			n := d.Name()
			switch {
			case d.IsDir() && n == "_temporary":
				left, _ := filesUnder(p)
				t.Errorf("%s is left (holding %v)", p, left)
				return fs.SkipDir
			case !d.IsDir() && strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-"):
				t.Errorf("a temporary file is left: %s", p)
			}
			return nil
		})
	}
}

// filesUnder lists the files below dir.
func filesUnder(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	return out, err
}

// between runs between two jobs, in quiet: the counter answers, and after
// a restart every activation record acknowledged so far is found by id.
func (h *harness) between(ctx context.Context) {
	var err error
	for range 3 {
		if _, err = h.count(ctx); err == nil {
			break
		}
	}
	if err != nil {
		h.t.Errorf("the counter failed three times in a row without chaos: %v", err)
	}
	h.mu.Lock()
	restarted := h.restarts != h.checkedAfter
	h.mu.Unlock()
	if restarted {
		h.checkRecords(ctx)
	}
}

// checkRecords gets every activation record returned to a blocking invoke
// by its id.
func (h *harness) checkRecords(ctx context.Context) {
	h.mu.Lock()
	ids := make(map[string]string, len(h.ids))
	for id, what := range h.ids {
		ids[id] = what
	}
	h.checkedAfter = h.restarts
	restarts := h.restarts
	h.mu.Unlock()
	lost := 0
	for id, what := range ids {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		a, err := h.s.c.GetActivation(cctx, id)
		cancel()
		if err != nil {
			lost++
			if lost <= 10 {
				h.t.Errorf("activation %s (%s), returned to a blocking invoke, is not found after %d restarts: %v", id, what, restarts, err)
			}
			continue
		}
		if a.ActivationID != id || a.Response == nil {
			h.t.Errorf("activation %s (%s): the record read back is %+v", id, what, a)
		}
	}
	if lost > 10 {
		h.t.Errorf("%d acknowledged activation records lost in all", lost)
	}
}

// count invokes the counter, blocking, and checks its answer against what
// it acknowledged before: the count never goes back, and never counts more
// than the invokes sent.
func (h *harness) count(ctx context.Context) (float64, error) {
	h.mu.Lock()
	h.sent++
	sent := h.sent
	h.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	inv, err := h.s.c.Invoke(cctx, "counter", nil, client.InvokeOptions{Blocking: true})
	if err == nil && (inv.Activation == nil || inv.Activation.Response == nil) {
		err = fmt.Errorf("invoke counter: no record in the reply (status %d, pending %v)", inv.Status, inv.Pending)
	}
	var n float64
	if err == nil {
		var r struct {
			Count *float64 `json:"count"`
		}
		if uerr := json.Unmarshal(inv.Activation.Response.Result, &r); uerr != nil || r.Count == nil {
			err = fmt.Errorf("counter answered %s", inv.Activation.Response.Result)
		} else {
			n = *r.Count
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.countFails++
		return 0, err
	}
	h.ids[inv.ActivationID] = "counter"
	if n <= h.lastAck {
		h.t.Errorf("the counter answered %v after acknowledging %v: acknowledged state was lost", n, h.lastAck)
	}
	if n > float64(sent) {
		h.t.Errorf("the counter answered %v after %d invokes", n, sent)
	}
	h.acks++
	h.lastAck = max(h.lastAck, n)
	return n, nil
}

// countLoop invokes the counter over and over until stop, under the chaos.
func (h *harness) countLoop(stop <-chan struct{}) {
	tick := time.NewTicker(250 * time.Millisecond) // the counter's pace
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		h.gate.RLock()
		h.count(context.Background())
		h.gate.RUnlock()
	}
}

// readOverHDFS reads a committed output through the (restarted) HDFS bridge
// and compares it with the file on the host.
func (h *harness) readOverHDFS(out string) {
	t := h.t
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{h.s.hdfs}, User: "guest"})
	if err != nil {
		t.Errorf("HDFS client: %v", err)
		return
	}
	defer c.Close()
	rel := mapreduce.FinalOutput(out, 0)
	got, err := c.ReadFile("/guest/" + rel)
	if err != nil {
		t.Errorf("read %s over HDFS: %v", rel, err)
		return
	}
	want, err := os.ReadFile(filepath.Join(h.s.files, filepath.FromSlash(rel)))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s over HDFS (%d bytes) differs from the file on the host (%d bytes, %v)", rel, len(got), len(want), err)
	}
}

// monkey kills processes of the stack at random moments.
type monkey struct {
	h     *harness
	every time.Duration
	rng   *rand.Rand // the schedule: delays and kinds
	pick  *rand.Rand // which process of a kind

	kills  map[string]int // monkey goroutine only until it ends
	missed map[string]int
}

// run kills until stop: a delay uniform in [0, 2*every), then one process
// of a kind drawn by weight (the first three kills are one of each kind).
func (m *monkey) run(stop <-chan struct{}) {
	first := m.rng.Perm(len(kinds))
	total := 0
	for _, w := range kindWeight {
		total += w
	}
	start := time.Now()
	for n := 0; ; n++ {
		delay := time.Duration(m.rng.Int64N(int64(2 * m.every)))
		var kind string
		if n < len(first) {
			kind = kinds[first[n]]
		} else {
			r := m.rng.IntN(total)
			for _, k := range kinds {
				if r -= kindWeight[k]; r < 0 {
					kind = k
					break
				}
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		m.h.gate.RLock()
		job, _ := m.h.running.Load().(string)
		if job == "" {
			job = "none"
		}
		what := m.strike(kind)
		m.h.gate.RUnlock()
		m.h.t.Logf("chaos %6.2fs: kill %d (%s, during job %s): %s", time.Since(start).Seconds(), n+1, kind, job, what)
	}
}

// strike kills one process of kind and says which.
func (m *monkey) strike(kind string) string {
	s := m.h.s
	if kind == kindStandalone {
		if err := s.killAndRestart(); err != nil {
			m.h.t.Errorf("chaos: %v", err)
			return "failed: " + err.Error()
		}
		m.kills[kind]++
		m.h.mu.Lock()
		m.h.restarts++
		m.h.mu.Unlock()
		return "SIGKILL marvel standalone, restarted on the same data and ports"
	}
	s.waitUp()
	tr := descendants(s.pid())
	var cands []proc
	for i, p := range tr.procs {
		switch {
		case kind == kindRuntime && tr.depth[i] == 1 && strings.Contains(p.Cmdline, " runtime"):
			cands = append(cands, p)
		case kind == kindAction && tr.depth[i] >= 2:
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		m.missed[kind]++
		return "none running"
	}
	p := cands[m.pick.IntN(len(cands))]
	if !p.Alive() {
		m.missed[kind]++
		return "it exited first"
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		m.missed[kind]++
		return err.Error()
	}
	m.kills[kind]++
	return fmt.Sprintf("SIGKILL %v (one of %d)", p, len(cands))
}

// writeInput generates an input file into the namespace.
func writeInput(t *testing.T, s *stack, rel string, gen func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gen(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.files, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The references are computed independently of package mapreduce.
var (
	refWordCount = mrref.WordCount
	refSort      = mrref.Sort
	lines        = mrref.Lines
)

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
