package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/internal/testbin"
	"github.com/marvel-serverless/marvel/invoker/client"
)

const guestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// Bounds of the waits on the server's processes.
const (
	startTimeout = 60 * time.Second // until "listening on"
	stopTimeout  = 15 * time.Second // SIGTERM until exit
	goneTimeout  = 10 * time.Second // a killed tree until it is gone
)

// stack is a `marvel standalone` child over one data directory and fixed
// loopback ports, which a kill and a restart keep.
type stack struct {
	t                       testing.TB
	data                    string // --data
	files                   string // DATA/fs/guest
	tmp                     string // its TMPDIR
	logPath                 string // every incarnation's stdout and stderr, appended
	api                     string // 127.0.0.1:PORT, and the bridge's three addresses
	hdfs, datanode, webhdfs string
	c                       *client.Client

	// restart is held while the server is killed and started again:
	// waitUp waits for it.
	restart sync.Mutex

	mu      sync.Mutex // guards the fields below
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited closes
	starts  int
}

// freeAddrs returns n loopback addresses free at the time of the call.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// newStack starts `marvel standalone` over a new data directory, with the
// HDFS bridge, emulated PMEM and no isolation, on ports it keeps across
// restarts. The test's cleanup stops it.
func newStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	addrs := freeAddrs(t, 4)
	s := &stack{
		t:        t,
		data:     filepath.Join(dir, "data"),
		tmp:      filepath.Join(dir, "tmp"),
		logPath:  filepath.Join(dir, "standalone.log"),
		api:      addrs[0],
		hdfs:     addrs[1],
		datanode: addrs[2],
		webhdfs:  addrs[3],
	}
	s.files = filepath.Join(s.data, "fs", "guest")
	if err := os.MkdirAll(s.tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{APIHost: "http://" + s.api, Auth: guestKey})
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	t.Cleanup(s.cleanup)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs a new incarnation of the server and waits until it listens.
func (s *stack) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fi, err := logf.Stat()
	if err != nil {
		return err
	}
	from := fi.Size()
	s.mu.Lock()
	s.starts++
	fmt.Fprintf(logf, "=== chaos: start %d of marvel standalone at %s\n", s.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(marvelBin, "standalone", "--data", s.data, "--api", s.api,
		"--hdfs", s.hdfs, "--datanode", s.datanode, "--webhdfs", s.webhdfs,
		"--pmem", "emulated", "--isolate", "false", "--idle", "10m", "--memory", "4096")
	cmd.Env = testbin.ChildEnv("TMPDIR=" + s.tmp)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start %s: %w", marvelBin, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.waitErr = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		if strings.Contains(s.outputFrom(from), "\nlistening on ") {
			return nil
		}
		select {
		case <-exited:
			s.mu.Lock()
			err := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("marvel standalone exited before listening (%v):\n%s", err, tail(s.outputFrom(from), 6000))
		case <-time.After(20 * time.Millisecond): // polling its log file
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("marvel standalone did not print \"listening on\" within %v:\n%s", startTimeout, tail(s.outputFrom(from), 6000))
		}
	}
}

// outputFrom returns the log from offset from on.
func (s *stack) outputFrom(from int64) string {
	b, _ := os.ReadFile(s.logPath)
	if int64(len(b)) < from {
		return ""
	}
	return "\n" + string(b[from:])
}

// pid is the current incarnation's process id.
func (s *stack) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// waitUp waits until no restart is in progress.
func (s *stack) waitUp() {
	s.restart.Lock()
	s.restart.Unlock() //nolint:staticcheck // an empty critical section: waiting for the restart
}

// killAndRestart sends SIGKILL to the server alone, waits until it and
// every process it started are gone (instances die with it: parent-death
// signal), and starts it again on the same data directory and ports.
func (s *stack) killAndRestart() error {
	s.restart.Lock()
	defer s.restart.Unlock()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	before := descendants(cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL marvel standalone: %w", err)
	}
	<-exited
	if err := waitGone(before.procs); err != nil {
		return fmt.Errorf("after SIGKILL of marvel standalone: %w", err)
	}
	return s.start()
}

// waitGone waits until none of procs is alive.
func waitGone(procs []proc) error {
	deadline := time.Now().Add(goneTimeout)
	for {
		var left []proc
		for _, p := range procs {
			if p.Alive() {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				syscall.Kill(p.PID, syscall.SIGKILL)
			}
			return fmt.Errorf("%d processes still alive %v later (killed them now): %v", len(left), goneTimeout, left)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

// cleanup stops the server with SIGTERM and checks that nothing it started
// is left; on failure it shows the server's log.
func (s *stack) cleanup() {
	s.restart.Lock()
	defer s.restart.Unlock()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd != nil {
		before := descendants(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			s.t.Errorf("marvel standalone did not exit within %v of SIGTERM", stopTimeout)
		}
		if err := waitGone(before.procs); err != nil {
			s.t.Errorf("after SIGTERM of marvel standalone: %v", err)
		}
	}
	if s.t.Failed() {
		b, _ := os.ReadFile(s.logPath)
		s.t.Logf("marvel standalone log (every incarnation):\n%s", tail(string(b), 30000))
	}
}

// metrics returns the server's gauges and counters without labels.
func (s *stack) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.api+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || strings.HasPrefix(f[0], "#") || strings.Contains(f[0], "{") {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out, sc.Err()
}

// waitIdle waits until no instance runs or starts an activation.
func (s *stack) waitIdle(within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var last error
	for {
		m, err := s.metrics(ctx)
		if err == nil && m["marvel_instances_busy"] == 0 && m["marvel_instances_starting"] == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%v busy, %v starting", m["marvel_instances_busy"], m["marvel_instances_starting"])
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("instances still busy after %v", within), last)
		case <-time.After(50 * time.Millisecond): // polling the server: nothing to wait on
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
