package conformance_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// Sentinel ends every activation's logs on stdout and on stderr.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Exact bodies of the OpenWhisk Go proxy that harnesses compare.
const (
	bodyOK          = `{"ok":true}`
	bodyInitTwice   = `{"error":"Cannot initialize the action more than once."}`
	bodyMissingMain = `{"error":"Missing main/no code to execute."}`
	bodyNoAction    = `{"error":"no action defined yet"}`
	bodyNotDict     = `{"error":"The action did not return a dictionary or array."}`
	msgInitTwice    = "Cannot initialize the action more than once."
)

const (
	startTimeout = 30 * time.Second // until "listening on"
	stopTimeout  = 20 * time.Second // SIGTERM until exit
	waitTimeout  = 10 * time.Second // a condition on the logs
	runTimeout   = 30 * time.Second // one /run or precompiled /init
	buildTimeout = 5 * time.Minute  // an /init that compiles Go
)

// logBuf is an output stream of the runtime, captured whole.
type logBuf struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newLogBuf() *logBuf { return &logBuf{changed: make(chan struct{})} }

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// snapshot returns the text so far and a channel closed at the next write.
func (l *logBuf) snapshot() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String(), l.changed
}

// String returns the text so far.
func (l *logBuf) String() string {
	s, _ := l.snapshot()
	return s
}

// waitFor waits until cond holds for the text, and returns that text. It
// fails the test after timeout.
func (l *logBuf) waitFor(t testing.TB, what string, timeout time.Duration, cond func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s, changed := l.snapshot()
		if cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; the stream holds:\n%s", timeout, what, tail(s, 4000))
			return s
		}
	}
}

// lines splits s into lines, without a trailing empty one.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// countSentinels counts the lines of s that are exactly the sentinel.
func countSentinels(s string) int {
	n := 0
	for _, l := range lines(s) {
		if l == Sentinel {
			n++
		}
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// marvelRuntime is a `marvel runtime` child process.
type marvelRuntime struct {
	t              testing.TB
	cmd            *exec.Cmd
	url            string // http://host:port
	data, work     string
	stdout, stderr *logBuf
	exited         chan struct{} // closed once the process is reaped
	waitErr        error         // set before exited closes
	copied         sync.WaitGroup

	mu      sync.Mutex
	stopped bool // under mu
	// stopWithin is how long stop waits for the runtime to exit after
	// SIGTERM (default stopTimeout).
	stopWithin time.Duration
}

// runtimeConfig adjusts a runtime before it starts.
type runtimeConfig struct {
	data string   // --data (default: a new t.TempDir())
	args []string // extra flags
	env  []string // extra environment variables
}

// startRuntime starts `marvel runtime` on a free loopback port with a new
// work directory, and stops it (SIGTERM, expecting exit status 0) when the
// test ends.
func startRuntime(t testing.TB, cfg runtimeConfig) *marvelRuntime {
	t.Helper()
	if cfg.data == "" {
		cfg.data = t.TempDir()
	}
	r := &marvelRuntime{
		t:      t,
		data:   cfg.data,
		work:   t.TempDir(),
		stdout: newLogBuf(),
		stderr: newLogBuf(),
		exited: make(chan struct{}),
	}
	args := append([]string{"runtime", "--listen", "127.0.0.1:0", "--data", r.data, "--work", r.work, "--sdk", moduleRoot}, cfg.args...)
	r.cmd = exec.Command(marvelBin, args...)
	r.cmd.Env = testbin.ChildEnv(append([]string{"TMPDIR=" + os.TempDir()}, cfg.env...)...)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = outW, errW
	err = r.cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		t.Fatalf("start %s: %v", marvelBin, err)
	}
	r.copied.Add(2)
	go func() { defer r.copied.Done(); io.Copy(r.stdout, outR); outR.Close() }()
	go func() { defer r.copied.Done(); io.Copy(r.stderr, errR); errR.Close() }()
	go func() { r.waitErr = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { r.stop() })

	addrRE := regexp.MustCompile(`listening on (\S+)\n`)
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for {
		s, changed := r.stderr.snapshot()
		if m := addrRE.FindStringSubmatch(s); m != nil {
			r.url = "http://" + m[1]
			return r
		}
		select {
		case <-changed:
		case <-r.exited:
			r.copied.Wait()
			t.Fatalf("marvel runtime exited before listening (%v); stderr:\n%s", r.waitErr, r.stderr.String())
		case <-deadline.C:
			t.Fatalf("marvel runtime did not print \"listening on\" within %v; stderr:\n%s", startTimeout, s)
		}
	}
}

// stop sends SIGTERM, waits for the runtime to exit, and checks it exited
// with status 0 and closed its output (no action process outlives it). It is
// idempotent; the test's Cleanup calls it too.
func (r *marvelRuntime) stop() {
	t := r.t
	t.Helper()
	r.mu.Lock()
	stopped := r.stopped
	r.stopped = true
	r.mu.Unlock()
	if stopped {
		return
	}
	select {
	case <-r.exited:
		r.copied.Wait()
		t.Errorf("marvel runtime had exited before the test stopped it: %v; stderr:\n%s", r.waitErr, tail(r.stderr.String(), 4000))
		return
	default:
	}
	kids := children(r.pid())
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	within := r.stopWithin
	if within == 0 {
		within = stopTimeout
	}
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-r.exited:
		if r.waitErr != nil {
			t.Errorf("marvel runtime exited with %v after SIGTERM, want status 0; stderr:\n%s", r.waitErr, tail(r.stderr.String(), 4000))
		}
	case <-timer.C:
		r.cmd.Process.Kill()
		<-r.exited
		for _, k := range kids { // the action runs in a process group of its own
			syscall.Kill(-k, syscall.SIGKILL)
		}
		t.Errorf("marvel runtime did not exit within %v of SIGTERM (killed it and its action)", within)
	}
	copied := make(chan struct{})
	go func() { r.copied.Wait(); close(copied) }()
	outputTimer := time.NewTimer(5 * time.Second)
	defer outputTimer.Stop()
	select {
	case <-copied:
	case <-outputTimer.C:
		t.Errorf("the runtime's stdout/stderr stayed open 5s after it exited: a process it started outlived it")
	}
}

// pid is the runtime's process id.
func (r *marvelRuntime) pid() int { return r.cmd.Process.Pid }

// response is an HTTP reply of the runtime.
type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSuffix(r.Body, []byte("\n")))
}

// do sends method path with body (a string or []byte sent as is, anything
// else encoded as JSON) and returns the reply. It checks what every reply
// must satisfy: Content-Type application/json, and for any status but 200 a
// body that is a JSON object with a string "error". It reports problems with
// t.Errorf, so it may be called from any goroutine.
func (r *marvelRuntime) do(t testing.TB, method, path string, body any, timeout time.Duration) (response, error) {
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return response{}, err
		}
	}
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(b))
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the reply: %w", method, path, err)
	}
	res := response{Status: resp.StatusCode, Body: rb, Header: resp.Header}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want application/json (reply %s)", method, path, ct, res)
	}
	if res.Status != http.StatusOK {
		if _, err := errorField(rb); err != nil {
			t.Errorf("%s %s: error reply %s: %v", method, path, res, err)
		}
	}
	return res, nil
}

// errorField returns the string "error" of a JSON object body.
func errorField(body []byte) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("the body is not a JSON object: %w", err)
	}
	raw, ok := m["error"]
	if !ok {
		return "", errors.New("the body has no \"error\" field")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("\"error\" is %s, not a string", raw)
	}
	return s, nil
}

// post sends a POST and fails the test if the request itself fails.
func (r *marvelRuntime) post(t testing.TB, path string, body any) response {
	t.Helper()
	return r.postTimeout(t, path, body, runTimeout)
}

func (r *marvelRuntime) postTimeout(t testing.TB, path string, body any, timeout time.Duration) response {
	t.Helper()
	res, err := r.do(t, http.MethodPost, path, body, timeout)
	if err != nil {
		t.Fatalf("%v; runtime stderr:\n%s", err, tail(r.stderr.String(), 4000))
	}
	return res
}

// initReq is the "value" of an /init request.
type initReq struct {
	Name   string         `json:"name,omitempty"`
	Main   string         `json:"main,omitempty"`
	Code   string         `json:"code,omitempty"`
	Binary *bool          `json:"binary,omitempty"`
	Env    map[string]any `json:"env,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// init posts /init with value v.
func (r *marvelRuntime) init(t testing.TB, v initReq) response {
	t.Helper()
	return r.post(t, "/init", map[string]any{"value": v})
}

// initAction inits a precompiled action (its base64 zip) with env, and
// fails the test unless the reply is 200 {"ok":true}.
func (r *marvelRuntime) initAction(t testing.TB, name string, env map[string]any) {
	t.Helper()
	res := r.init(t, initReq{Name: name, Main: "main", Code: actionZip[name], Binary: ptr(true), Env: env})
	wantBody(t, "init "+name, res, http.StatusOK, bodyOK)
}

// initScript inits a #! script sent base64-encoded as a binary, and fails
// the test unless the reply is 200 {"ok":true}.
func (r *marvelRuntime) initScript(t testing.TB, script string, env map[string]any) {
	t.Helper()
	res := r.init(t, initReq{Name: "script", Main: "main", Code: b64(script), Binary: ptr(true), Env: env})
	wantBody(t, "init script", res, http.StatusOK, bodyOK)
}

// run posts /run with value and the activation fields of ctx (namespace,
// action_name, ...).
func (r *marvelRuntime) run(t testing.TB, value any, ctx map[string]any) response {
	t.Helper()
	req := map[string]any{"value": value}
	for k, v := range ctx {
		req[k] = v
	}
	return r.post(t, "/run", req)
}

// wantBody checks a reply's status and body. The body must be want exactly,
// except for one trailing newline.
func wantBody(t testing.TB, what string, res response, status int, want string) {
	t.Helper()
	got := strings.TrimSuffix(string(res.Body), "\n")
	if res.Status != status || got != want {
		t.Errorf("%s: got %d %s, want %d %s", what, res.Status, got, status, want)
	}
}

// wantJSON checks a 200 reply whose body must equal want as JSON.
func wantJSON(t testing.TB, what string, res response, want string) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Errorf("%s: got %s, want 200 %s", what, res, want)
		return
	}
	var g, w any
	if err := json.Unmarshal(res.Body, &g); err != nil {
		t.Errorf("%s: the body %q is not JSON: %v", what, res.Body, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %q: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s: got %s, want %s", what, gb, wb)
	}
}

// wantError checks a reply's status and that its error contains every one
// of parts (case-insensitively); it returns the error text.
func wantError(t testing.TB, what string, res response, status int, parts ...string) string {
	t.Helper()
	msg, err := errorField(res.Body)
	if res.Status != status || err != nil {
		t.Errorf("%s: got %s, want %d and a JSON error", what, res, status)
		return msg
	}
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(p)) {
			t.Errorf("%s: error %q does not mention %q", what, msg, p)
		}
	}
	return msg
}

// decode decodes a 200 reply into a map, failing the test otherwise.
func decode(t testing.TB, what string, res response) map[string]any {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("%s: got %s, want 200", what, res)
	}
	var m map[string]any
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("%s: the body %q is not a JSON object: %v", what, res.Body, err)
	}
	return m
}

// waitSentinels waits until both streams hold n sentinels, then checks they
// hold exactly n and that the sentinel is the last line of each.
func (r *marvelRuntime) waitSentinels(t testing.TB, n int) {
	t.Helper()
	for _, s := range []struct {
		name string
		buf  *logBuf
	}{{"stdout", r.stdout}, {"stderr", r.stderr}} {
		text := s.buf.waitFor(t, fmt.Sprintf("%d sentinels on %s", n, s.name), waitTimeout,
			func(text string) bool { return countSentinels(text) >= n })
		if got := countSentinels(text); got != n {
			t.Errorf("%s holds %d sentinels, want %d:\n%s", s.name, got, n, tail(text, 4000))
		}
		if ls := lines(text); len(ls) == 0 || ls[len(ls)-1] != Sentinel || !strings.HasSuffix(text, "\n") {
			t.Errorf("the last line on %s is not the sentinel:\n%s", s.name, tail(text, 4000))
		}
	}
}

// stopAndCountSentinels stops the runtime (so both streams are complete) and
// checks that each holds exactly n sentinels.
func (r *marvelRuntime) stopAndCountSentinels(t testing.TB, n int) {
	t.Helper()
	r.stop()
	for name, buf := range map[string]*logBuf{"stdout": r.stdout, "stderr": r.stderr} {
		if got := countSentinels(buf.String()); got != n {
			t.Errorf("after the runtime stopped, %s holds %d sentinels, want %d (one per /run):\n%s", name, got, n, tail(buf.String(), 4000))
		}
	}
}

// children returns the pids of the processes whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == pid && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// actionPid returns the runtime's single live child: the action process.
func (r *marvelRuntime) actionPid(t testing.TB) int {
	t.Helper()
	kids := children(r.pid())
	if len(kids) != 1 {
		t.Fatalf("the runtime (pid %d) has children %v, want exactly one action process", r.pid(), kids)
	}
	return kids[0]
}

// waitGone waits until pid no longer exists (it has been reaped).
func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists %v after it was killed", pid, waitTimeout)
		}
		time.Sleep(2 * time.Millisecond) // polling /proc: nothing to wait on
	}
}
