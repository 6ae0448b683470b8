package instance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/internal/testbin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shellAction is the ActionLoop action of most tests: it prints a line on
// each stream as it starts, then for each activation evaluates the shell
// command base64-encoded in the value's "cmd" and answers $reply.
const shellAction = `#!/bin/bash
echo "init stdout"
echo "init stderr" >&2
echo '{"ok":true}' >&3
re='"cmd":"([A-Za-z0-9+/=]*)"'
while read -r line; do
  reply='{"done":true}'
  if [[ $line =~ $re ]]; then eval "$(printf '%s' "${BASH_REMATCH[1]}" | base64 -d)"; fi
  echo "$reply" >&3
done
`

// waitTimeout bounds the tests' waits on conditions.
const waitTimeout = 10 * time.Second

// startInstance starts a runtime instance without state, closed (and
// checked to leave no process behind) at cleanup.
func startInstance(t *testing.T, mod func(*Config)) *Instance {
	t.Helper()
	cfg := Config{
		Binary:  marvelBin,
		Args:    []string{"--data="},
		WorkDir: filepath.Join(t.TempDir(), "work"),
		Env:     []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()},
		Name:    t.Name(),
	}
	if mod != nil {
		mod(&cfg)
	}
	i, err := Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, i.Close())
		requireNoProcesses(t, i.PID())
		assert.NoDirExists(t, cfg.WorkDir, "Close removes the work directory")
	})
	return i
}

// initBody is an /init request for a script.
func initBody(script string) []byte {
	b, _ := json.Marshal(map[string]any{"value": map[string]any{
		"main": "main", "binary": true, "code": base64.StdEncoding.EncodeToString([]byte(script)),
	}})
	return b
}

// runBody is a /run request that makes shellAction evaluate cmd.
func runBody(cmd string) []byte {
	b, _ := json.Marshal(map[string]any{"value": map[string]any{"cmd": base64.StdEncoding.EncodeToString([]byte(cmd))}})
	return b
}

// initShell initialises i with shellAction and returns the reply.
func initShell(t *testing.T, i *Instance) Reply {
	t.Helper()
	r, err := i.Init(t.Context(), initBody(shellAction), RunOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, "init: %s", r.Body)
	return r
}

// texts returns the lines of stream ("" for both) as "stream: text".
func texts(logs []LogLine, stream string) []string {
	var out []string
	for _, l := range logs {
		if stream == "" || l.Stream == stream {
			out = append(out, l.Stream+": "+l.Text)
		}
	}
	return out
}

// instanceProcs lists the live processes in session or process group sid.
func instanceProcs(t *testing.T, sid int) []procStat {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err == nil && st.state != 'Z' && (st.sid == sid || st.pgrp == sid) {
			out = append(out, st)
		}
	}
	return out
}

// requireNoProcesses checks that nothing of the instance whose runtime was
// pid is alive.
func requireNoProcesses(t *testing.T, pid int) {
	t.Helper()
	require.Empty(t, instanceProcs(t, pid), "processes of the instance (session %d) left running", pid)
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

func TestStartListens(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	host, port, err := net.SplitHostPort(i.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
	require.True(t, alive(i.PID()))
	pgid, err := syscall.Getpgid(i.PID())
	require.NoError(t, err)
	assert.Equal(t, i.PID(), pgid, "the runtime leads its own process group")
	st, err := readStat(i.PID())
	require.NoError(t, err)
	assert.Equal(t, i.PID(), st.sid, "the runtime leads its own session")
	assert.NoError(t, i.Err(), "Err is nil while it runs")
	select {
	case <-i.Done():
		t.Fatal("Done is closed while the runtime runs")
	default:
	}

	require.NoError(t, i.Close())
	<-i.Done()
	var ee *ExitError
	require.ErrorAs(t, i.Err(), &ee)
	assert.Equal(t, 0, ee.State.ExitCode(), "SIGTERM stops the runtime cleanly: %v", ee)
	require.NoError(t, i.Close(), "Close is idempotent")
	_, err = i.Run(t.Context(), runBody(""), RunOptions{})
	require.ErrorIs(t, err, ErrClosed)
}

func TestInitAndRun(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	r := initShell(t, i)
	assert.JSONEq(t, `{"ok":true}`, string(r.Body))
	for n := range 3 {
		r, err := i.Run(t.Context(), runBody(`reply="{\"n\":`+strconv.Itoa(n)+`}"`), RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.JSONEq(t, `{"n":`+strconv.Itoa(n)+`}`, string(r.Body))
		assert.Empty(t, r.Logs)
	}
	// A second /init is refused, with the runtime's line in its logs.
	r, err := i.Init(t.Context(), initBody(shellAction), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Equal(t, []string{"stderr: Cannot initialize the action more than once."}, texts(r.Logs, ""))
}

func TestRunLogs(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	before := time.Now()
	r, err := i.Run(t.Context(), runBody(`
for n in 1 2 3; do echo "out $n ❄"; echo "err $n" >&2; done
printf 'no newline'`), RunOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, []string{"stdout: out 1 ❄", "stdout: out 2 ❄", "stdout: out 3 ❄", "stdout: no newline"}, texts(r.Logs, "stdout"),
		"a partial last line ends at the sentinel")
	assert.Equal(t, []string{"stderr: err 1", "stderr: err 2", "stderr: err 3"}, texts(r.Logs, "stderr"))
	format := regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) +(stdout|stderr): `)
	for n, l := range r.Logs {
		assert.NotContains(t, l.Text, Sentinel)
		assert.False(t, l.Time.Before(before), "line %d read before the request", n)
		if n > 0 {
			assert.False(t, l.Time.Before(r.Logs[n-1].Time), "line %d is older than line %d", n, n-1)
		}
		s := l.String()
		m := format.FindStringSubmatch(s)
		require.NotNil(t, m, "String() = %q", s)
		assert.Len(t, s[:strings.Index(s, l.Stream)-1], 30, "time field of %q", s)
		assert.True(t, strings.HasSuffix(s, " "+l.Stream+": "+l.Text), "String() = %q", s)
	}
	t.Logf("logs:\n%s", joinLines(r.Logs))
}

func joinLines(logs []LogLine) string {
	var b strings.Builder
	for _, l := range logs {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestInitOutputStaysWithInit(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	r := initShell(t, i)
	assert.ElementsMatch(t, []string{"stdout: init stdout", "stderr: init stderr"}, texts(r.Logs, ""))
	r, err := i.Run(t.Context(), runBody(`echo "run 1"`), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout: run 1"}, texts(r.Logs, ""), "nothing of the init leaks into the first run")
}

func TestInitFailureLogs(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	r, err := i.Init(t.Context(), initBody("#!/bin/bash\necho 'bad start' >&2\nexit 3\n"), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadGateway, r.Status)
	lines := texts(r.Logs, "stderr")
	require.Len(t, lines, 2, "logs: %q", lines)
	assert.Equal(t, "stderr: bad start", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "stderr: init failed: Cannot start action: Command exited abruptly"), lines[1])
}

func TestOutputBetweenRequestsGoesToTheNext(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	dir := t.TempDir()
	gate, printed := filepath.Join(dir, "go"), filepath.Join(dir, "printed")
	r, err := i.Run(t.Context(), runBody(`echo first
(while [ ! -e `+gate+` ]; do sleep 0.01; done; echo late; touch `+printed+`) &`), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout: first"}, texts(r.Logs, ""))
	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	require.Eventually(t, func() bool { _, err := os.Stat(printed); return err == nil }, waitTimeout, 5*time.Millisecond)
	r, err = i.Run(t.Context(), runBody(`echo second`), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout: late", "stdout: second"}, texts(r.Logs, ""))
}

func TestLongLineIsCut(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	r, err := i.Run(t.Context(), runBody(`head -c 2097152 /dev/zero | tr '\0' a; echo; echo after`), RunOptions{})
	require.NoError(t, err)
	require.Len(t, r.Logs, 2)
	long := r.Logs[0].Text
	assert.Equal(t, strings.Repeat("a", MaxLineBytes), long[:MaxLineBytes])
	assert.Equal(t, " … [line cut at 1048576 bytes: 1048576 more bytes dropped]", long[MaxLineBytes:])
	assert.Equal(t, "after", r.Logs[1].Text)
	assert.False(t, r.LogsTruncated)
}

func TestLogLimit(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	const limit = 1000
	r, err := i.Run(t.Context(), runBody(`for n in $(seq 100); do printf 'line %03d %040d\n' $n 0; done`), RunOptions{MaxLogBytes: limit})
	require.NoError(t, err)
	require.True(t, r.LogsTruncated)
	// Each line is 49 bytes and a newline: 20 fit in 1000 bytes.
	require.Len(t, r.Logs, 21)
	for n, l := range r.Logs[:20] {
		assert.True(t, strings.HasPrefix(l.Text, "line "+strconv.Itoa(1000 + n + 1)[1:]), l.Text)
	}
	last := r.Logs[20]
	assert.Equal(t, "stderr", last.Stream)
	assert.Equal(t, "Logs were truncated because the total bytes size exceeds the limit of 1000 bytes.", last.Text)

	r, err = i.Run(t.Context(), runBody(`echo next`), RunOptions{MaxLogBytes: limit})
	require.NoError(t, err)
	assert.False(t, r.LogsTruncated)
	assert.Equal(t, []string{"stdout: next"}, texts(r.Logs, ""), "what was cut does not reach the next run")
}

func TestRuntimeLogsGoToTheLogger(t *testing.T) {
	t.Parallel()
	var buf testbin.SyncBuffer
	i := startInstance(t, func(c *Config) {
		c.Args = append(c.Args, "--log-level", "info")
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	r := initShell(t, i)
	assert.ElementsMatch(t, []string{"stdout: init stdout", "stderr: init stderr"}, texts(r.Logs, ""))
	r, err := i.Run(t.Context(), runBody(`echo ran`), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout: ran"}, texts(r.Logs, ""))
	require.NoError(t, i.Close())
	assert.Contains(t, buf.String(), "action initialized", "the runtime's log lines reach the Logger")
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, waitTimeout, 5*time.Millisecond, "waiting for %s", path)
}

func TestRuntimeCrash(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	started := filepath.Join(t.TempDir(), "started")
	type result struct {
		r   Reply
		err error
	}
	res := make(chan result, 1)
	go func() {
		r, err := i.Run(context.Background(), runBody(`echo before; touch `+started+`; sleep 30`), RunOptions{})
		res <- result{r, err}
	}()
	waitFile(t, started)
	require.NoError(t, syscall.Kill(i.PID(), syscall.SIGKILL))

	got := <-res
	require.ErrorIs(t, got.err, ErrExited)
	assert.Contains(t, got.err.Error(), "signal: killed")
	assert.Contains(t, got.err.Error(), t.Name())
	assert.Equal(t, []string{"stdout: before"}, texts(got.r.Logs, ""), "the output so far comes with the error")
	select {
	case <-i.Done():
	case <-time.After(waitTimeout):
		t.Fatal("Done not closed after the runtime was killed")
	}
	var ee *ExitError
	require.ErrorAs(t, i.Err(), &ee)
	assert.Equal(t, syscall.SIGKILL, ee.State.Sys().(syscall.WaitStatus).Signal())
	assert.Contains(t, i.Err().Error(), "signal: killed")
	requireNoProcesses(t, i.PID()) // the action's sleep too, once Done

	_, err := i.Run(t.Context(), runBody(""), RunOptions{})
	require.ErrorIs(t, err, ErrExited, "a run after the exit fails at once")
}

func TestCloseLeavesNoProcess(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	r, err := i.Run(t.Context(), runBody(`echo "action $$"
sleep 300 >/dev/null 2>&1 </dev/null &
echo "quiet $!"
sleep 301 &
echo "holder $!"`), RunOptions{})
	require.NoError(t, err)
	pids := map[string]int{}
	for _, l := range r.Logs {
		name, pid, ok := strings.Cut(l.Text, " ")
		require.True(t, ok, l.Text)
		pids[name], err = strconv.Atoi(pid)
		require.NoError(t, err)
	}
	require.Len(t, pids, 3)
	for name, pid := range pids {
		require.True(t, alive(pid), "%s %d", name, pid)
		st, err := readStat(pid)
		require.NoError(t, err)
		assert.Equal(t, i.PID(), st.sid, "%s is in the runtime's session", name)
		assert.NotEqual(t, i.PID(), st.pgrp, "%s is in the action's group, not the runtime's", name)
	}
	require.NoError(t, i.Close())
	for name, pid := range pids {
		assert.False(t, alive(pid), "%s (pid %d) outlives Close", name, pid)
	}
	requireNoProcesses(t, i.PID())
}

func TestCloseKillsARuntimeThatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "fake-marvel")
	require.NoError(t, os.WriteFile(fake, []byte(`#!/bin/bash
trap '' TERM
sleep 300 &
echo "listening on 127.0.0.1:9" >&2
wait
`), 0o755))
	i := startInstance(t, func(c *Config) { c.Binary, c.StopTimeout = fake, 200*time.Millisecond })
	t0 := time.Now()
	require.NoError(t, i.Close())
	assert.GreaterOrEqual(t, time.Since(t0), 200*time.Millisecond)
	assert.Contains(t, i.Err().Error(), "signal: killed")
	requireNoProcesses(t, i.PID())
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	work := filepath.Join(t.TempDir(), "work")
	_, err := Start(t.Context(), Config{
		Binary: marvelBin, Args: []string{"--no-such-flag"}, WorkDir: work, Name: "bad#1",
	})
	require.ErrorIs(t, err, ErrStart)
	require.ErrorIs(t, err, ErrExited)
	msg := err.Error()
	assert.Contains(t, msg, "bad#1")
	assert.Contains(t, msg, "exit status 2")
	assert.Contains(t, msg, "unknown flag: --no-such-flag", "the stderr tail")
	assert.NoDirExists(t, work)

	_, err = Start(t.Context(), Config{Binary: filepath.Join(t.TempDir(), "missing"), WorkDir: work})
	require.ErrorIs(t, err, ErrStart)
	assert.NoDirExists(t, work)

	require.NoError(t, os.MkdirAll(filepath.Join(work, "x"), 0o755))
	_, err = Start(t.Context(), Config{Binary: marvelBin, WorkDir: work})
	require.ErrorIs(t, err, ErrStart)
	assert.Contains(t, err.Error(), "not empty")
}

func TestStartTimeout(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "fake-marvel")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/bash\necho 'warming up' >&2\nexec sleep 300\n"), 0o755))
	_, err := Start(t.Context(), Config{Binary: fake, WorkDir: filepath.Join(t.TempDir(), "w"), StartTimeout: 300 * time.Millisecond})
	require.ErrorIs(t, err, ErrStart)
	assert.Contains(t, err.Error(), "within 300ms")
	assert.Contains(t, err.Error(), "warming up")
	assert.Contains(t, err.Error(), "signal: killed")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	c := Config{Args: []string{"--listen=:1", "--work", "x"}, StopTimeout: -1}
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{"Binary", "WorkDir", "--listen", "--work", "negative"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = Start(t.Context(), c)
	require.Error(t, err)
}

func TestRunContextDeadline(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	started := filepath.Join(t.TempDir(), "started")
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	t0 := time.Now()
	r, err := i.Run(ctx, runBody(`echo sleeping; touch `+started+`; sleep 30`), RunOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(t0), 5*time.Second)
	assert.Zero(t, r.Status)
	assert.Equal(t, []string{"stdout: sleeping"}, texts(r.Logs, ""), "the output until the deadline comes with the error")

	// The runtime stops the activation its caller left; the next one runs
	// (in a new action process) and gets its own output only.
	r, err = i.Run(t.Context(), runBody(`echo after`), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, texts(r.Logs, "stdout"), "stdout: after")
	assert.NotContains(t, texts(r.Logs, ""), "stdout: sleeping")
}

func TestCloseDuringRun(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	started := filepath.Join(t.TempDir(), "started")
	errc := make(chan error, 1)
	go func() {
		_, err := i.Run(context.Background(), runBody(`touch `+started+`; sleep 30`), RunOptions{})
		errc <- err
	}()
	waitFile(t, started)
	require.NoError(t, i.Close())
	err := <-errc
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrClosed) || errors.Is(err, ErrExited), "got %v", err)
	t.Logf("run during Close: %v", err)
}

func TestReplyTooLarge(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	r, err := i.Run(t.Context(), runBody(`echo big; reply='{"a":"0123456789"}'`), RunOptions{MaxReplyBytes: 10})
	require.ErrorIs(t, err, ErrReplyTooLarge)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, []string{"stdout: big"}, texts(r.Logs, ""))
	r, err = i.Run(t.Context(), runBody(`echo small`), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"stdout: small"}, texts(r.Logs, ""))
}

func TestKillSweepsTheInstance(t *testing.T) {
	t.Parallel()
	i := startInstance(t, nil)
	initShell(t, i)
	// A process that leaves the runtime's session but keeps its output,
	// and one that stays in the action's group but closes it.
	r, err := i.Run(t.Context(), runBody(`setsid sleep 302 &
echo "escaped $!"
sleep 303 >/dev/null 2>&1 </dev/null &
echo "quiet $!"`), RunOptions{})
	require.NoError(t, err)
	pids := map[string]int{}
	for _, l := range r.Logs {
		name, pid, _ := strings.Cut(l.Text, " ")
		pids[name], err = strconv.Atoi(pid)
		require.NoError(t, err)
	}
	require.Len(t, pids, 2)
	require.Eventually(t, func() bool {
		st, err := readStat(pids["escaped"])
		return err == nil && st.sid == pids["escaped"]
	}, waitTimeout, 5*time.Millisecond, "setsid has run")

	i.Kill()
	select {
	case <-i.Done():
	case <-time.After(waitTimeout):
		t.Fatal("Done not closed after Kill")
	}
	assert.Contains(t, i.Err().Error(), "signal: killed")
	for name, pid := range pids {
		assert.False(t, alive(pid), "%s (pid %d) outlives the runtime", name, pid)
	}
	requireNoProcesses(t, i.PID())
	_, err = i.Run(t.Context(), runBody(""), RunOptions{})
	require.ErrorIs(t, err, ErrExited)
	assert.Contains(t, err.Error(), "start a new instance")
}
