package instance

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

var (
	// ErrStart: the runtime process could not be started, or did not print
	// "listening on" in time. The error carries its exit status and the last
	// lines of its stderr.
	ErrStart = errors.New("instance: the runtime did not start")
	// ErrExited: the runtime process has exited (crashed, was killed, or
	// was stopped). Errors wrapping it come from an *ExitError, which says
	// why.
	ErrExited = errors.New("instance: the runtime exited")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("instance: closed")
	// ErrReplyTooLarge: the runtime's reply body exceeds
	// RunOptions.MaxReplyBytes.
	ErrReplyTooLarge = errors.New("instance: reply too large")
)

// ExitError tells why the runtime process of an instance exited. It wraps
// ErrExited.
type ExitError struct {
	Name string // Config.Name
	PID  int
	// State is the reaped process's state (exit code or signal); nil when
	// waiting for it failed (WaitErr).
	State   *os.ProcessState
	WaitErr error
	// Stderr is the last lines the runtime wrote on stderr (the runtime's
	// own and the action's), oldest first.
	Stderr []string
}

func (e *ExitError) Error() string {
	status := "unknown status"
	switch {
	case e.State != nil:
		status = e.State.String() // "exit status 2", "signal: killed"
	case e.WaitErr != nil:
		status = e.WaitErr.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "instance: runtime %s (pid %d) exited: %s", e.Name, e.PID, status)
	if len(e.Stderr) == 0 {
		b.WriteString("; it wrote nothing on stderr")
		return b.String()
	}
	b.WriteString("; its last stderr lines:")
	for _, l := range e.Stderr {
		b.WriteString("\n\t")
		b.WriteString(l)
	}
	return b.String()
}

func (e *ExitError) Unwrap() error { return ErrExited }
