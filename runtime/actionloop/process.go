// Package actionloop runs an OpenWhisk ActionLoop executable: one long-lived
// process per action that reads one JSON line per activation on its standard
// input and answers with one JSON line on file descriptor 3.
//
// The protocol (OpenWhisk docs/actions-new.md, "The Action Loop Protocol"):
//
//   - the process is started once, at /init, with an environment built by
//     the proxy; its standard output and error are the proxy's own;
//   - if the proxy waits for an acknowledgement, the process first writes
//     {"ok":true} on fd 3 once it is ready;
//   - for every activation the proxy writes the /run body as one line
//     (newlines removed) and the process answers with one line on fd 3.
//
// A Process serializes activations: Run may be called from several
// goroutines, but only one activation is in the process at a time, and every
// caller gets the answer to its own request. A process that exits, overruns
// its deadline or writes an oversized answer is killed (with everything it
// started) and reported through a typed error; it is never reused.
package actionloop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes the process to start.
type Spec struct {
	// Path is the executable; Args its arguments after argv[0].
	Path string
	Args []string
	// Dir is the working directory.
	Dir string
	// Env is the complete environment of the process.
	Env []string
	// ExtraFiles are inherited as descriptors 4, 5, ... (descriptor 3 is the
	// reply pipe).
	ExtraFiles []*os.File
	// Stdout and Stderr receive the process's output. Files (the default is
	// the proxy's own os.Stdout and os.Stderr) are inherited directly, so
	// output reaches them before the answer on fd 3 does.
	Stdout, Stderr *os.File
	// WaitAck makes Start wait until the process writes {"ok":true} on fd 3.
	// Without it, Start only checks that the process is still alive after
	// AliveCheck.
	WaitAck bool
	// AliveCheck is how long a process that does not acknowledge must stay
	// alive to count as started. Default 5 ms.
	AliveCheck time.Duration
	// MaxReply bounds one answer line. Default 64 MiB.
	MaxReply int
	// Credential, when set, runs the process as another user.
	Credential *syscall.Credential
	// Logger receives the process's life events. nil is silent.
	Logger *slog.Logger
}

// DefaultMaxReply bounds an answer line when Spec.MaxReply is zero. OpenWhisk
// itself truncates results at 1 MB; the slack is for logs of what was sent.
const DefaultMaxReply = 64 << 20

const defaultAliveCheck = 5 * time.Millisecond

// Process is a running ActionLoop executable.
type Process struct {
	cmd      *exec.Cmd
	stdin    *os.File
	out      *os.File      // read end of the reply pipe (fd 3 in the action)
	br       *bufio.Reader // over out; used only under runMu (or in Start)
	maxReply int
	exited   chan struct{} // closed when the process has been reaped
	killedCh chan struct{} // closed by Kill and fail
	log      *slog.Logger

	// exitErr is set before exited is closed.
	exitErr error

	// runMu serializes activations: it is held from writing a request until
	// its answer is read (or the process is killed).
	runMu sync.Mutex
	// dead records that the process has been killed or found exited; under
	// runMu.
	dead error

	killOnce sync.Once
	closeOut sync.Once
}

// Start starts the executable and waits until it is ready (see
// Spec.WaitAck). ctx bounds the wait; when it ends first the process is
// killed. Errors wrap ErrStart, ErrExitedAtStart or ErrBadAck.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.Stdout == nil {
		spec.Stdout = os.Stdout
	}
	if spec.Stderr == nil {
		spec.Stderr = os.Stderr
	}
	if spec.MaxReply <= 0 {
		spec.MaxReply = DefaultMaxReply
	}
	if spec.AliveCheck <= 0 {
		spec.AliveCheck = defaultAliveCheck
	}
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	inR, inW, err := blockingPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: stdin pipe: %w", ErrStart, err)
	}
	outR, outW, err := blockingPipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("%w: reply pipe: %w", ErrStart, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never the proxy's own environment
	}
	cmd.Stdin = inR
	cmd.Stdout = spec.Stdout
	cmd.Stderr = spec.Stderr
	cmd.ExtraFiles = append([]*os.File{outW}, spec.ExtraFiles...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,            // one group: a kill reaches what the action started
		Pdeathsig:  syscall.SIGKILL, // and the action dies with the proxy
		Credential: spec.Credential,
	}
	err = startRetryingTextBusy(cmd)
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, spec.Path, err)
	}
	p := &Process{
		cmd:      cmd,
		stdin:    inW,
		out:      outR,
		br:       bufio.NewReaderSize(outR, 64<<10),
		maxReply: spec.MaxReply,
		exited:   make(chan struct{}),
		killedCh: make(chan struct{}),
		log:      log,
	}
	log.Info("action process started", "pid", cmd.Process.Pid, "path", spec.Path)
	go p.wait()

	if err := p.ready(ctx, spec); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// wait reaps the process.
func (p *Process) wait() {
	err := p.cmd.Wait()
	if err == nil {
		err = errors.New("exit status 0")
	}
	p.exitErr = err
	p.log.Info("action process exited", "pid", p.cmd.Process.Pid, "status", err.Error())
	close(p.exited)
	// The group may outlive its leader (a script's background children
	// holding fd 3 open); take it down so the reader sees EOF.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+1 {
			return nil, fmt.Errorf("%w: more than %d bytes without a newline", ErrReplyTooLarge, max)
		}
		switch {
		case err == nil:
			if line == nil {
				return bytes.Clone(frag[:len(frag)-1]), nil
			}
			return append(line, frag[:len(frag)-1]...), nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, frag...)
		case errors.Is(err, io.EOF) && len(line)+len(frag) > 0:
			return nil, fmt.Errorf("%w: the action closed fd 3 in the middle of a line", ErrExited)
		default:
			return nil, err
		}
	}
}

// ready waits for the acknowledgement, or checks the process stays alive.
func (p *Process) ready(ctx context.Context, spec Spec) error {
	if !spec.WaitAck {
		t := time.NewTimer(spec.AliveCheck)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-p.exited:
			return fmt.Errorf("%w: %s", ErrExitedAtStart, p.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrStart, context.Cause(ctx))
		}
	}
	line, err := p.readLine(ctx)
	switch {
	case errors.Is(err, ErrExited):
		return fmt.Errorf("%w: %s", ErrExitedAtStart, p.status())
	case errors.Is(err, ErrDeadline) || errors.Is(err, ErrCanceled):
		return fmt.Errorf("%w: no acknowledgement before %w", ErrStart, context.Cause(ctx))
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadAck, err)
	case !isAck(line):
		return fmt.Errorf("%w: the first line on fd 3 was %s, want {\"ok\":true}", ErrBadAck, abbreviate(line))
	}
	return nil
}

func isAck(line []byte) bool {
	var ack struct {
		OK bool `json:"ok"`
	}
	return json.Unmarshal(line, &ack) == nil && ack.OK
}

// Run sends one request line (which must hold no newline: the caller strips
// them) and returns the answer line. ctx bounds the activation: when it ends
// first the process is killed and the error wraps ErrDeadline (or
// ErrCanceled). A process found gone gives ErrExited. After any error but
// ErrBusy the process is dead; start a new one.
func (p *Process) Run(ctx context.Context, request []byte) ([]byte, error) {
	if err := p.lock(ctx); err != nil {
		return nil, err
	}
	defer p.runMu.Unlock()
	if p.dead != nil {
		return nil, p.dead
	}
	// One line per activation: anything already waiting on fd 3 was written
	// after an earlier answer, and answering this request with it would hand
	// one caller another's result.
	if n := p.pending(); n > 0 {
		return nil, p.fail(fmt.Errorf("%w: %d bytes arrived on fd 3 after the last answer", ErrProtocol, n))
	}
	before := p.stdinUnread()
	written, err := p.write(ctx, request)
	if err == nil {
		var line []byte
		if line, err = p.readLine(ctx); err == nil {
			return line, nil
		}
	}
	if errors.Is(err, ErrExited) {
		// Did the process take any of the request before it went? If not,
		// the request can be sent to a new process without running twice.
		p.killGroup()
		<-p.exited
		if before >= 0 && p.stdinUnread() == before+written {
			err = fmt.Errorf("%w: %w", ErrNotDelivered, err)
		}
	}
	return nil, p.fail(err)
}

// stdinUnread returns how many bytes written to the action's stdin are not
// yet read (-1 if unknown). Both ends of a pipe share its buffer, so the
// count is visible from the write end.
func (p *Process) stdinUnread() int {
	return unreadBytes(p.stdin)
}

func unreadBytes(f *os.File) int {
	n := -1
	if sc, err := f.SyscallConn(); err == nil {
		_ = sc.Control(func(fd uintptr) {
			if k, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
				n = k
			}
		})
	}
	return n
}

// readLine reads one answer line, bounded by ctx and Spec.MaxReply. At the
// end of the stream the error wraps ErrExited and says how the process
// ended.
func (p *Process) readLine(ctx context.Context) ([]byte, error) {
	stop := context.AfterFunc(ctx, p.killGroup)
	defer stop()
	line, err := readLine(p.br, p.maxReply)
	switch {
	case err == nil:
		return line, nil
	case ctx.Err() != nil:
		return nil, ctxErr(ctx)
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: %s", ErrExited, p.status())
	case errors.Is(err, ErrReplyTooLarge) || errors.Is(err, ErrExited):
		return nil, err
	}
	return nil, fmt.Errorf("%w: reading fd 3: %w", ErrExited, err)
}

// pending returns how many bytes are waiting to be read on fd 3.
func (p *Process) pending() int {
	return p.br.Buffered() + max(unreadBytes(p.out), 0)
}

// lock takes runMu, giving up when ctx ends first.
func (p *Process) lock(ctx context.Context) error {
	if p.runMu.TryLock() {
		return nil
	}
	got := make(chan struct{})
	go func() {
		p.runMu.Lock()
		close(got)
	}()
	select {
	case <-got:
		return nil
	case <-ctx.Done():
		go func() { // hand the lock back once the waiter gets it
			<-got
			p.runMu.Unlock()
		}()
		return fmt.Errorf("%w: %w", ErrBusy, ctxErr(ctx))
	}
}

// write sends request and a newline, bounded by ctx.
// It returns how many bytes went into the pipe.
func (p *Process) write(ctx context.Context, request []byte) (int, error) {
	stop := context.AfterFunc(ctx, p.killGroup)
	defer stop()
	buf := make([]byte, 0, len(request)+1)
	buf = append(append(buf, request...), '\n')
	n, err := p.stdin.Write(buf)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctxErr(ctx)
		}
		return n, fmt.Errorf("%w: writing the request: %s", ErrExited, p.status())
	}
	return n, nil
}

// fail kills the process and records err as the reason it is dead. runMu
// is held.
func (p *Process) fail(err error) error {
	p.dead = err
	p.Kill()
	return err
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrDeadline
	}
	return fmt.Errorf("%w: %w", ErrCanceled, context.Cause(ctx))
}

// status describes how the process ended, waiting briefly for it to be
// reaped (its fd 3 closes a moment before).
func (p *Process) status() string {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.exitErr.Error()
	case <-t.C:
		return "closed fd 3 but is still running"
	}
}

// Dead reports whether the process is known to be unusable: it failed an
// activation, or was killed.
func (p *Process) Dead() bool {
	select {
	case <-p.killedCh:
		return true
	default:
		return false
	}
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Kill kills the process and everything in its process group, and waits
// until it is reaped. It is safe to call more than once.
func (p *Process) Kill() {
	p.killOnce.Do(func() {
		close(p.killedCh)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
		p.stdin.Close()
	})
	<-p.exited
	p.closeOut.Do(func() { p.out.Close() })
}

// abbreviate renders a line for an error message.
func abbreviate(line []byte) string {
	const max = 120
	if len(line) > max {
		return fmt.Sprintf("%q… (%d bytes)", line[:max], len(line))
	}
	return fmt.Sprintf("%q", line)
}

// startRetryingTextBusy starts cmd, retrying while the kernel reports the
// executable busy (ETXTBSY): a file just written by this process can still
// be open for writing in a child that another goroutine forked meanwhile,
// until that child execs (Go issue 22315). The window is short.
func startRetryingTextBusy(cmd *exec.Cmd) error {
	delay := time.Millisecond
	for attempt := 0; ; attempt++ {
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 10 {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
		// A Cmd cannot be started twice: make a fresh one like it.
		c := exec.Command(cmd.Path, cmd.Args[1:]...)
		c.Dir, c.Env, c.Stdin, c.Stdout, c.Stderr = cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr
		c.ExtraFiles, c.SysProcAttr = cmd.ExtraFiles, cmd.SysProcAttr
		*cmd = *c
	}
}

// blockingPipe makes a pipe whose ends stay in blocking mode, so Go reads
// and writes them with plain system calls rather than through the network
// poller: the thread blocked in read(2) is woken by the kernel directly when
// the action answers, which saves a hand-off per activation (about 15% of a
// warm /run here). The price: a read or write cannot be abandoned, so a
// deadline or cancellation is enforced by killing the action's process
// group, which closes the other end. An action that moved a child into
// another session (setsid) holding fd 3 open escapes that kill; its
// activation then waits for the platform's own timeout, which destroys the
// container.
func blockingPipe() (r, w *os.File, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "pipe"), os.NewFile(uintptr(fds[1]), "pipe"), nil
}

// killGroup kills the action's process group without waiting.
func (p *Process) killGroup() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}
