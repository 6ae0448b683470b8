package servers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of the waits on server processes.
const (
	startTimeout = 60 * time.Second // from exec until the server answers
	stopTimeout  = 10 * time.Second // from SIGTERM until SIGKILL
)

// process is a server child process. It writes its output to a log file,
// dies with this process (Linux: PR_SET_PDEATHSIG) and runs in its own
// process group, so that a Ctrl-C of a test reaches only the test.
type process struct {
	name    string // for messages: "redis-server", "minio"
	cmd     *exec.Cmd
	logPath string

	done    chan struct{} // closed once the process has exited
	waitErr error         // its exit status; set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts bin with args and env (nil: this process's), its
// stdout and stderr appended to logPath. One goroutine waits for its exit.
func startProcess(name, bin string, args, env []string, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("servers: start %s: log file: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("servers: start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { // the process's reaper
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady calls probe until it succeeds, the process exits, ctx is done
// or startTimeout passes, backing off from 5 ms to 100 ms between probes.
func (p *process) waitReady(ctx context.Context, probe func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	delay := 5 * time.Millisecond
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-p.done:
			t.Stop()
			return fmt.Errorf("servers: %s exited before it answered (%v); its log %s ends:\n%s", p.name, p.waitErr, p.logPath, p.logTail())
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("servers: %s did not answer (last probe: %w): %w; its log %s ends:\n%s", p.name, err, ctx.Err(), p.logPath, p.logTail())
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits for the
// exit. It returns an error if the process had exited by itself before.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		if p.exited() {
			p.stopErr = fmt.Errorf("servers: %s had exited by itself (%v); its log %s ends:\n%s", p.name, p.waitErr, p.logPath, p.logTail())
			return
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(stopTimeout)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			killGroup(p.cmd.Process.Pid)
			<-p.done
		}
	})
	return p.stopErr
}

// logTail returns the last lines of the process's log.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read it: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// addrInUse reports whether the process exited because its port was taken
// between freePort and its bind.
func (p *process) addrInUse() bool {
	return p.exited() && strings.Contains(strings.ToLower(p.logTail()), "address already in use")
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("servers: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startAttempts is how often a server is started on a new port when the
// last one was taken meanwhile.
const startAttempts = 3

// errAddrInUse asks startOnFreePort for another port.
var errAddrInUse = errors.New("servers: address in use")
