package instance

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of Config and RunOptions.
const (
	DefaultStartTimeout = 15 * time.Second
	DefaultStopTimeout  = 5 * time.Second
	// DefaultMaxLogBytes bounds one request's logs (OpenWhisk's default
	// log limit is 10 MB).
	DefaultMaxLogBytes = 10 << 20
	// DefaultSentinelWait bounds how long a request waits, after the reply,
	// for the end of its logs on both streams.
	DefaultSentinelWait = 2 * time.Second
	// MaxReplyBytes is the default bound of a reply body: the runtime's
	// 16 MiB result limit and a little for its error bodies.
	MaxReplyBytes = 17 << 20
	// MaxLineBytes bounds one log line; the rest of a longer line is
	// dropped and replaced by a note saying how much.
	MaxLineBytes = 1 << 20
)

// Config describes one runtime instance.
type Config struct {
	// Binary is the marvel executable. Required.
	Binary string
	// Args are added after "runtime" (--data, --pmem, --region-max,
	// --action-cache, --sdk, --isolate...). Start adds
	// --listen 127.0.0.1:0 and --work WorkDir itself; Args must not set them.
	Args []string
	// WorkDir is the instance's own work directory (the runtime's --work).
	// Start creates it (it must not exist, or be empty); Close removes it.
	// Required.
	WorkDir string
	// Env is the runtime's environment, exactly: nothing is inherited (pass
	// PATH, HOME and the MARVEL_* variables wanted). Start adds
	// RuntimeTokenEnv itself (replacing any given here).
	Env []string
	// StartTimeout bounds the wait for "listening on" (default 15 s).
	StartTimeout time.Duration
	// StopTimeout is how long Close waits after SIGTERM before SIGKILL
	// (default 5 s).
	StopTimeout time.Duration
	// Logger receives the instance's life events and the runtime's own log
	// lines. nil is silent.
	Logger *slog.Logger
	// Name names the instance in logs and errors, e.g. "/guest/counter#3"
	// (default "runtime").
	Name string
}

// reservedFlags are the runtime flags Start sets itself.
var reservedFlags = []string{"--listen", "--work"}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("instance: Config.Binary (the marvel executable) is required"))
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("instance: Config.WorkDir (the instance's work directory) is required"))
	}
	for _, a := range c.Args {
		for _, f := range reservedFlags {
			if a == f || strings.HasPrefix(a, f+"=") {
				errs = append(errs, fmt.Errorf("instance: Config.Args sets %s, which Start sets itself; remove it", f))
			}
		}
	}
	if c.StartTimeout < 0 || c.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("instance: negative timeouts (start %v, stop %v)", c.StartTimeout, c.StopTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero fields defaulted.
func (c Config) withDefaults() Config {
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = "runtime"
	}
	return c
}

// RunOptions bound one Init or Run. The zero value means the defaults.
type RunOptions struct {
	// MaxLogBytes bounds the request's logs, counting each line's text and
	// a newline (≤ 0: DefaultMaxLogBytes). Lines past it are dropped and
	// OpenWhisk's truncation notice ends the logs.
	MaxLogBytes int64
	// SentinelWait bounds the wait, after the reply, for the end of the
	// request's output on both streams (≤ 0: DefaultSentinelWait).
	SentinelWait time.Duration
	// MaxReplyBytes bounds the reply body (≤ 0: MaxReplyBytes).
	MaxReplyBytes int64
}

// DefaultRunOptions returns a fresh RunOptions with every default filled in.
func DefaultRunOptions() RunOptions {
	return RunOptions{MaxLogBytes: DefaultMaxLogBytes, SentinelWait: DefaultSentinelWait, MaxReplyBytes: MaxReplyBytes}
}

func (o RunOptions) withDefaults() RunOptions {
	d := DefaultRunOptions()
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = d.MaxLogBytes
	}
	if o.SentinelWait <= 0 {
		o.SentinelWait = d.SentinelWait
	}
	if o.MaxReplyBytes <= 0 {
		o.MaxReplyBytes = d.MaxReplyBytes
	}
	return o
}
