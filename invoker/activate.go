package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/marvel-serverless/marvel/invoker/instance"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// MaxResultBytes is the largest result an activation keeps (OpenWhisk's 1
// MB); a larger one becomes an application error.
const MaxResultBytes = 1 << 20

// Request is one activation to run.
type Request struct {
	// Namespace is the action's namespace, which is the caller's.
	Namespace string
	// Action is the action; without its code (Exec.Code nil), a cold start
	// reads the code from the invoker's records, so warm activations never
	// touch it.
	Action whisk.Action
	// Params is the invoke body: a JSON object, or empty.
	Params json.RawMessage
	// APIKey is the caller's key, given to the action only if it is
	// annotated provide-api-key.
	APIKey string
	// TransactionID names the request in logs; empty: a new one.
	TransactionID string
}

// Pending is an activation in progress.
type Pending struct {
	// ID is the activation id (32 hex characters).
	ID   string
	done chan struct{}
	rec  whisk.Activation
	err  error // recording the activation failed
}

// Done is closed once the activation has ended and been recorded.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Wait returns the activation record once it has ended, or ctx's error if
// ctx ends first (the activation goes on and is recorded). An error in
// recording is returned with the record.
func (p *Pending) Wait(ctx context.Context) (whisk.Activation, error) {
	select {
	case <-p.done:
		return p.rec, p.err
	case <-ctx.Done():
		return whisk.Activation{}, ctx.Err()
	}
}

// Start begins an activation and returns at once; the activation runs and
// is recorded in the background, even if no one waits for it.
func (v *Invoker) Start(req Request) (*Pending, error) {
	if req.TransactionID == "" {
		req.TransactionID = newID()
	}
	p := &Pending{ID: newID(), done: make(chan struct{})}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, ErrClosed
	}
	v.wg.Add(1)
	v.mu.Unlock()
	go func() {
		defer v.wg.Done()
		defer close(p.done)
		p.rec = v.activate(req, p.ID)
		if err := v.records.Append(p.rec); err != nil {
			p.err = fmt.Errorf("record activation %s: %w", p.ID, err)
			v.lg.Error("an activation could not be recorded", "activation", p.ID, "action", req.Action.Name, "err", err)
		}
	}()
	return p, nil
}

// activate runs one activation to its record.
func (v *Invoker) activate(req Request, id string) whisk.Activation {
	a := &req.Action
	ns := req.Namespace
	lim := LimitsOf(a)
	arrived := time.Now()
	rec := whisk.Activation{
		Namespace: ns, Name: a.Name, Subject: ns, ActivationID: id, Version: a.Version,
		Annotations: whisk.KeyValues{}.
			Set("path", ns+"/"+a.Name).
			Set("kind", kindOf(a)).
			Set("limits", lim.Whisk()),
	}
	finish := func(start time.Time, resp *whisk.Response, logs []string, timedOut bool) whisk.Activation {
		end := time.Now()
		rec.Start, rec.End = start.UnixMilli(), end.UnixMilli()
		rec.Duration = rec.End - rec.Start
		rec.Response = resp
		rec.Logs = logs
		rec.Annotations = rec.Annotations.Set("timeout", timedOut).Set("waitTime", start.Sub(arrived).Milliseconds())
		v.m.observe(ns, a.Name, resp.Status, end.Sub(start), start.Sub(arrived))
		v.lg.Debug("activation", "id", id, "action", ns+"/"+a.Name, "status", resp.Status,
			"duration_ms", rec.Duration, "wait_ms", start.Sub(arrived).Milliseconds(), "tid", req.TransactionID)
		return rec
	}

	digest := execDigest(a)
	env := map[string]string{
		"__OW_NAMESPACE": ns, "__OW_ACTION_NAME": "/" + ns + "/" + a.Name, "__OW_ACTION_VERSION": a.Version,
		"__OW_ACTIVATION_ID": id, "__OW_TRANSACTION_ID": req.TransactionID,
	}
	if a.Annotations.Bool("provide-api-key") && req.APIKey != "" {
		env["__OW_API_KEY"] = req.APIKey
	}
	actx, cancel := context.WithTimeout(context.Background(), v.cfg.MaxWait)
	acq, err := v.acquire(actx, ns, a, digest, lim, env)
	cancel()
	if err != nil {
		msg := "The action could not be started: " + err.Error()
		if errors.Is(err, ErrClosed) {
			msg = "The invoker is shutting down; the action did not run."
		}
		return finish(time.Now(), whiskError(msg), nil, false)
	}
	in := acq.in
	defer v.release(in)
	start := time.Now()
	var logs []string
	if acq.cold {
		start = start.Add(-acq.initTime)
		rec.Annotations = rec.Annotations.Set("initTime", acq.initTime.Milliseconds())
		logs = acq.initLogs
	}
	if acq.initErr != nil {
		return finish(start, acq.initErr, logs, false)
	}

	body, err := runBody(ns, a, req, id, time.Now().Add(time.Duration(lim.TimeoutMs)*time.Millisecond))
	if err != nil {
		return finish(start, developerError(err.Error()), logs, false)
	}
	limit := time.Duration(lim.TimeoutMs) * time.Millisecond
	rctx, cancel := context.WithTimeout(context.Background(), limit+v.cfg.KillGrace)
	defer cancel()
	t := time.Now()
	rep, err := in.proc.Run(rctx, body, instance.RunOptions{MaxLogBytes: int64(lim.LogsMB) << 20})
	elapsed := time.Since(t)
	logs = append(logs, logLines(rep.Logs)...)
	timeout := developerError(fmt.Sprintf("The action exceeded its time limits of %d milliseconds.", lim.TimeoutMs))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// No answer even after the runtime's own deadline: replace it.
		v.lg.Warn("instance did not answer past its time limit; killing it", "instance", in.name, "activation", id)
		v.mu.Lock()
		in.retiring = true
		v.mu.Unlock()
		in.proc.Kill()
		return finish(start, timeout, logs, true)
	case err != nil && elapsed >= limit:
		return finish(start, timeout, logs, true)
	case err != nil:
		v.mu.Lock()
		in.retiring = true // the runtime is gone or broken: replace it
		closing := v.closed
		v.mu.Unlock()
		if closing {
			return finish(start, whiskError("The invoker stopped during the activation."), logs, false)
		}
		return finish(start, developerError("The action did not produce a valid response and exited unexpectedly."), logs, false)
	case elapsed >= limit && rep.Status != 200:
		return finish(start, timeout, logs, true)
	}
	return finish(start, classify(rep.Status, rep.Body), logs, false)
}

// classify turns a /run reply into a response, as OpenWhisk's
// ActivationResult does.
func classify(status int, body []byte) *whisk.Response {
	body = bytes.TrimSpace(body)
	if len(body) > MaxResultBytes {
		n := len(body)
		r := applicationError(fmt.Sprintf("The action produced a response that exceeded the allowed length: %d > %d bytes.", n, MaxResultBytes))
		r.Size = &n
		return r
	}
	var obj map[string]json.RawMessage
	isObj := json.Unmarshal(body, &obj) == nil && obj != nil
	var arr []json.RawMessage
	isArr := !isObj && json.Unmarshal(body, &arr) == nil && arr != nil
	if status == 200 {
		switch {
		case isObj && obj["error"] != nil:
			return &whisk.Response{Status: whisk.StatusApplicationError, Result: compact(body)}
		case isObj || isArr:
			return &whisk.Response{Status: whisk.StatusSuccess, Success: true, Result: compact(body)}
		}
		return developerError("The action did not produce a valid JSON or JSON Array response: " + abbreviate(string(body), 1000))
	}
	if isObj && obj["error"] != nil {
		return &whisk.Response{Status: whisk.StatusDeveloperError, Result: mustJSON(map[string]json.RawMessage{"error": obj["error"]})}
	}
	return developerError("The action did not produce a valid JSON or JSON Array response: " + abbreviate(string(body), 1000))
}

// initFailure is the response of an init the runtime refused.
func initFailure(body []byte) *whisk.Response {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil && obj["error"] != nil {
		return &whisk.Response{Status: whisk.StatusDeveloperError, Result: mustJSON(map[string]json.RawMessage{"error": obj["error"]})}
	}
	return developerError("The action failed during initialization: " + abbreviate(string(bytes.TrimSpace(body)), 1000))
}

func developerError(msg string) *whisk.Response {
	return &whisk.Response{Status: whisk.StatusDeveloperError, Result: mustJSON(map[string]string{"error": msg})}
}

func applicationError(msg string) *whisk.Response {
	return &whisk.Response{Status: whisk.StatusApplicationError, Result: mustJSON(map[string]string{"error": msg})}
}

func whiskError(msg string) *whisk.Response {
	return &whisk.Response{Status: whisk.StatusWhiskError, Result: mustJSON(map[string]string{"error": msg})}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func compact(b []byte) json.RawMessage {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return b
	}
	return out.Bytes()
}

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// kindOf is the exec kind of a.
func kindOf(a *whisk.Action) string {
	if a.Exec == nil {
		return ""
	}
	return a.Exec.Kind
}

// execDigest identifies what an action's instances were initialized with:
// every update bumps the version and the update time, and deleting an
// action stops its instances, so the pair names one exec without reading
// or hashing the code.
func execDigest(a *whisk.Action) string {
	return a.Version + "@" + strconv.FormatInt(a.Updated, 10)
}

// initBody is the /init request for a.
func initBody(ns string, a *whisk.Action, env map[string]string) ([]byte, error) {
	value := map[string]any{"name": a.Name, "main": "main", "env": env}
	if e := a.Exec; e != nil {
		if e.Main != "" {
			value["main"] = e.Main
		}
		if e.Code != nil && *e.Code != "" {
			value["code"] = *e.Code
			value["binary"] = e.Binary != nil && *e.Binary
		}
	}
	return json.Marshal(map[string]any{"value": value})
}

// runBody is the /run request of one activation: the action's parameters
// overridden by the invoke's, and the activation's context.
func runBody(ns string, a *whisk.Action, req Request, id string, deadline time.Time) ([]byte, error) {
	value := map[string]json.RawMessage{}
	for _, p := range a.Parameters {
		value[p.Key] = p.Value
	}
	if len(bytes.TrimSpace(req.Params)) > 0 {
		var given map[string]json.RawMessage
		if err := json.Unmarshal(req.Params, &given); err != nil {
			return nil, fmt.Errorf("the parameters are not a JSON object: %v", err)
		}
		for k, p := range given {
			value[k] = p
		}
	}
	body := map[string]any{
		"value":          value,
		"namespace":      ns,
		"action_name":    "/" + ns + "/" + a.Name,
		"action_version": a.Version,
		"activation_id":  id,
		"transaction_id": req.TransactionID,
		"deadline":       strconv.FormatInt(deadline.UnixMilli(), 10),
	}
	if a.Annotations.Bool("provide-api-key") && req.APIKey != "" {
		body["api_key"] = req.APIKey
	}
	return json.Marshal(body)
}

func logLines(ls []instance.LogLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	return out
}
