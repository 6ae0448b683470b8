package instance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Instance is one running `marvel runtime` child process.
type Instance struct {
	cfg    Config
	log    *slog.Logger
	cmd    *exec.Cmd
	pid    int
	work   string // absolute WorkDir
	addr   string
	base   string // "http://" + addr
	tr     *http.Transport
	client *http.Client
	logs   *collector
	token  string // the barrier marker's prefix
	secret string // the runtime token (RuntimeTokenEnv), sent with every request

	outR, errR *os.File // read ends of the runtime's stdout and stderr
	inodes     [2]uint64

	// wmu guards outW and errW, this process's copies of the write ends
	// (for barrier markers); nil once the runtime has exited.
	wmu        sync.Mutex
	outW, errW *os.File

	sem       chan struct{} // one request at a time
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error

	// procMu guards reaped: no signal is sent to the group once the
	// runtime has been reaped (its id could be reused).
	procMu sync.Mutex
	reaped bool

	readersDone chan struct{} // closed when both pipe readers have ended
	done        chan struct{} // closed once the runtime is reaped and its leftovers killed
	exitErr     *ExitError    // set before done is closed
}

// Timings of the process's end.
const (
	// drainTimeout bounds the wait for the pipes' end after the runtime
	// exited and its leftovers were killed.
	drainTimeout = 2 * time.Second
	// sweepTimeout bounds killing the leftovers.
	sweepTimeout = 5 * time.Second
	// exitGrace is how long a request whose connection failed waits for
	// the runtime to be seen dead before reporting the network error.
	exitGrace   = 3 * time.Second
	dialTimeout = 5 * time.Second
)

// Start starts `marvel runtime` as cfg says and waits until it listens. On
// failure nothing of it is left running, WorkDir is removed, and the error
// (wrapping ErrStart) holds its exit status and last stderr lines.
func Start(ctx context.Context, cfg Config) (*Instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	work, err := makeWorkDir(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime %s: %w", ErrStart, cfg.Name, err)
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	i := &Instance{
		cfg:         cfg,
		log:         cfg.Logger,
		work:        work,
		token:       "marvel-instance-barrier-" + hex.EncodeToString(tok[:]) + "#",
		secret:      newSecret(),
		sem:         make(chan struct{}, 1),
		closing:     make(chan struct{}),
		readersDone: make(chan struct{}),
		done:        make(chan struct{}),
	}
	i.logs = newCollector(cfg.Name, cfg.Logger, i.token)
	if err := i.startProcess(); err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("%w: runtime %s: %w", ErrStart, cfg.Name, err)
	}
	t0 := time.Now()
	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	var why string
	select {
	case addr := <-i.logs.listening:
		err := i.useAddr(addr)
		if err == nil {
			i.log.Info("runtime started", "instance", cfg.Name, "pid", i.pid, "addr", i.addr, "took", time.Since(t0))
			return i, nil
		}
		i.abort()
		return nil, fmt.Errorf("%w: %w; %w", ErrStart, err, i.exitErr)
	case <-i.done:
		why = "it exited before listening"
	case <-timer.C:
		why = fmt.Sprintf("it did not print \"listening on\" within %v (raise Config.StartTimeout if it is slow to start), and was killed", cfg.StartTimeout)
	case <-ctx.Done():
		i.abort()
		return nil, fmt.Errorf("%w: %w; %w", ErrStart, ctx.Err(), i.exitErr)
	}
	i.abort()
	return nil, fmt.Errorf("%w: %s (check Config.Binary, Config.Args and Config.Env): %w", ErrStart, why, i.exitErr)
}

// makeWorkDir creates dir, or checks that it is empty, and returns its
// absolute path.
func makeWorkDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("work directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	if len(ents) > 0 {
		return "", fmt.Errorf("work directory %s is not empty (%d entries); give each instance a new one", abs, len(ents))
	}
	return abs, nil
}

// startProcess starts the runtime with its output on pipes, and the
// goroutines that read them and reap it.
func (i *Instance) startProcess() error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("stderr pipe: %w", err)
	}
	closeAll := func() {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
	}
	for n, f := range []*os.File{outR, errR} {
		fi, err := f.Stat()
		if err != nil {
			closeAll()
			return fmt.Errorf("pipe: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			i.inodes[n] = st.Ino
		}
	}
	args := append([]string{"runtime"}, i.cfg.Args...)
	args = append(args, "--listen", "127.0.0.1:0", "--work", i.work)
	cmd := exec.Command(i.cfg.Binary, args...)
	// Never this process's environment: Config.Env, and the runtime token
	// (in the environment, not on the command line, which every user can
	// read in /proc).
	cmd.Env = slices.DeleteFunc(slices.Clone(i.cfg.Env), func(kv string) bool {
		return strings.HasPrefix(kv, RuntimeTokenEnv+"=")
	})
	cmd.Env = append(cmd.Env, RuntimeTokenEnv+"="+i.secret)
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own session, hence its own process group (id = its pid):
		// signals to the group reach the runtime, and the session holds
		// everything it starts (the action, in its own group) for the
		// sweep at exit.
		Setsid:    true,
		Pdeathsig: syscall.SIGKILL, // it dies with this process
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return fmt.Errorf("%s: %w", i.cfg.Binary, err)
	}
	i.cmd, i.pid = cmd, cmd.Process.Pid
	i.outR, i.errR, i.outW, i.errW = outR, errR, outW, errW

	var readers sync.WaitGroup
	for s, f := range []*os.File{outR, errR} {
		readers.Go(func() { i.read(stream(s), f) })
	}
	go func() { readers.Wait(); close(i.readersDone) }()
	go i.wait()
	return nil
}

// read reads one of the runtime's streams until every writer has closed it
// (or Close closes it).
func (i *Instance) read(s stream, f *os.File) {
	sp := &splitter{max: MaxLineBytes, token: []byte(i.token)}
	err := readLines(f, sp, func(l rawLine) { i.logs.add(s, l) })
	if err != nil && !errors.Is(err, os.ErrClosed) {
		i.log.Warn("reading the runtime's output failed", "instance", i.cfg.Name, "stream", s.String(), "err", err)
	}
	i.logs.closeStream(s)
}

// useAddr checks the address the runtime listens on and prepares the HTTP
// client for it.
func (i *Instance) useAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("runtime %s printed a bad address %q: %w", i.cfg.Name, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("runtime %s listens on %s, not on the loopback interface", i.cfg.Name, addr)
	}
	i.addr, i.base = addr, "http://"+addr
	i.tr = &http.Transport{
		Proxy:               nil, // loopback, never through a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	i.client = &http.Client{Transport: i.tr}
	return nil
}

// wait reaps the runtime, kills what it left behind, waits for the end of
// its output, and records why it exited.
func (i *Instance) wait() {
	werr := i.cmd.Wait()
	i.procMu.Lock()
	i.reaped = true
	i.procMu.Unlock()
	if n := i.sweep(); n > 0 {
		i.log.Info("processes left by the runtime killed", "instance", i.cfg.Name, "pid", i.pid, "killed", n)
	}
	i.wmu.Lock()
	i.outW.Close()
	i.errW.Close()
	i.outW, i.errW = nil, nil
	i.wmu.Unlock()
	t := time.NewTimer(drainTimeout)
	select {
	case <-i.readersDone:
	case <-t.C:
		i.log.Warn("the runtime's output did not end after it exited; a process outside its session still holds it", "instance", i.cfg.Name, "pid", i.pid)
	}
	t.Stop()
	e := &ExitError{Name: i.cfg.Name, PID: i.pid, State: i.cmd.ProcessState, Stderr: i.logs.stderrTail()}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		e.WaitErr = werr
	}
	i.exitErr = e
	i.log.Info("runtime exited", "instance", i.cfg.Name, "pid", i.pid, "status", i.cmd.ProcessState.String())
	close(i.done)
}

// signal sends sig to the runtime's process group, unless it is reaped.
func (i *Instance) signal(sig syscall.Signal) {
	i.procMu.Lock()
	defer i.procMu.Unlock()
	if !i.reaped {
		_ = syscall.Kill(-i.pid, sig)
	}
}

// abort kills a runtime that failed to start and releases everything.
func (i *Instance) abort() {
	i.signal(syscall.SIGKILL)
	<-i.done
	i.release()
}

// release closes the pipes (ending the readers) and removes the work
// directory. The runtime has exited.
func (i *Instance) release() error {
	if i.tr != nil {
		i.tr.CloseIdleConnections()
	}
	i.outR.Close()
	i.errR.Close()
	<-i.readersDone
	if err := os.RemoveAll(i.work); err != nil {
		return fmt.Errorf("instance %s: remove the work directory: %w", i.cfg.Name, err)
	}
	return nil
}

// Addr returns the address the runtime listens on (host:port).
func (i *Instance) Addr() string { return i.addr }

// PID returns the runtime's process id (also its process group's and
// session's).
func (i *Instance) PID() int { return i.pid }

// Done is closed once the runtime has exited, been reaped, and what it
// left running has been killed.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Err returns why the runtime exited (an *ExitError wrapping ErrExited)
// once Done is closed, and nil before.
func (i *Instance) Err() error {
	select {
	case <-i.done:
		return i.exitErr
	default:
		return nil
	}
}

// Kill sends SIGKILL to the runtime's process group now; Done follows,
// once what the runtime started has been killed too. Close is still
// needed to release the instance.
func (i *Instance) Kill() { i.signal(syscall.SIGKILL) }

// Close stops the runtime (SIGTERM to its group; SIGKILL after
// StopTimeout), waits until it and everything it started have exited, and
// removes WorkDir. A request in progress fails with an error wrapping
// ErrClosed. Close is idempotent; it returns the same result every time.
func (i *Instance) Close() error {
	i.closeOnce.Do(func() {
		close(i.closing)
		i.signal(syscall.SIGTERM)
		t := time.NewTimer(i.cfg.StopTimeout)
		select {
		case <-i.done:
		case <-t.C:
			i.log.Warn("the runtime did not stop after SIGTERM; killing it", "instance", i.cfg.Name, "pid", i.pid, "waited", i.cfg.StopTimeout)
			i.signal(syscall.SIGKILL)
			<-i.done
		}
		t.Stop()
		i.closeErr = i.release()
	})
	return i.closeErr
}
