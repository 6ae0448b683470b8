package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// Reply is the runtime's answer to one request, with the action's output
// for it.
type Reply struct {
	Status int    // the HTTP status
	Body   []byte // the reply body
	// Logs are the lines the action (and the runtime, for it) wrote on
	// stdout and stderr for this request, in the order they were read,
	// without sentinels; the output written while no request was in
	// progress comes first.
	Logs []LogLine
	// LogsTruncated: the logs exceeded RunOptions.MaxLogBytes; the last
	// line is then OpenWhisk's notice (TruncationNotice).
	LogsTruncated bool
}

// Init sends POST /init with body (the {"value":{...}} of OpenWhisk) and
// returns the reply with what was written during the init (the action's
// output before it acknowledged, the build's errors, the runtime's "init
// failed" line). Errors are as Run's.
func (i *Instance) Init(ctx context.Context, body []byte, o RunOptions) (Reply, error) {
	return i.request(ctx, "/init", body, o)
}

// Run sends POST /run with body and returns the reply with the action's
// output for it (up to the sentinels). A non-200 reply is not an error.
//
// Errors: when ctx ends first, an error wrapping ctx.Err() (the runtime may
// still be running the activation; Kill the instance to stop it); when the
// runtime dies, one wrapping ErrExited (and its *ExitError); after or
// during Close, one wrapping ErrClosed; a body over
// RunOptions.MaxReplyBytes, ErrReplyTooLarge. The Reply then holds the
// output collected so far.
func (i *Instance) Run(ctx context.Context, body []byte, o RunOptions) (Reply, error) {
	return i.request(ctx, "/run", body, o)
}

// abandonDrain bounds the wait for the output written before a request
// was given up.
const abandonDrain = 250 * time.Millisecond

// response is what post got.
type response struct {
	status  int
	body    []byte
	replied bool  // the response's head arrived: the runtime handled the request
	sent    bool  // the request's head was written: the runtime may handle it
	err     error // a failure, replied or not
}

func (i *Instance) request(ctx context.Context, path string, body []byte, o RunOptions) (Reply, error) {
	o = o.withDefaults()
	if err := i.unusable(path); err != nil {
		return Reply{}, err
	}
	select {
	case i.sem <- struct{}{}:
	case <-ctx.Done():
		return Reply{}, fmt.Errorf("instance %s: POST %s: waiting for the request in progress: %w", i.cfg.Name, path, ctx.Err())
	case <-i.closing:
		return Reply{}, i.unusable(path)
	case <-i.done:
		return Reply{}, i.unusable(path)
	}
	defer func() { <-i.sem }()
	if err := i.unusable(path); err != nil {
		return Reply{}, err
	}

	run := path == "/run"
	w := i.logs.begin(run, o.MaxLogBytes)
	res := i.post(ctx, path, body, o.MaxReplyBytes)
	if !res.replied {
		err := i.failure(ctx, path, res.err)
		// Keep what was written until now: a marker follows it (unless
		// the runtime is gone, and with it the pipes' writers).
		i.logs.giveUp(w)
		i.mark(w.seq)
		i.logs.wait(w, min(o.SentinelWait, abandonDrain))
		logs, trunc := i.logs.abandon(w, res.sent)
		return Reply{Logs: logs, LogsTruncated: trunc}, err
	}
	// The runtime wrote the request's output and sentinels before it
	// replied; a marker written now follows them in each pipe.
	i.mark(w.seq)
	if !i.logs.wait(w, o.SentinelWait) {
		i.log.Warn("the request's output did not end in time; the rest is dropped", "instance", i.cfg.Name, "path", path, "waited", o.SentinelWait)
	}
	logs, trunc := i.logs.end(w)
	reply := Reply{Status: res.status, Body: res.body, Logs: logs, LogsTruncated: trunc}
	switch {
	case res.err != nil:
		return reply, fmt.Errorf("instance %s: POST %s: %w", i.cfg.Name, path, res.err)
	case res.status != http.StatusOK && i.isClosing():
		return reply, fmt.Errorf("instance %s: POST %s: %w while it ran (the runtime answered %d: %s)", i.cfg.Name, path, ErrClosed, res.status, bytes.TrimSpace(res.body))
	}
	return reply, nil
}

// unusable returns the error for a request to an instance that is closed
// or has exited, else nil.
func (i *Instance) unusable(path string) error {
	if i.isClosing() {
		return fmt.Errorf("instance %s: POST %s: %w (start a new instance)", i.cfg.Name, path, ErrClosed)
	}
	select {
	case <-i.done:
		return fmt.Errorf("instance %s: POST %s: the runtime is gone, start a new instance: %w", i.cfg.Name, path, i.exitErr)
	default:
		return nil
	}
}

func (i *Instance) isClosing() bool {
	select {
	case <-i.closing:
		return true
	default:
		return false
	}
}

// post sends one request and reads the reply, bounded by max bytes.
func (i *Instance) post(ctx context.Context, path string, body []byte, max int64) response {
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, i.base+path, bytes.NewReader(body))
	if err != nil {
		return response{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(RuntimeTokenHeader, runtimeTokenScheme+i.secret)
	resp, err := i.client.Do(req)
	if err != nil {
		return response{sent: sent.Load(), err: err}
	}
	defer resp.Body.Close()
	res := response{status: resp.StatusCode, replied: true, sent: true}
	res.body, res.err = io.ReadAll(io.LimitReader(resp.Body, max+1))
	if res.err == nil && int64(len(res.body)) > max {
		res.body, res.err = nil, fmt.Errorf("%w: the body exceeds %d bytes (status %d; raise RunOptions.MaxReplyBytes)", ErrReplyTooLarge, max, res.status)
	}
	return res
}

// mark writes barrier marker seq on both pipes, after everything the
// runtime has written so far. After the runtime exited there is none to
// write: the end of the pipes ends the output instead.
func (i *Instance) mark(seq uint64) {
	line := []byte(i.token + strconv.FormatUint(seq, 10) + "\n")
	i.wmu.Lock()
	defer i.wmu.Unlock()
	for _, f := range []*os.File{i.outW, i.errW} {
		if f == nil {
			continue
		}
		if _, err := f.Write(line); err != nil {
			i.log.Warn("writing a log barrier failed", "instance", i.cfg.Name, "err", err)
		}
	}
}

// failure turns the error of a request that got no reply into the
// instance's error.
func (i *Instance) failure(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("instance %s: POST %s: %w (the runtime may still be running it; Kill the instance to stop it)", i.cfg.Name, path, ctx.Err())
	}
	// Refused, reset, cut: the runtime is probably dying. Wait to see it.
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-i.done:
		if i.isClosing() {
			return fmt.Errorf("instance %s: POST %s: %w while it ran: %w", i.cfg.Name, path, ErrClosed, i.exitErr)
		}
		return fmt.Errorf("instance %s: POST %s: the runtime died, start a new instance: %w", i.cfg.Name, path, i.exitErr)
	case <-t.C:
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("instance %s: POST %s: %w", i.cfg.Name, path, err)
	}
	return fmt.Errorf("instance %s: POST %s to %s failed and the runtime is still running (Kill or Close the instance): %w", i.cfg.Name, path, i.addr, err)
}
