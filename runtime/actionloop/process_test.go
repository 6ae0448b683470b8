package actionloop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/marvel-serverless/marvel/runtime/actionloop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// script writes an executable bash script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "exec")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/bash\n"+body), 0o755))
	return p
}

// echo acknowledges, then answers every line with the line itself.
const echo = `echo '{"ok":true}' >&3
while IFS= read -r line; do echo "$line" >&3; done
`

func start(t *testing.T, spec actionloop.Spec) *actionloop.Process {
	t.Helper()
	if spec.Env == nil {
		spec.Env = []string{"PATH=/usr/bin:/bin"}
	}
	p, err := actionloop.Start(context.Background(), spec)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	return p
}

func TestRunEchoAndAck(t *testing.T) {
	p := start(t, actionloop.Spec{Path: script(t, echo), WaitAck: true})
	for i := range 50 {
		req := fmt.Sprintf(`{"value":{"i":%d,"s":"❄ ☃ ❄"}}`, i)
		got, err := p.Run(context.Background(), []byte(req))
		require.NoError(t, err)
		require.Equal(t, req, string(got))
	}
}

func TestStartWithoutAck(t *testing.T) {
	p := start(t, actionloop.Spec{Path: script(t, `while IFS= read -r line; do echo '{"n":1}' >&3; done`)})
	got, err := p.Run(context.Background(), []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, `{"n":1}`, string(got))
}

func TestStartFailures(t *testing.T) {
	ctx := context.Background()
	_, err := actionloop.Start(ctx, actionloop.Spec{Path: filepath.Join(t.TempDir(), "missing")})
	require.ErrorIs(t, err, actionloop.ErrStart)

	_, err = actionloop.Start(ctx, actionloop.Spec{Path: script(t, "exit 3"), WaitAck: true})
	require.ErrorIs(t, err, actionloop.ErrExitedAtStart)
	require.Contains(t, err.Error(), "exit status 3")

	_, err = actionloop.Start(ctx, actionloop.Spec{Path: script(t, "exit 4"), AliveCheck: 5 * time.Second})
	require.ErrorIs(t, err, actionloop.ErrExitedAtStart)

	_, err = actionloop.Start(ctx, actionloop.Spec{Path: script(t, `echo '{}' >&3; sleep 10`), WaitAck: true})
	require.ErrorIs(t, err, actionloop.ErrBadAck)

	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = actionloop.Start(tctx, actionloop.Spec{Path: script(t, `sleep 10`), WaitAck: true})
	require.ErrorIs(t, err, actionloop.ErrStart)
}

func TestCrashDuringRun(t *testing.T) {
	p := start(t, actionloop.Spec{Path: script(t, `echo '{"ok":true}' >&3
read -r line; echo "dying" >&2; exit 7`), WaitAck: true})
	_, err := p.Run(context.Background(), []byte(`{}`))
	require.ErrorIs(t, err, actionloop.ErrExited)
	require.Contains(t, err.Error(), "exit status 7")
	_, err = p.Run(context.Background(), []byte(`{}`))
	require.ErrorIs(t, err, actionloop.ErrExited, "a dead process stays dead")
}

func TestDeadlineKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "child.pid")
	// The action starts a background child that would keep fd 3 open.
	p := start(t, actionloop.Spec{Path: script(t, `echo '{"ok":true}' >&3
sleep 60 & echo $! > `+marker+`
read -r line; sleep 60`), WaitAck: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Run(ctx, []byte(`{}`))
	require.ErrorIs(t, err, actionloop.ErrDeadline)
	<-p.Exited()
	pid, err := os.ReadFile(marker)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := os.Stat("/proc/" + strings.TrimSpace(string(pid)))
		if err != nil {
			return true
		}
		st, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		return strings.Contains(string(st), ") Z ") // killed, awaiting its reaper
	}, 5*time.Second, 10*time.Millisecond, "the action's background child was killed too")
}

func TestConcurrentRunsGetTheirOwnAnswers(t *testing.T) {
	p := start(t, actionloop.Spec{Path: script(t, echo), WaitAck: true})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fmt.Sprintf(`{"value":{"caller":%d}}`, i)
			got, err := p.Run(context.Background(), []byte(req))
			if err == nil && string(got) != req {
				err = fmt.Errorf("caller %d got %s", i, got)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestBusyCallerGivesUpWithoutKilling(t *testing.T) {
	p := start(t, actionloop.Spec{Path: script(t, `echo '{"ok":true}' >&3
while IFS= read -r line; do sleep 0.3; echo "$line" >&3; done`), WaitAck: true})
	done := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), []byte(`{"first":1}`))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the first run take the process
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Run(ctx, []byte(`{"second":1}`))
	require.ErrorIs(t, err, actionloop.ErrBusy)
	require.NoError(t, <-done, "the running activation is unaffected")
	got, err := p.Run(context.Background(), []byte(`{"third":1}`))
	require.NoError(t, err)
	require.Equal(t, `{"third":1}`, string(got))
}

func TestLargeAndOversizedReplies(t *testing.T) {
	// The action answers {"n":N} with N bytes of 'x'.
	p := start(t, actionloop.Spec{Path: script(t, `echo '{"ok":true}' >&3
while IFS= read -r line; do n=${line//[^0-9]/}; head -c $n /dev/zero | tr '\0' x >&3; echo >&3; done`),
		WaitAck: true, MaxReply: 2 << 20})
	got, err := p.Run(context.Background(), []byte(`{"n":1048576}`))
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("x", 1<<20), string(got))

	_, err = p.Run(context.Background(), []byte(`{"n":3145728}`))
	require.ErrorIs(t, err, actionloop.ErrReplyTooLarge)
}

func TestSecondAnswerIsAProtocolError(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "stray-written")
	p := start(t, actionloop.Spec{Path: script(t, `echo '{"ok":true}' >&3
read -r line; echo "$line" >&3; echo '{"stray":true}' >&3; touch `+marker+`
while IFS= read -r line; do echo "$line" >&3; done`), WaitAck: true})
	got, err := p.Run(context.Background(), []byte(`{"i":1}`))
	require.NoError(t, err)
	require.Equal(t, `{"i":1}`, string(got))
	require.Eventually(t, func() bool { _, err := os.Stat(marker); return err == nil }, 5*time.Second, time.Millisecond)
	_, err = p.Run(context.Background(), []byte(`{"i":2}`))
	require.ErrorIs(t, err, actionloop.ErrProtocol, "the stray line is never taken as the answer to {\"i\":2}")
	_, err = p.Run(context.Background(), []byte(`{"i":3}`))
	require.Error(t, err, "the process was stopped")
}

func TestExtraFilesAndEnvironment(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "region")
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("region-bytes")
	require.NoError(t, err)
	p := start(t, actionloop.Spec{
		Path:       script(t, `echo '{"ok":true}' >&3; read -r line; echo "{\"fd4\":\"$(cat <&4)\",\"env\":\"$MARVEL_X\"}" >&3`),
		Env:        []string{"MARVEL_X=y", "PATH=/usr/bin:/bin"},
		ExtraFiles: []*os.File{mustOpen(t, f.Name())},
		WaitAck:    true,
	})
	got, err := p.Run(context.Background(), []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, `{"fd4":"region-bytes","env":"y"}`, string(got))
}

func mustOpen(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRequestToADeadProcessIsNotDelivered(t *testing.T) {
	for i := range 10 {
		p := start(t, actionloop.Spec{Path: script(t, echo), WaitAck: true})
		_, err := p.Run(context.Background(), []byte(`{"warm":1}`))
		require.NoError(t, err)
		require.NoError(t, syscall.Kill(p.Pid(), syscall.SIGKILL))
		<-p.Exited()
		_, err = p.Run(context.Background(), []byte(`{"after":1}`))
		require.ErrorIs(t, err, actionloop.ErrExited, "try %d", i)
		require.ErrorIs(t, err, actionloop.ErrNotDelivered, "try %d: nothing was read, so the request may go to a new process", i)
	}
	// A process that read the request and then died must not be retried:
	// the action may have acted on it.
	p := start(t, actionloop.Spec{Path: script(t, `echo '{"ok":true}' >&3; read -r line; exit 1`), WaitAck: true})
	_, err := p.Run(context.Background(), []byte(`{"x":1}`))
	require.ErrorIs(t, err, actionloop.ErrExited)
	require.NotErrorIs(t, err, actionloop.ErrNotDelivered)
}
