package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/invoker/client"
)

// activationFields are the fields of a full activation record.
var activationFields = map[string]string{
	"namespace": "string", "name": "string", "subject": "string", "activationId": "string",
	"start": "number", "end": "number", "duration": "number", "logs": "array?", "version": "string",
	"publish": "bool", "annotations": "array", "response": "object", "cause": "string?",
}

// wantActivation checks a full activation record's shape and its response.
func wantActivation(t testing.TB, what string, m map[string]any, name, status string) {
	t.Helper()
	wantFields(t, what, m, activationFields)
	if m["namespace"] != "guest" || m["name"] != name || m["subject"] != "guest" {
		t.Errorf("%s: namespace %v name %v subject %v", what, m["namespace"], m["name"], m["subject"])
	}
	if id, _ := m["activationId"].(string); !activationIDRE.MatchString(id) {
		t.Errorf("%s: activationId %q", what, id)
	}
	start, _ := m["start"].(float64)
	end, _ := m["end"].(float64)
	if d, _ := m["duration"].(float64); start <= 0 || end < start || d != end-start {
		t.Errorf("%s: start %v end %v duration %v", what, m["start"], m["end"], m["duration"])
	}
	resp, _ := m["response"].(map[string]any)
	wantFields(t, what+" response", resp, map[string]string{"status": "string", "success": "bool", "result": "object", "size": "number?"})
	if resp["status"] != status || resp["success"] != (status == "success") {
		t.Errorf("%s: response status %v success %v, want %q", what, resp["status"], resp["success"], status)
	}
}

// TestInvoke covers blocking invokes (result only, and the full record),
// application errors (502 with the result, no code), parameters merged with
// the action's, and the error of a missing action.
func TestInvoke(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "echo", "echo", map[string]any{"parameters": []any{
		map[string]any{"key": "a", "value": 1},
		map[string]any{"key": "b", "value": "default"},
	}})
	s.mustPut(t, "probe", "probe", nil)

	// Blocking, result only: the parameters merged, the invoke's winning.
	r := s.invoke(t, "echo", "blocking=true&result=true", map[string]any{"b": "given", "c": true})
	wantStatus(t, "result", r, http.StatusOK)
	if got := object(t, "result", r); len(got) != 3 || got["a"] != 1.0 || got["b"] != "given" || got["c"] != true {
		t.Errorf("result: %s, want {a:1, b:given, c:true}", r)
	}
	if id := r.header.Get("x-openwhisk-activation-id"); !activationIDRE.MatchString(id) {
		t.Errorf("result: x-openwhisk-activation-id %q", id)
	}

	// Blocking, the full activation.
	r = s.invoke(t, "echo", "blocking=true", map[string]any{"x": "y"})
	wantStatus(t, "blocking", r, http.StatusOK)
	act := object(t, "blocking", r)
	wantActivation(t, "blocking", act, "echo", "success")
	if act["version"] != "0.0.1" {
		t.Errorf("blocking: version %v", act["version"])
	}
	if res := act["response"].(map[string]any)["result"].(map[string]any); res["x"] != "y" || res["a"] != 1.0 || res["b"] != "default" {
		t.Errorf("blocking: result %v", res)
	}
	if id := r.header.Get("x-openwhisk-activation-id"); id != act["activationId"] {
		t.Errorf("blocking: header activation id %q, record %v", id, act["activationId"])
	}

	// An application error: 502, the result as the body, no code.
	r = s.invoke(t, "probe", "blocking=true&result=true", map[string]any{"op": "fail", "message": "boom"})
	wantStatus(t, "application error", r, http.StatusBadGateway)
	got := object(t, "application error", r)
	if _, has := got["code"]; has || got["error"] != "boom" || len(got) != 2 {
		t.Errorf("application error: %s, want the action's result {error, pid} without code", r)
	}
	failID := r.header.Get("x-openwhisk-activation-id")
	if !activationIDRE.MatchString(failID) {
		t.Errorf("application error: x-openwhisk-activation-id %q", failID)
	}
	rec := s.activation(t, failID)
	if rec.Response == nil || rec.Response.Status != "application error" || rec.Response.Success {
		t.Errorf("application error: record response %+v", rec.Response)
	}
	r = s.invoke(t, "probe", "blocking=true", map[string]any{"op": "fail", "message": "boom"})
	wantStatus(t, "application error, full", r, http.StatusBadGateway)
	wantActivation(t, "application error, full", object(t, "application error, full", r), "probe", "application error")

	// Through the client.
	c := s.client(t, guestKey)
	inv, err := c.Invoke(ctx(t), "probe", map[string]any{"op": "fail", "message": "bang"}, client.InvokeOptions{Result: true})
	var ae *client.ApplicationError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || !activationIDRE.MatchString(ae.ActivationID) {
		t.Errorf("client: application error: %v, want an *ApplicationError", err)
	} else {
		var res map[string]any
		if json.Unmarshal(ae.Result, &res) != nil || res["error"] != "bang" {
			t.Errorf("client: application error result %s", ae.Result)
		}
	}
	inv, err = c.Invoke(ctx(t), "probe", map[string]any{"op": "echo"}, client.InvokeOptions{Blocking: true})
	if err != nil || inv.Status != http.StatusOK || inv.Activation == nil || inv.Activation.Response == nil || !inv.Activation.Response.Success ||
		inv.Activation.Name != "probe" || inv.ActivationID != inv.Activation.ActivationID {
		t.Errorf("client: blocking invoke: %+v, %v", inv, err)
	}
	var ce *client.Error
	if _, err := c.Invoke(ctx(t), "nothing", nil, client.InvokeOptions{Result: true}); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("client: invoke of a missing action: %v, want 404", err)
	}
	wantError(t, "missing action", s.invoke(t, "nothing", "blocking=true&result=true", nil), http.StatusNotFound, "The requested resource does not exist.")
}

// TestInvokeNonBlocking checks 202 {"activationId"} and the record that
// follows, and a blocking invoke whose wait (?timeout) ends before the
// action does.
func TestInvokeNonBlocking(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "probe", "probe", nil)

	r := s.invoke(t, "probe", "blocking=false", map[string]any{"op": "echo", "n": 7})
	wantStatus(t, "non-blocking", r, http.StatusAccepted)
	body := object(t, "non-blocking", r)
	id, _ := body["activationId"].(string)
	if len(body) != 1 || !activationIDRE.MatchString(id) {
		t.Fatalf("non-blocking: %s, want {\"activationId\": 32 hex}", r)
	}
	if h := r.header.Get("x-openwhisk-activation-id"); h != id {
		t.Errorf("non-blocking: header %q, body %q", h, id)
	}
	rec := s.activation(t, id)
	if rec.Response == nil || !rec.Response.Success || rec.ActivationID != id {
		t.Fatalf("non-blocking: record %+v", rec)
	}
	var res map[string]any
	if json.Unmarshal(rec.Response.Result, &res) != nil || res["args"].(map[string]any)["n"] != 7.0 {
		t.Errorf("non-blocking: result %s", rec.Response.Result)
	}

	// A blocking invoke that outlasts its wait: 202, the record later.
	r = s.invoke(t, "probe", "blocking=true&timeout=200", map[string]any{"op": "sleep", "ms": 2000})
	wantStatus(t, "blocking past its timeout", r, http.StatusAccepted)
	body = object(t, "blocking past its timeout", r)
	id, _ = body["activationId"].(string)
	if len(body) != 1 || !activationIDRE.MatchString(id) {
		t.Fatalf("blocking past its timeout: %s", r)
	}
	r = s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+id, nil)
	if r.status == http.StatusOK {
		// Legal only if it already ended: then it slept its 2 s.
		if d, _ := object(t, "early record", r)["duration"].(float64); d < 2000 {
			t.Errorf("the record of a sleeping activation exists early: %s", r)
		}
	} else {
		wantError(t, "record while running", r, http.StatusNotFound, "The requested resource does not exist.")
	}
	rec = s.activation(t, id)
	if rec.Response == nil || !rec.Response.Success || rec.Duration < 2000 {
		t.Errorf("blocking past its timeout: record %+v", rec)
	}

	// The same through the client.
	c := s.client(t, guestKey)
	inv, err := c.Invoke(ctx(t), "probe", map[string]any{"op": "sleep", "ms": 1500}, client.InvokeOptions{Blocking: true, Timeout: 100 * time.Millisecond})
	if err != nil || !inv.Pending || inv.Status != http.StatusAccepted || !activationIDRE.MatchString(inv.ActivationID) {
		t.Fatalf("client: blocking invoke past its timeout: %+v, %v", inv, err)
	}
	cx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := c.WaitActivation(cx, inv.ActivationID, 50*time.Millisecond)
	if err != nil || a.Response == nil || !a.Response.Success {
		t.Errorf("client: WaitActivation: %+v, %v", a, err)
	}
	inv, err = c.Invoke(ctx(t), "probe", nil, client.InvokeOptions{})
	if err != nil || !inv.Pending || !activationIDRE.MatchString(inv.ActivationID) {
		t.Errorf("client: non-blocking invoke: %+v, %v", inv, err)
	}
	if a := s.activation(t, inv.ActivationID); a.Response == nil || !a.Response.Success {
		t.Errorf("client: non-blocking invoke's record: %+v", a)
	}
}

// TestInvokeFailures checks the developer errors: an action past its time
// limit, and one whose process crashes; the action works again afterwards.
func TestInvokeFailures(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "slow", "probe", map[string]any{"limits": map[string]any{"timeout": 500}})
	first := s.result(t, "slow", map[string]any{"op": "echo"})

	r := s.invoke(t, "slow", "blocking=true&result=true", map[string]any{"op": "sleep", "ms": 2000})
	wantStatus(t, "time limit", r, http.StatusBadGateway)
	if got := object(t, "time limit", r); len(got) != 1 || got["error"] != "The action exceeded its time limits of 500 milliseconds." {
		t.Errorf("time limit: %s", r)
	}
	rec := s.activation(t, r.header.Get("x-openwhisk-activation-id"))
	if rec.Response == nil || rec.Response.Status != "action developer error" || rec.Response.Success {
		t.Errorf("time limit: response %+v", rec.Response)
	}
	if v := rec.Annotations.Get("timeout"); string(v) != "true" {
		t.Errorf("time limit: annotation timeout %s, want true", v)
	}
	// The next activation is answered (by a new process).
	after := s.result(t, "slow", map[string]any{"op": "echo"})
	if after["pid"] == first["pid"] {
		t.Errorf("after the time limit the same process %v answered; it should have been replaced", after["pid"])
	}

	s.mustPut(t, "crashy", "probe", nil)
	before := s.result(t, "crashy", map[string]any{"op": "echo"})
	r = s.invoke(t, "crashy", "blocking=true&result=true", map[string]any{"op": "crash"})
	wantStatus(t, "crash", r, http.StatusBadGateway)
	if got := object(t, "crash", r); got["error"] == nil || got["code"] != nil {
		t.Errorf("crash: %s", r)
	}
	rec = s.activation(t, r.header.Get("x-openwhisk-activation-id"))
	if rec.Response == nil || rec.Response.Status != "action developer error" {
		t.Errorf("crash: response %+v", rec.Response)
	}
	if v := rec.Annotations.Get("timeout"); string(v) != "false" {
		t.Errorf("crash: annotation timeout %s, want false", v)
	}
	after = s.result(t, "crashy", map[string]any{"op": "echo"})
	if after["pid"] == before["pid"] {
		t.Errorf("after the crash process %v answered, the one that crashed", after["pid"])
	}
}
