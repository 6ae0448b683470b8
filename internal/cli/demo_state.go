package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/crashproc"
)

// The state tour (marvel demo --all): what the persistent-memory layer
// gives one function, shown after the main job in the same namespace:
// state that survives cold starts and kill -9, capacity that moves between
// a job and a function, durable writes at memory speed beside a stateless
// baseline, and an action under the real action proxy (demo_runtime.go).

// stateTour runs the tour's steps, numbered from first, in namespace dir.
func (d *demoCmd) stateTour(ctx context.Context, out io.Writer, exe, dir string, first int) error {
	steps := []func(context.Context, io.Writer, string, string) error{
		d.coldStarts, d.killNine,
		func(ctx context.Context, out io.Writer, _, dir string) error { return d.elastic(ctx, out, dir) },
		func(_ context.Context, out io.Writer, _, dir string) error { return d.latency(out, dir) },
		d.demoRuntime,
	}
	for i, step := range steps {
		fmt.Fprintf(out, "%d. ", first+i)
		if err := step(ctx, out, exe, dir); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "%d. The namespace's regions, as `marvel pmem ls %s` shows them\n", first+len(steps), dir)
	ls := &pmemCmd{app: d.app}
	if err := ls.ls(ctx, dir, false); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}

// coldStarts runs a counter "function" as five separate processes: each
// opens the function's region, increments the counter and exits.
func (d *demoCmd) coldStarts(ctx context.Context, out io.Writer, exe, dir string) error {
	fmt.Fprintf(out, "A function's state survives cold starts\n")
	var seen []string
	for range 5 {
		c := exec.CommandContext(ctx, exe, "pmem", "counter", "--dir", dir, "--name", "fn.guest.counter")
		b, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("demo: counter process: %w: %s", err, bytes.TrimSpace(b))
		}
		seen = append(seen, strings.TrimSpace(string(b)))
	}
	fmt.Fprintf(out, "   five new processes each incremented the counter in region fn.guest.counter: %s\n\n", strings.Join(seen, " → "))
	return nil
}

// killNine SIGKILLs a writer process again and again and checks every
// acknowledged write after each kill.
func (d *demoCmd) killNine(ctx context.Context, out io.Writer, exe, dir string) error {
	fmt.Fprintf(out, "Acknowledged writes survive kill -9\n")
	seed := uint64(time.Now().UnixNano())
	cfg := crashproc.Config{
		Dir: dir, Name: "fn.guest.kv", Seed: seed, Iterations: d.kills, MaxAcks: 300,
		Command: func(start int) *exec.Cmd {
			return exec.Command(exe, "pmem", "crash-writer", "--dir", dir, "--name", "fn.guest.kv",
				"--seed", strconv.FormatUint(seed, 10), "--start", strconv.Itoa(start))
		},
	}
	tty := isTerminal(out)
	if tty {
		cfg.Progress = func(it int, r crashproc.Report) {
			fmt.Fprintf(out, "\r   killed %d/%d, %d acknowledged writes checked", it+1, d.kills, r.Acked)
		}
	}
	rep, err := crashproc.Run(ctx, cfg)
	if tty {
		fmt.Fprintln(out)
	}
	if err != nil {
		return fmt.Errorf("demo: LOST DATA after kill -9: %w", err)
	}
	fmt.Fprintf(out, "   %d kills: all %d acknowledged writes present, no torn value (mean reopen %.1f ms)\n\n",
		rep.Iterations, rep.Acked, float64(rep.Recovery.Microseconds())/1000/float64(max(rep.Iterations, 1)))
	return nil
}

// elastic shows a pool moving capacity from a job whose lease lapsed to a
// function that asks for it.
func (d *demoCmd) elastic(ctx context.Context, out io.Writer, dir string) error {
	fmt.Fprintf(out, "Capacity moves from a job to a function when the job's lease lapses\n")
	poolDir := filepath.Join(dir, "pool")
	if err := os.MkdirAll(poolDir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	const mib = 1 << 20
	p, err := pmem.NewPool(poolDir, pmem.PoolOptions{Capacity: 64 * mib, Region: pmem.Options{Logger: d.logger()}, Logger: d.logger()})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer p.Close()
	job, err := p.Grant(pmem.GrantRequest{Owner: "job:demo", Name: "job.demo.shuffle", Size: 48 * mib})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	part := bytes.Repeat([]byte("shuffle!"), 512<<10/8)
	for i := range 16 {
		if err := job.Store().Put(fmt.Sprintf("part-%02d", i), part); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	fmt.Fprintf(out, "   job.demo.shuffle holds 48 MiB of a 64 MiB pool (16 partitions written)\n")
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:guest/model", Name: "fn.guest.model", Size: 32 * mib, Pinned: true})
	if !errors.Is(err, pmem.ErrNoCapacity) {
		return fmt.Errorf("demo: expected the pool to be full, got %v", err)
	}
	fmt.Fprintf(out, "   a function asks for 32 MiB: %v\n", err)
	// The job stops renewing; the function retries until the pool has
	// reclaimed the job's region (lease 1 s + grace 1 s).
	expires := job.Expires()
	var fn *pmem.Lease
	for fn == nil {
		fn, err = p.Grant(pmem.GrantRequest{Owner: "fn:guest/model", Name: "fn.guest.model", Size: 32 * mib, Pinned: true})
		if err != nil && !errors.Is(err, pmem.ErrNoCapacity) {
			return fmt.Errorf("demo: %w", err)
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	defer fn.Release(true)
	st := p.Stats()
	fmt.Fprintf(out, "   the job's lease lapsed; %.2fs after it expired the function got its 32 MiB (pool: %d reclaimed, %d MiB of %d reserved)\n\n",
		time.Since(expires).Seconds(), st.Reclaims, st.Reserved/mib, st.Capacity/mib)
	return nil
}

// latency compares durable 1 KiB writes and reads of a function's state in
// its region with a stateless baseline: the state kept in a file on the
// local disk, written and fsynced per invocation.
func (d *demoCmd) latency(out io.Writer, dir string) error {
	fmt.Fprintf(out, "Durable 1 KiB state writes and reads, region vs a stateless baseline (same run)\n")
	s, _, err := pmem.OpenOrCreate(dir, "fn.guest.bench", pmem.Options{Logger: d.logger()})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer s.Close()
	base, err := os.MkdirTemp("", "marvel-demo-baseline-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(base)
	val := bytes.Repeat([]byte{'v'}, 1024)
	const n = 300
	var putP, putF, getP, getF []time.Duration
	buf := make([]byte, 0, 1024)
	for i := range n {
		key := fmt.Sprintf("state-%03d", i%32)
		binary.LittleEndian.PutUint64(val, uint64(i))
		t := time.Now()
		if err := s.Put(key, val); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		putP = append(putP, time.Since(t))
		t = time.Now()
		if err := writeSynced(filepath.Join(base, key), val); err != nil {
			return fmt.Errorf("demo: baseline: %w", err)
		}
		putF = append(putF, time.Since(t))
		t = time.Now()
		if buf, err = s.AppendValue(buf[:0], key); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		getP = append(getP, time.Since(t))
		t = time.Now()
		if _, err := os.ReadFile(filepath.Join(base, key)); err != nil {
			return fmt.Errorf("demo: baseline: %w", err)
		}
		getF = append(getF, time.Since(t))
	}
	info := s.Info()
	fmt.Fprintf(out, "   region: mode %s, persistence %s; baseline: file + fsync in %s\n", info.Mode, info.Method, base)
	fmt.Fprintf(out, "   %-6s %14s %14s %9s\n", "op", "region p50", "baseline p50", "speedup")
	for _, r := range []struct {
		op      string
		pm, bas []time.Duration
	}{{"write", putP, putF}, {"read", getP, getF}} {
		a, b := median(r.pm), median(r.bas)
		fmt.Fprintf(out, "   %-6s %14v %14v %8.0fx\n", r.op, a, b, float64(b)/float64(max(a, 1)))
	}
	fmt.Fprintln(out)
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// Hidden helper commands: the child processes of the demo.

func (p *pmemCmd) counterCommand() *cobra.Command {
	var dir, name string
	cmd := &cobra.Command{
		Use:    "counter",
		Short:  "Increment a counter in a region and print it (a demo function)",
		Hidden: true,
		Args:   p.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := pmem.OpenOrCreate(dir, name, pmem.Options{Owner: "fn:guest/counter", Pinned: true, Mode: p.mode.mode, Logger: p.logger()})
			if err != nil {
				return err
			}
			defer s.Close()
			var n uint64
			if v, err := s.Get("count"); err == nil && len(v) == 8 {
				n = binary.LittleEndian.Uint64(v)
			} else if err != nil && !errors.Is(err, pmem.ErrNotFound) {
				return err
			}
			n++
			if err := s.Put("count", binary.LittleEndian.AppendUint64(nil, n)); err != nil {
				return err
			}
			fmt.Fprintln(p.out(), n)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "namespace directory")
	cmd.Flags().StringVar(&name, "name", "", "region name")
	cmd.MarkFlagRequired("dir")
	cmd.MarkFlagRequired("name")
	return cmd
}

func (p *pmemCmd) crashWriterCommand() *cobra.Command {
	var o crashproc.WriterOptions
	cmd := &cobra.Command{
		Use:    "crash-writer",
		Short:  "Write the crash-test sequence, acknowledging each write on stdout",
		Hidden: true,
		Args:   p.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Store = pmem.Options{Mode: p.mode.mode, Logger: p.logger()}
			return crashproc.Writer(cmd.Context(), o, p.out())
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "namespace directory")
	cmd.Flags().StringVar(&o.Name, "name", "", "region name")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "seed of the write sequence")
	cmd.Flags().IntVar(&o.Start, "start", 0, "first write of the sequence")
	cmd.Flags().IntVar(&o.Count, "count", 0, "writes to make (0: until killed)")
	cmd.MarkFlagRequired("dir")
	cmd.MarkFlagRequired("name")
	return cmd
}
