package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/marvel-serverless/marvel/runtime/actionloop"
)

// Exact texts of the OpenWhisk Go proxy.
const (
	msgNoAction     = "no action defined yet"
	msgNotDictOrArr = "The action did not return a dictionary or array."
)

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	s.stats.runs.Add(1)
	status, body := s.run(r)
	if status != http.StatusOK {
		s.stats.errors.Add(1)
	}
	writeJSON(w, status, body)
}

// run performs one activation and returns the response. Sentinels are
// written (before the response) for every activation, whatever its outcome.
func (s *Server) run(r *http.Request) (int, []byte) {
	if s.closed.Load() {
		s.sentinels()
		return errBody(http.StatusServiceUnavailable, errClosed.Error())
	}
	body, err := readBody(r, s.opts.MaxRunBytes)
	if err != nil {
		s.sentinels()
		return errBody(http.StatusRequestEntityTooLarge, "Error reading request: "+err.Error())
	}
	if !s.initialized.Load() {
		s.sentinels()
		return errBody(http.StatusInternalServerError, msgNoAction)
	}
	var req struct {
		Namespace  string `json:"namespace"`
		ActionName string `json:"action_name"`
		Deadline   any    `json:"deadline"`
	}
	if err = json.Unmarshal(body, &req); err != nil {
		s.sentinels()
		return errBody(http.StatusBadRequest, "Error unmarshaling request: "+err.Error())
	}
	ctx := r.Context()
	if dl, ok := parseDeadline(req.Deadline); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}

	// One activation at a time; the sentinels are written inside, so that
	// they close this activation's logs and no other's.
	select {
	case s.runSem <- struct{}{}:
	case <-ctx.Done():
		s.sentinels()
		return errBody(http.StatusBadGateway, runError(ctxError(ctx)))
	}
	defer func() { <-s.runSem }()
	defer s.sentinels()

	if s.proc == nil { // closed
		return errBody(http.StatusServiceUnavailable, errClosed.Error())
	}
	if status, msg := s.checkIdentityLocked(ctx, req.Namespace, req.ActionName); status != http.StatusOK {
		return errBody(status, msg)
	}
	// The protocol's framing: one line per activation.
	line := bytes.ReplaceAll(body, []byte{'\n'}, nil)
	var reply []byte
	// A process that was gone before it read any of the request (it exited
	// after its last answer, or was killed while idle) is replaced and the
	// request sent again: the action has not seen it.
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return errBody(http.StatusServiceUnavailable, errClosed.Error())
		}
		if err = s.ensureProcessLocked(ctx); err != nil {
			return errBody(http.StatusBadGateway, startError(err))
		}
		reply, err = s.proc.Run(ctx, line)
		if !errors.Is(err, actionloop.ErrNotDelivered) || attempt == 2 {
			break
		}
		s.log.Info("the action process was gone before it read the request; sending it to a new one", "err", err)
	}
	if err != nil {
		if errors.Is(err, actionloop.ErrBusy) {
			err = ctxError(ctx)
		}
		return errBody(http.StatusBadGateway, runError(err))
	}
	if !dictOrArray(reply) {
		return errBody(http.StatusBadGateway, msgNotDictOrArr)
	}
	return http.StatusOK, reply
}

// checkIdentityLocked makes sure the activation is for the identity whose
// region the action holds, binding the region now if /init named none.
func (s *Server) checkIdentityLocked(ctx context.Context, ns, action string) (int, string) {
	if s.region != nil {
		if ns == "" && action == "" { // a harness that sends no context
			return http.StatusOK, ""
		}
		id, err := NewIdentity(ns, action)
		if err != nil || id != s.region.id {
			return http.StatusForbidden, fmt.Sprintf("This runtime holds the state of %s; it refuses an activation of %q from namespace %q. Use a container per action and namespace.",
				s.region.id, action, ns)
		}
		return http.StatusOK, ""
	}
	if s.opts.Data == "" || ns == "" || action == "" {
		return http.StatusOK, ""
	}
	id, err := NewIdentity(ns, action)
	if err != nil {
		return http.StatusBadRequest, "invalid activation context: " + err.Error()
	}
	// /init did not name the action: bind now and restart the process with
	// its region.
	spec := s.spec
	if err := s.bindLocked(ctx, id, &spec); err != nil {
		return http.StatusBadGateway, "Cannot open the action's state: " + err.Error()
	}
	s.spec = spec
	s.proc.Kill()
	p, err := actionloop.Start(ctx, s.spec)
	if err != nil {
		return http.StatusBadGateway, startError(err)
	}
	s.setProcLocked(p)
	return http.StatusOK, ""
}

// ensureProcessLocked replaces an action process that has died (crashed,
// killed at a deadline) with a new one. The state survives in the region.
func (s *Server) ensureProcessLocked(ctx context.Context) error {
	select {
	case <-s.proc.Exited():
	default:
		if !s.proc.Dead() {
			return nil
		}
	}
	s.proc.Kill() // reap and close what is left
	s.stats.restarts.Add(1)
	s.log.Info("restarting the action process")
	p, err := actionloop.Start(ctx, s.spec)
	if err != nil {
		return err
	}
	s.setProcLocked(p)
	return nil
}

// dictOrArray reports whether reply is one JSON object or array.
func dictOrArray(reply []byte) bool {
	t := bytes.TrimSpace(reply)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// parseDeadline reads the activation deadline: epoch milliseconds, as a
// string (what OpenWhisk sends) or a number.
func parseDeadline(v any) (time.Time, bool) {
	var ms int64
	switch d := v.(type) {
	case string:
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		ms = n
	case float64:
		ms = int64(d)
	default:
		return time.Time{}, false
	}
	if ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return actionloop.ErrDeadline
	}
	return actionloop.ErrCanceled
}

// runError renders an activation that failed in the action process.
func runError(err error) string {
	switch {
	case errors.Is(err, actionloop.ErrDeadline):
		return "The action exceeded its deadline and was stopped; the next activation starts a new process (its state is kept)."
	case errors.Is(err, actionloop.ErrCanceled):
		return "The activation was canceled (the caller went away); the action process was stopped."
	case errors.Is(err, actionloop.ErrExited):
		return "The action process exited during the activation (" + detail(err, actionloop.ErrExited) + "); see its logs. The next activation starts a new process (its state is kept)."
	case errors.Is(err, actionloop.ErrProtocol):
		return "The action broke the ActionLoop protocol (" + detail(err, actionloop.ErrProtocol) + "): it must write exactly one line on fd 3 per activation. It was stopped."
	case errors.Is(err, actionloop.ErrReplyTooLarge):
		return "The action's result is too large (" + detail(err, actionloop.ErrReplyTooLarge) + "). It was stopped."
	}
	return "The action failed: " + err.Error()
}

func detail(err, sentinel error) string {
	msg := err.Error()
	prefix := sentinel.Error() + ": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}

func errBody(status int, msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return status, append(b, '\n')
}
