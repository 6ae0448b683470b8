package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/internal/testbin"
	owclient "github.com/marvel-serverless/marvel/invoker/client"
)

// guestKey is OpenWhisk's standard guest credential, which marvel
// standalone always accepts.
const guestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// Bounds of the waits on the servers' processes.
const (
	serverStartTimeout = 60 * time.Second // until "listening on"
	serverStopTimeout  = 15 * time.Second // SIGTERM until exit
)

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// marvelBinary builds cmd/marvel once per benchmark binary, as it is
// installed: the runtime of every standalone instance is this executable.
var marvelBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "marvel-bench-bin-")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "marvel")
	cmd := exec.Command("go", "build", "-o", exe, "./cmd/marvel")
	cmd.Dir = moduleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build marvel: %w\n%s", err, out)
	}
	return exe, nil
})

// marvel returns the built marvel executable, or skips the benchmark if it
// cannot be built (the tree does not compile, or no go command).
func marvel(b *testing.B) string {
	b.Helper()
	exe, err := marvelBinary()
	if err != nil {
		b.Skipf("marvel standalone benchmarks need the marvel command: %v", err)
	}
	return exe
}

// server is a marvel child process (standalone or runtime) serving HTTP on
// a free loopback port.
type server struct {
	cmd     *exec.Cmd
	addr    string // the address after "listening on"
	logPath string // its stderr
	exited  chan struct{}
}

// startServer runs marvel with args, waits for "listening on ADDR" on its
// stderr and returns it with the stderr lines written until then. Its
// stdout goes to /dev/null and its stderr to a file, so that nothing in
// the benchmark's process wakes up for what it writes (the runtime writes
// sentinels on both at every /run). The benchmark's cleanup stops it:
// SIGTERM, then SIGKILL after serverStopTimeout.
func startServer(b *testing.B, args ...string) (*server, []string) {
	b.Helper()
	tmp := b.TempDir()
	s := &server{cmd: exec.Command(marvel(b), args...), logPath: filepath.Join(tmp, "stderr"), exited: make(chan struct{})}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	logf, err := os.Create(s.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	s.cmd.Env = testbin.ChildEnv("TMPDIR=" + tmp)
	s.cmd.Stdout, s.cmd.Stderr = devnull, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		b.Fatalf("start marvel %s: %v", args[0], err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	b.Cleanup(s.stop)

	deadline := time.Now().Add(serverStartTimeout)
	for {
		out, _ := os.ReadFile(s.logPath)
		lines := strings.Split(string(out), "\n")
		for i, l := range lines[:len(lines)-1] { // whole lines only
			if a, ok := strings.CutPrefix(l, "listening on "); ok {
				s.addr = strings.TrimSpace(a)
				return s, lines[:i+1]
			}
		}
		select {
		case <-s.exited:
			b.Fatalf("marvel %s exited before listening (%v):\n%s", args[0], s.cmd.ProcessState, out)
		case <-time.After(10 * time.Millisecond): // polling its stderr
		}
		if time.Now().After(deadline) {
			b.Fatalf("marvel %s did not print \"listening on\" within %v:\n%s", args[0], serverStartTimeout, out)
		}
	}
}

// stop sends SIGTERM and waits for the process to exit, SIGKILL after
// serverStopTimeout. A standalone stops its instances on SIGTERM; the
// runtimes also have SIGKILL as their parent-death signal.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(serverStopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// standalone is a `marvel standalone` child process and an OpenWhisk
// client of its API with the guest key.
type standalone struct {
	*server
	host   string // http://127.0.0.1:PORT
	client *owclient.Client
	hc     *http.Client
}

var apiHostRE = regexp.MustCompile(`^  API host +(\S+)$`)

// startStandalone runs `marvel standalone` over data, on a free loopback
// port, without the HDFS bridge, with emulated PMEM, no isolation, an
// idle time longer than any benchmark, and this module as the SDK of Go
// source actions; more flags (--memory) follow.
func startStandalone(b *testing.B, data string, more ...string) *standalone {
	b.Helper()
	args := append([]string{"standalone", "--data", data, "--api", "127.0.0.1:0",
		"--hdfs", "-", "--webhdfs", "-", "--pmem", "emulated", "--isolate", "false", "--idle", "1h",
		"--sdk", moduleRoot()}, more...)
	srv, lines := startServer(b, args...)
	s := &standalone{server: srv}
	for _, l := range lines {
		if m := apiHostRE.FindStringSubmatch(l); m != nil {
			s.host = m[1]
		}
	}
	if s.host == "" {
		b.Fatalf("marvel standalone printed no \"API host\" line:\n%s", strings.Join(lines, "\n"))
	}
	// Enough idle connections for the most concurrent benchmark: the
	// default transport keeps two per host, and 64 clients would then open
	// and close a connection for most invocations.
	s.hc = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	c, err := owclient.New(owclient.Config{APIHost: s.host, Auth: guestKey, HTTPClient: s.hc})
	if err != nil {
		b.Fatal(err)
	}
	s.client = c
	b.Cleanup(s.hc.CloseIdleConnections)
	return s
}

// zipExec is the exec of a Go action compiled beforehand: code is a
// base64 zip holding exec.
func zipExec(code string) map[string]any {
	return map[string]any{"kind": "go:default", "code": code, "binary": true}
}

// sourceExec is the exec of a Go action given as source, built at /init.
func sourceExec(src string) map[string]any {
	return map[string]any{"kind": "go:default", "code": src, "binary": false}
}

// putAction creates or replaces action name (PUT with overwrite) with exec
// and more fields of the body (annotations, limits).
func (s *standalone) putAction(b *testing.B, name string, exec, more map[string]any) {
	b.Helper()
	body := map[string]any{"exec": exec}
	for k, v := range more {
		body[k] = v
	}
	s.call(b, http.MethodPut, "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body)
}

// deleteAction deletes action name (and its state, and its instances).
func (s *standalone) deleteAction(b *testing.B, name string) {
	b.Helper()
	if _, err := s.client.DeleteAction(context.Background(), name); err != nil {
		b.Fatalf("delete action %s: %v", name, err)
	}
}

// call sends a JSON request with the guest key and fails on a non-2xx
// reply.
func (s *standalone) call(b *testing.B, method, path string, body any) {
	b.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(method, s.host+path, bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	user, pass, _ := strings.Cut(guestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d %s (%v)", method, path, resp.StatusCode, out, err)
	}
}

// gauge reads one unlabelled metric from the server's /metrics.
func (s *standalone) gauge(b *testing.B, name string) float64 {
	b.Helper()
	resp, err := s.hc.Get(s.host + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				b.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	b.Fatalf("metric %s not in %s/metrics", name, s.host)
	return 0
}

// startRuntime runs `marvel runtime` over data as the invoker runs an
// instance of a stateful action (its region under data, emulated PMEM),
// and returns its base URL.
func startRuntime(b *testing.B, data string) string {
	b.Helper()
	srv, _ := startServer(b, "runtime", "--listen", "127.0.0.1:0", "--data", data, "--pmem", "emulated",
		"--region-max", strconv.Itoa(64<<20), "--work", b.TempDir())
	return "http://" + srv.addr
}

// cpuTime returns the CPU time (user and system) used so far by the
// server and every live process below it (its runtime instances and their
// actions), from /proc, at the kernel's clock-tick resolution (10 ms).
// ok is false without /proc.
func (s *server) cpuTime() (d time.Duration, ok bool) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return 0, false
	}
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ... utime(14) stime(15); comm may hold
		// spaces and parentheses, so split after its last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		pid, _ := strconv.Atoi(string(bytes.TrimSpace(b[:bytes.IndexByte(b, '(')])))
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid, ut + st}
	}
	var ticks int64
	for pid, p := range procs {
		for q := pid; q > 1; q = procs[q].ppid {
			if q == s.cmd.Process.Pid {
				ticks += p.ticks
				break
			}
			if _, known := procs[q]; !known {
				break
			}
		}
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / hz, true
}

// selfCPUTime returns the CPU time the benchmark's process has used.
func selfCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runtimeStartedRE matches the server's log line for an instance that
// started, with how long it took to listen.
var runtimeStartedRE = regexp.MustCompile(`msg="runtime started" .*\btook=(\S+)`)

// lastRuntimeStart returns how long the last runtime instance the server
// started took from its start to listening, from its log (--log-level
// info).
func (s *server) lastRuntimeStart() (time.Duration, bool) {
	out, err := os.ReadFile(s.logPath)
	if err != nil {
		return 0, false
	}
	m := runtimeStartedRE.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, false
	}
	d, err := time.ParseDuration(string(m[len(m)-1][1]))
	return d, err == nil
}
