package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// Bounds of the waits on the server's processes.
const (
	startTimeout = 60 * time.Second // until "listening on"
	stopTimeout  = 15 * time.Second // SIGTERM until exit
	goneTimeout  = 10 * time.Second // a killed process until it is gone
)

// Credentials of the tests' namespaces: guest's is OpenWhisk's standard key;
// "other" comes from the --keys file every server gets.
const (
	guestKey  = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	otherNS   = "other"
	otherKey  = "9b1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f:" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"
	wrongKey  = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	unusedKey = "00000000-0000-4000-8000-000000000000:" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"
)

// standalone is a `marvel standalone` child process.
type standalone struct {
	t       testing.TB
	cmd     *exec.Cmd
	data    string // --data
	tmp     string // its TMPDIR: the instances' work directories are below
	host    string // http://127.0.0.1:PORT
	logPath string // its stdout and stderr
	exited  chan struct{}
	waitErr error // set before exited closes

	mu      sync.Mutex
	stopped bool // under mu: Stop or Kill was called
}

// newDataDir returns a new data directory whose parents let the namespaces'
// users through (the test's temporary directories are 0700).
func newDataDir(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(root, "data")
}

// startStandalone runs `marvel standalone` over dataDir on a free loopback
// port, without the HDFS bridge, with emulated PMEM and a long idle time,
// and with the extra namespace "other" (otherKey). It waits for
// "listening on" and parses the API host. The test's cleanup stops it
// (Stop, unless the test did) and checks that none of its processes is
// left; on failure the server's output is in the test log.
func startStandalone(t testing.TB, dataDir string, extraArgs ...string) *standalone {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, []byte("# the tests' second namespace\n"+otherNS+" "+otherKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &standalone{
		t:       t,
		data:    dataDir,
		tmp:     filepath.Join(dir, "tmp"),
		logPath: filepath.Join(dir, "standalone.log"),
		exited:  make(chan struct{}),
	}
	if err := os.Mkdir(s.tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"standalone", "--data", dataDir, "--api", "127.0.0.1:0",
		"--hdfs", "-", "--webhdfs", "-", "--pmem", "emulated", "--idle", "10m",
		"--keys", keys, "--sdk", moduleRoot}, extraArgs...)
	s.cmd = exec.Command(marvelBin, args...)
	s.cmd.Env = testbin.ChildEnv("TMPDIR=" + s.tmp)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", marvelBin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.cleanup)

	hostRE := regexp.MustCompile(`(?m)^  API host +(\S+)$`)
	listenRE := regexp.MustCompile(`(?m)^listening on \S+$`)
	deadline := time.Now().Add(startTimeout)
	for {
		out := s.output()
		if listenRE.MatchString(out) {
			m := hostRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("marvel standalone printed \"listening on\" but no \"API host\" line:\n%s", out)
			}
			s.host = m[1]
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("marvel standalone exited before listening (%v):\n%s", s.waitErr, s.output())
		case <-time.After(20 * time.Millisecond): // polling its log file
		}
		if time.Now().After(deadline) {
			t.Fatalf("marvel standalone did not print \"listening on\" within %v:\n%s", startTimeout, out)
		}
	}
}

// output returns what the server has written so far.
func (s *standalone) output() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// pid is the server's process id.
func (s *standalone) pid() int { return s.cmd.Process.Pid }

// markStopped reports whether the server was already stopped or killed,
// and marks it so.
func (s *standalone) markStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.stopped
	s.stopped = true
	return was
}

// Stop sends SIGTERM, waits for the server to exit, checks that it exited
// with status 0, and that no process it started is left.
func (s *standalone) Stop() {
	t := s.t
	t.Helper()
	if s.markStopped() {
		return
	}
	select {
	case <-s.exited:
		t.Errorf("marvel standalone had exited before the test stopped it: %v\n%s", s.waitErr, tail(s.output(), 6000))
		return
	default:
	}
	tree := descendants(s.pid())
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("marvel standalone exited with %v after SIGTERM, want status 0:\n%s", s.waitErr, tail(s.output(), 6000))
		}
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("marvel standalone did not exit within %v of SIGTERM (killed it):\n%s", stopTimeout, tail(s.output(), 6000))
	}
	s.checkNoneLeft(tree)
}

// Kill sends SIGKILL to the server alone (not to its children) and waits
// for it to be reaped; it then checks that no process it started outlives
// it.
func (s *standalone) Kill() {
	t := s.t
	t.Helper()
	if s.markStopped() {
		return
	}
	tree := descendants(s.pid())
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("SIGKILL: %v", err)
	}
	<-s.exited
	s.checkNoneLeft(tree)
}

// checkNoneLeft waits until none of tree (processes of the server seen
// before it was stopped) is alive, and no process names the server's data
// or temporary directory on its command line; it kills what is left and
// reports it.
func (s *standalone) checkNoneLeft(tree []proc) {
	s.t.Helper()
	deadline := time.Now().Add(goneTimeout)
	for {
		left := s.leftovers(tree)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				syscall.Kill(p.PID, syscall.SIGKILL)
			}
			s.t.Errorf("%d processes of marvel standalone are still alive %v after it exited: %v\n%s", len(left), goneTimeout, left, tail(s.output(), 6000))
			return
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

// leftovers returns the live processes of tree, and any process whose
// command line names the data or temporary directory.
func (s *standalone) leftovers(tree []proc) []proc {
	var left []proc
	seen := map[int]bool{}
	for _, p := range tree {
		if p.Alive() {
			left = append(left, p)
			seen[p.PID] = true
		}
	}
	for _, p := range allProcs() {
		if seen[p.PID] || p.PID == os.Getpid() || p.State == "Z" {
			continue
		}
		if strings.Contains(p.Cmdline, s.data) || strings.Contains(p.Cmdline, s.tmp) {
			left = append(left, p)
		}
	}
	return left
}

// cleanup stops the server if the test did not, and shows its output if
// the test failed.
func (s *standalone) cleanup() {
	s.Stop()
	if s.t.Failed() {
		s.t.Logf("marvel standalone (pid %d) output:\n%s", s.pid(), tail(s.output(), 20000))
	}
}

// instancePids returns the server's live children: the runtime instances.
func (s *standalone) instancePids() []int {
	var out []int
	for _, p := range allProcs() {
		if p.PPID == s.pid() && p.State != "Z" {
			out = append(out, p.PID)
		}
	}
	return out
}

// proc is a process seen in /proc.
type proc = testbin.Proc

// readProc and allProcs read /proc.
var (
	readProc = testbin.ReadProc
	allProcs = testbin.AllProcs
)

// descendants returns the live processes below pid (children,
// grandchildren...).
func descendants(pid int) []proc {
	all := allProcs()
	kids := map[int][]proc{}
	for _, p := range all {
		kids[p.PPID] = append(kids[p.PPID], p)
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, k := range kids[n] {
			if k.State != "Z" {
				out = append(out, k)
			}
			queue = append(queue, k.PID)
		}
	}
	return out
}

// waitGone waits until pid is gone (or a zombie) or goneTimeout passes.
func waitGone(t testing.TB, p proc) {
	t.Helper()
	deadline := time.Now().Add(goneTimeout)
	for p.Alive() {
		if time.Now().After(deadline) {
			t.Fatalf("process %v is still alive %v after it was killed", p, goneTimeout)
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

var errTimeout = errors.New("timed out")

// eventually calls f every 50 ms until it returns nil or within passes;
// then it returns f's last error.
func eventually(within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v: %w", errTimeout, within, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the server: nothing to wait on
	}
}
