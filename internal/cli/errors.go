package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// UsageError reports a command line that cannot run as given: an unknown
// command or flag, a bad flag value, or the wrong number of arguments. The
// command's usage text has already been written to Env.Stderr.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// CheckError is returned by `marvel pmem check` when at least one region is
// damaged or could not be opened. Unwrap returns the first problem found, so
// errors.As(err, new(*pmem.CorruptError)) reaches the damage itself.
type CheckError struct {
	Checked   int   // regions looked at
	Damaged   int   // regions with corruption
	Unchecked int   // regions that could not be opened for another reason
	First     error // first problem found
}

func (e *CheckError) Error() string {
	msg := fmt.Sprintf("pmem check: %d of %d regions damaged", e.Damaged, e.Checked)
	if e.Unchecked > 0 {
		msg += fmt.Sprintf(", %d could not be opened", e.Unchecked)
	}
	if e.First != nil {
		msg += "; first problem: " + describeErr(e.First)
	}
	return msg
}

func (e *CheckError) Unwrap() error { return e.First }

// Exit statuses of the marvel command.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // the command line was wrong
)

// ExitCode maps an error returned by a command to the process exit status.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// wrapErr is an error with its own message that still unwraps to the error
// behind it.
type wrapErr struct {
	msg string
	err error
}

func (e *wrapErr) Error() string { return e.msg }

func (e *wrapErr) Unwrap() error { return e.err }

// Main runs the marvel command with args as a process does: the first
// SIGINT or SIGTERM cancels the command's context so that it stops cleanly
// (after it the default handling is back, so a second one kills), and an
// error is printed on stderr. It returns the exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := NewRootCommand(Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "marvel: %v\n", err)
	}
	return ExitCode(err)
}
