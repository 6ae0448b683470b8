package load

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

// guestKey is OpenWhisk's standard guest credential, always accepted.
const guestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

const (
	startTimeout = 60 * time.Second // until "listening on"
	stopTimeout  = 20 * time.Second // SIGTERM until exit
)

// server is a `marvel standalone` child process with the HDFS bridge on.
type server struct {
	t        testing.TB
	cmd      *exec.Cmd
	data     string
	host     string // http://127.0.0.1:PORT
	nameNode string // 127.0.0.1:PORT
	pprof    string // http://127.0.0.1:PORT/debug/pprof/
	logPath  string
	exited   chan struct{}
	waitErr  error // set before exited closes
}

// startServer runs `marvel standalone` over a fresh data directory, on free
// loopback ports, with emulated PMEM and the bridge (no WebHDFS). The
// test's cleanup stops it with SIGTERM and checks it exits with status 0.
func startServer(t testing.TB, extraArgs ...string) *server {
	t.Helper()
	dir := t.TempDir()
	// Namespaces' users (isolation is on as root) must get through.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{t: t, data: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "standalone.log"), exited: make(chan struct{})}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"standalone", "--data", s.data, "--api", "127.0.0.1:0",
		"--hdfs", "127.0.0.1:0", "--datanode", "127.0.0.1:0", "--webhdfs", "-",
		"--pmem", "emulated", "--idle", "10m", "--sdk", moduleRoot, "--pprof", cmp.Or(*pprofFlag, "127.0.0.1:0")}, extraArgs...)
	s.cmd = exec.Command(marvelBin, args...)
	s.cmd.Env = testbin.ChildEnv("TMPDIR=" + tmp)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", marvelBin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.stop)

	hostRE := regexp.MustCompile(`(?m)^  API host +(\S+)$`)
	hdfsRE := regexp.MustCompile(`(?m)^  HDFS +hdfs://(\S+)$`)
	pprofRE := regexp.MustCompile(`(?m)^  pprof +(\S+)$`)
	listenRE := regexp.MustCompile(`(?m)^listening on \S+$`)
	deadline := time.Now().Add(startTimeout)
	for {
		out := s.output()
		if listenRE.MatchString(out) {
			h, n, pp := hostRE.FindStringSubmatch(out), hdfsRE.FindStringSubmatch(out), pprofRE.FindStringSubmatch(out)
			if h == nil || n == nil || pp == nil {
				t.Fatalf("marvel standalone printed \"listening on\" without its API host, HDFS or pprof address:\n%s", out)
			}
			s.host, s.nameNode, s.pprof = h[1], n[1], pp[1]
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("marvel standalone exited before listening (%v):\n%s", s.waitErr, out)
		case <-time.After(20 * time.Millisecond): // polling its log file
		}
		if time.Now().After(deadline) {
			t.Fatalf("marvel standalone did not print \"listening on\" within %v:\n%s", startTimeout, out)
		}
	}
}

func (s *server) output() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// alive fails the test if the server has exited.
func (s *server) alive(t testing.TB) {
	t.Helper()
	select {
	case <-s.exited:
		t.Fatalf("marvel standalone exited under load (%v):\n%s", s.waitErr, tail(s.output(), 8000))
	default:
	}
}

// stop sends SIGTERM and checks the exit; it kills the process group if the
// server does not exit in time.
func (s *server) stop() {
	t := s.t
	select {
	case <-s.exited:
		t.Errorf("marvel standalone had exited before the test stopped it: %v\n%s", s.waitErr, tail(s.output(), 8000))
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("marvel standalone exited with %v after SIGTERM, want status 0:\n%s", s.waitErr, tail(s.output(), 8000))
		}
	case <-time.After(stopTimeout):
		syscall.Kill(-s.pid(), syscall.SIGKILL) // its own process group
		<-s.exited
		t.Errorf("marvel standalone did not exit within %v of SIGTERM (killed it):\n%s", stopTimeout, tail(s.output(), 8000))
	}
	if t.Failed() {
		t.Logf("marvel standalone output:\n%s", tail(s.output(), 20000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// apiClient is an HTTP client for the load: its own transport, so the test
// can close every idle connection (and the server's descriptors for them)
// between rounds.
type apiClient struct {
	tr *http.Transport
	c  *http.Client
}

func newAPIClient() *apiClient {
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: time.Minute}
	return &apiClient{tr: tr, c: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

func (a *apiClient) close() { a.tr.CloseIdleConnections() }

// do sends a guest request with a JSON body and returns the status and body.
func (s *server) do(ctx context.Context, a *apiClient, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.host+path, rd)
	if err != nil {
		return 0, nil, err
	}
	user, pass, _ := strings.Cut(guestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// putEcho creates the echo action as a stateless action allowed
// concurrency instances.
func (s *server) putEcho(t testing.TB, name string, concurrency int) {
	t.Helper()
	a := newAPIClient()
	defer a.close()
	body := map[string]any{
		"namespace": "_", "name": name,
		"exec":        map[string]any{"kind": "go:default", "code": echoZip},
		"annotations": []any{map[string]any{"key": "state", "value": false}},
		"limits":      map[string]any{"concurrency": concurrency, "memory": 128},
	}
	st, b, err := s.do(context.Background(), a, http.MethodPut, "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body)
	if err != nil || st != http.StatusOK {
		t.Fatalf("create %s: %d %s %v", name, st, b, err)
	}
}

// hdfsClient connects to the bridge as root (the bridge's superuser). It
// fetches the server defaults before the client is shared: colinmarc/hdfs
// v2.4.0 caches them on first use without a lock (a data race between the
// first concurrent Create and Read).
func (s *server) hdfsClient(t testing.TB) *hdfs.Client {
	t.Helper()
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{s.nameNode}, User: "root"})
	if err != nil {
		t.Fatalf("HDFS client: %v", err)
	}
	if _, err := c.ServerDefaults(); err != nil {
		c.Close()
		t.Fatalf("HDFS server defaults: %v", err)
	}
	return c
}

// usage is one sample of the server process's resources.
type usage struct {
	rss, rssAnon int64 // VmRSS and RssAnon, bytes
	fds          int   // entries of /proc/PID/fd
	goroutines   int   // go_goroutines from /metrics (-1 if unread)
	heap         int64 // live heap after a collection (-1 if not read: between rounds only)
}

func (u usage) String() string {
	h := ""
	if u.heap >= 0 {
		h = ", live heap " + mib(u.heap)
	}
	return fmt.Sprintf("rss %s (anon %s)%s, %d fds, %d goroutines", mib(u.rss), mib(u.rssAnon), h, u.fds, u.goroutines)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// sample reads the server's RSS and descriptors from /proc and its
// goroutines from /metrics.
func (s *server) sample(t testing.TB) usage {
	t.Helper()
	u, err := s.readUsage()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *server) readUsage() (usage, error) {
	u := usage{goroutines: -1, heap: -1}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return u, fmt.Errorf("read the server's status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		fields := strings.Fields(v)
		if !ok || len(fields) < 1 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			u.rss = n << 10
		case "RssAnon":
			u.rssAnon = n << 10
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid()))
	if err != nil {
		return u, fmt.Errorf("list the server's descriptors: %w", err)
	}
	u.fds = len(ents)
	u.goroutines = s.goroutines()
	return u, nil
}

// goroutines scrapes go_goroutines from /metrics (-1 on failure).
func (s *server) goroutines() int {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(s.host + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(n)
			}
		}
	}
	return -1
}

// liveHeap makes the server collect its garbage and returns the heap
// still allocated (HeapAlloc, from its pprof endpoint): what a leak grows,
// unlike RSS, which also holds the free heap the runtime has not yet given
// back after a round's peak.
func (s *server) liveHeap(t testing.TB) int64 {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(s.pprof + "heap?gc=1&debug=1")
	if err != nil {
		t.Fatalf("read the server's heap profile: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("the server's heap profile: HeapAlloc %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("the server's heap profile has no HeapAlloc line (%v)", sc.Err())
	return 0
}

// settle waits (up to 15 s) until the server's descriptors and goroutines
// are back within slack of base, as the server closes the connections the
// clients closed, and returns the last sample.
func (s *server) settle(t testing.TB, base usage, fdSlack, goSlack int) usage {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		u := s.sample(t)
		if (u.fds <= base.fds+fdSlack && u.goroutines <= base.goroutines+goSlack) || time.Now().After(deadline) {
			u.heap = s.liveHeap(t)
			return u
		}
		time.Sleep(100 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

// quiesce waits (up to 10 s) until two samples 300 ms apart agree on the
// server's descriptors and goroutines, and returns the second.
func (s *server) quiesce(t testing.TB) usage {
	t.Helper()
	prev := s.sample(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(300 * time.Millisecond) // polling /proc: nothing to wait on
		u := s.sample(t)
		if (u.fds == prev.fds && u.goroutines == prev.goroutines) || time.Now().After(deadline) {
			u.heap = s.liveHeap(t)
			return u
		}
		prev = u
	}
}

// peakSampler samples the server every period until stopped and keeps the
// largest figures seen.
type peakSampler struct {
	stop chan struct{}
	done chan struct{}
	peak usage
}

func (s *server) samplePeaks(period time.Duration) *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
			}
			u, err := s.readUsage()
			if err != nil {
				continue // the server is gone: the test finds out
			}
			p.peak.rss = max(p.peak.rss, u.rss)
			p.peak.rssAnon = max(p.peak.rssAnon, u.rssAnon)
			p.peak.fds = max(p.peak.fds, u.fds)
			p.peak.goroutines = max(p.peak.goroutines, u.goroutines)
		}
	}()
	return p
}

// end stops the sampler and returns the peaks.
func (p *peakSampler) end() usage {
	close(p.stop)
	<-p.done
	return p.peak
}
