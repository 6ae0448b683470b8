// Package crashproc proves durability against real process crashes: a child
// process writes to a region and acknowledges each write on a pipe; the parent
// kills it with SIGKILL at a random moment, reopens the region and checks that
// every acknowledged write is there, that the write in flight is either fully
// there or not at all, and that every checksum holds. Then it starts the child
// again on the same region, many times over.
//
// The writes are a deterministic function of a seed and a sequence number, so
// the parent knows exactly what each acknowledgement covers. The mix has small
// and large values (non-temporal copies, growth), overwrites of a bounded key
// space (compaction) and deletes.
package crashproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/marvel-serverless/marvel/pmem"
)

// Op is one write of the sequence.
type Op struct {
	Seq    int
	Delete bool
	Key    string
	Value  []byte
}

const keySpace = 64

// OpAt returns write number seq of the sequence for seed.
func OpAt(seed uint64, seq int) Op {
	r := rand.New(rand.NewPCG(seed, uint64(seq)))
	op := Op{Seq: seq, Key: fmt.Sprintf("key-%02d", r.IntN(keySpace))}
	switch x := r.IntN(100); {
	case x < 8:
		op.Delete = true
		return op
	case x < 11:
		op.Value = make([]byte, 64<<10+r.IntN(192<<10)) // large: non-temporal path, growth
	default:
		op.Value = make([]byte, r.IntN(2048))
	}
	// The value names its write, so a stale or torn value cannot pass.
	fill := rand.New(rand.NewPCG(seed^0x5bd1e995, uint64(seq)))
	for i := range op.Value {
		op.Value[i] = byte(fill.Uint32())
	}
	if len(op.Value) >= 8 {
		copy(op.Value, strconv.AppendInt(nil, int64(seq), 36))
	}
	return op
}

// WriterOptions configure the child side.
type WriterOptions struct {
	Dir   string
	Name  string
	Seed  uint64
	Start int          // first sequence number to write
	Count int          // writes to make; 0 means until killed or ctx ends
	Store pmem.Options // options for opening the region
}

// Writer is the child's loop: it opens (creating if needed) the region and
// makes writes Start, Start+1, ..., printing "ack N" to ack after write N
// returned. It returns when Count writes are done, ctx ends, or a write fails.
func Writer(ctx context.Context, opts WriterOptions, ack io.Writer) error {
	s, _, err := pmem.OpenOrCreate(opts.Dir, opts.Name, opts.Store)
	if err != nil {
		return err
	}
	defer s.Close()
	w := bufio.NewWriterSize(ack, 64)
	for seq := opts.Start; opts.Count == 0 || seq < opts.Start+opts.Count; seq++ {
		if ctx.Err() != nil {
			return nil
		}
		op := OpAt(opts.Seed, seq)
		if op.Delete {
			err = s.Delete(op.Key)
		} else {
			err = s.Put(op.Key, op.Value)
		}
		if err != nil {
			return fmt.Errorf("crashproc: write %d: %w", seq, err)
		}
		fmt.Fprintf(w, "ack %d\n", seq)
		if err := w.Flush(); err != nil {
			return fmt.Errorf("crashproc: acknowledge %d: %w", seq, err)
		}
	}
	return nil
}

// Model is what the parent believes the region holds.
type Model map[string][]byte

func (m Model) apply(op Op) {
	if op.Delete {
		delete(m, op.Key)
	} else {
		m[op.Key] = op.Value
	}
}

// Config drives the kill loop in the parent.
type Config struct {
	Dir        string
	Name       string
	Seed       uint64
	Iterations int
	// Command returns the child process that runs Writer from sequence number
	// start with the same Dir, Name and Seed, acknowledging on its stdout.
	Command func(start int) *exec.Cmd
	// MaxAcks bounds how many acknowledgements to wait for before killing
	// (a random number in [0, MaxAcks] is drawn each time). Default 200.
	MaxAcks int
	// Store holds the options for reopening the region in the parent.
	Store pmem.Options
	// Progress, if set, is called after each verified iteration.
	Progress func(iteration int, r Report)
	// KeepDir is where the region file is copied when an iteration fails,
	// for analysis (the test's own directory is usually removed). Default:
	// $MARVEL_KEEP_DIR, else os.TempDir().
	KeepDir string
}

// Report sums up a kill loop.
type Report struct {
	Iterations int           // children killed and verified
	Acked      int           // acknowledged writes in all
	InFlight   int           // kills that caught a write in flight that turned out applied
	Recovery   time.Duration // total time spent reopening the region
}

// Run kills and verifies cfg.Iterations children. It returns the first
// violation: a lost acknowledged write, a torn or foreign value, a failed
// check or recovery.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.MaxAcks <= 0 {
		cfg.MaxAcks = 200
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc0ffee))
	model := Model{}
	var rep Report
	next := 0 // first write not yet acknowledged
	for it := 0; it < cfg.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		acked, err := runChild(cfg, next, rng)
		if err != nil {
			return rep, fmt.Errorf("iteration %d: %w%s", it, err, keepRegion(cfg, it))
		}
		for seq := next; seq <= acked; seq++ {
			model.apply(OpAt(cfg.Seed, seq))
		}
		rep.Acked += acked - next + 1
		next = acked + 1
		start := time.Now()
		applied, err := verify(cfg, model, OpAt(cfg.Seed, next))
		rep.Recovery += time.Since(start)
		if err != nil {
			return rep, fmt.Errorf("iteration %d (seed %d, acknowledged through write %d): %w%s", it, cfg.Seed, acked, err,
				keepRegion(cfg, it))
		}
		if applied {
			rep.InFlight++
		}
		rep.Iterations++
		if cfg.Progress != nil {
			cfg.Progress(it, rep)
		}
	}
	return rep, nil
}

// runChild starts a child from write start, waits for a random number of
// acknowledgements plus a random delay, kills it with SIGKILL, drains every
// acknowledgement it managed to send, and returns the last one (start-1 if
// none).
func runChild(cfg Config, start int, rng *rand.Rand) (int, error) {
	cmd := cfg.Command(start)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start writer: %w", err)
	}
	killAfter := rng.IntN(cfg.MaxAcks + 1)
	delay := time.Duration(rng.IntN(2000)) * time.Microsecond
	last := start - 1
	sc := bufio.NewScanner(out)
	killed := false
	kill := func() {
		if !killed {
			killed = true
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	if killAfter == 0 {
		time.Sleep(delay) // kill during start-up or recovery
		kill()
	}
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "ack ")
		seq, err := strconv.Atoi(n)
		if !ok || err != nil || seq != last+1 {
			kill()
			cmd.Wait()
			return last, fmt.Errorf("writer sent %q after ack %d", sc.Text(), last)
		}
		last = seq
		if !killed && last-start+1 >= killAfter {
			time.Sleep(delay)
			kill()
		}
	}
	kill()
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return last, fmt.Errorf("writer ended by itself (%v) before the kill: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return last, nil
}

// verify reopens the region and compares it with model; the write inflight
// may have applied. It reports whether it had.
func verify(cfg Config, model Model, inflight Op) (bool, error) {
	s, err := pmem.Open(cfg.Dir, cfg.Name, cfg.Store)
	if errors.Is(err, pmem.ErrNotExist) && len(model) == 0 {
		return false, nil // killed before the region was created
	}
	if err != nil {
		return false, fmt.Errorf("reopen: %w", err)
	}
	defer s.Close()
	if rep := s.Check(); !rep.OK() {
		return false, fmt.Errorf("check: %w", errors.Join(rep.Problems...))
	}
	got := Model{}
	if err := s.Range("", "", func(k string, v []byte) error {
		got[k] = bytes.Clone(v)
		return nil
	}); err != nil {
		return false, err
	}
	if equal(got, model) {
		return false, nil
	}
	after := Model{}
	for k, v := range model {
		after[k] = v
	}
	after.apply(inflight)
	if equal(got, after) {
		return true, nil
	}
	return false, fmt.Errorf("region differs from every acknowledged state: %s", diff(got, model))
}

func equal(a, b Model) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func diff(got, want Model) string {
	var b strings.Builder
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			fmt.Fprintf(&b, "%s lost (want %d bytes); ", k, len(w))
		case !bytes.Equal(g, w):
			fmt.Fprintf(&b, "%s has %d bytes, want %d; ", k, len(g), len(w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "%s unexpected (%d bytes); ", k, len(g))
		}
	}
	return b.String()
}

// keepRegion copies the region file of a failed iteration out of the test's
// directory and describes its commit state, for the failure message.
func keepRegion(cfg Config, it int) string {
	path, err := pmem.RegionPath(cfg.Dir, cfg.Name)
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("\n(region not kept: %v)", err)
	}
	dir := cfg.KeepDir
	if dir == "" {
		dir = os.Getenv("MARVEL_KEEP_DIR")
	}
	if dir == "" {
		dir = os.TempDir()
	}
	kept := "not kept: "
	if err := os.MkdirAll(dir, 0o755); err != nil {
		kept += err.Error()
	} else if f, err := os.CreateTemp(dir, fmt.Sprintf("crashproc-%s-seed%d-it%d-*%s", cfg.Name, cfg.Seed, it, pmem.RegionExt)); err != nil {
		kept += err.Error()
	} else {
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			kept += werr.Error()
		} else {
			kept = "kept at " + f.Name()
		}
	}
	return fmt.Sprintf("\nregion %s (%d bytes) %s\n%s", filepath.Base(path), len(data), kept, DescribeRegion(data))
}
