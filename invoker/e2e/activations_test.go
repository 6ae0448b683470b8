package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// summaryFields are the fields of an activation in a list without docs.
var summaryFields = map[string]string{
	"namespace": "string", "name": "string", "subject": "string?", "activationId": "string",
	"start": "number", "end": "number", "duration": "number", "version": "string",
	"publish": "bool", "annotations": "array", "statusCode": "number", "cause": "string?",
}

// logLineRE is OpenWhisk's log line: the RFC 3339 UTC time left-justified in
// 30 characters, a space, the stream, ": " and the text.
var logLineRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z *) (stdout|stderr): (.*)$`)

// TestActivations covers the activation record's annotations (cold and
// warm starts), its logs and result, and the list with its filters, pages,
// docs and count, over raw HTTP and through the client.
func TestActivations(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "act", "probe", map[string]any{"limits": map[string]any{"timeout": 20000, "memory": 128}})
	s.mustPut(t, "bystander", "echo", nil)

	// The first activation is a cold start, the second warm.
	var ids []string // of act, oldest first
	var recs []map[string]any
	for i := range 2 {
		r := s.invoke(t, "act", "blocking=true", map[string]any{"op": "log",
			"out": []string{fmt.Sprintf("out line %d", i), "ünïcødé ❄"}, "err": []string{fmt.Sprintf("err line %d", i)}})
		wantStatus(t, "invoke act", r, http.StatusOK)
		m := object(t, "invoke act", r)
		wantActivation(t, "invoke act", m, "act", "success")
		ids = append(ids, m["activationId"].(string))
		recs = append(recs, m)
	}
	for i, m := range recs {
		what := fmt.Sprintf("activation %d", i)
		ann := m["annotations"]
		if v, _ := kv(ann, "path"); v != "guest/act" {
			t.Errorf("%s: annotation path %v", what, v)
		}
		if v, _ := kv(ann, "kind"); v != "go:default" {
			t.Errorf("%s: annotation kind %v", what, v)
		}
		if v, _ := kv(ann, "timeout"); v != false {
			t.Errorf("%s: annotation timeout %v", what, v)
		}
		if v, ok := kv(ann, "waitTime"); !ok || jsonType(v) != "number" || v.(float64) < 0 {
			t.Errorf("%s: annotation waitTime %v", what, v)
		}
		lim, _ := kv(ann, "limits")
		wantLimits(t, what+" annotation", lim, 20000, 128, 10, 1)
		initTime, cold := kv(ann, "initTime")
		if i == 0 && (!cold || jsonType(initTime) != "number" || initTime.(float64) < 0) {
			t.Errorf("the first activation (a cold start) has initTime %v (%v)", initTime, cold)
		}
		if i == 1 && cold {
			t.Errorf("the second activation (warm) has initTime %v", initTime)
		}
	}

	// Logs: every line in OpenWhisk's format, the action's lines in order.
	c := s.client(t, guestKey)
	for i, id := range ids {
		r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+id+"/logs", nil)
		wantStatus(t, "logs", r, http.StatusOK)
		m := object(t, "logs", r)
		wantFields(t, "logs", m, map[string]string{"logs": "array"})
		var out, errs []string
		for _, l := range m["logs"].([]any) {
			line, _ := l.(string)
			sm := logLineRE.FindStringSubmatch(line)
			if sm == nil || len(sm[1]) != 30 {
				t.Errorf("log line %q is not \"<time padded to 30> <stream>: <text>\"", line)
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(sm[1])); err != nil {
				t.Errorf("log line %q: %v", line, err)
			}
			if sm[3] == "stdout" {
				out = append(out, sm[4])
			} else {
				errs = append(errs, sm[4])
			}
		}
		wantOut := []string{fmt.Sprintf("out line %d", i), "ünïcødé ❄"}
		if strings.Join(out, "|") != strings.Join(wantOut, "|") || strings.Join(errs, "|") != fmt.Sprintf("err line %d", i) {
			t.Errorf("activation %d logs: stdout %q stderr %q, want %q and [err line %d]", i, out, errs, wantOut, i)
		}
		logs, err := c.ActivationLogs(ctx(t), id)
		if err != nil || len(logs) != len(m["logs"].([]any)) {
			t.Errorf("client: ActivationLogs: %q, %v", logs, err)
		}
	}

	// Result: exactly {result, success, status}.
	r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+ids[1]+"/result", nil)
	wantStatus(t, "result", r, http.StatusOK)
	m := object(t, "result", r)
	wantFields(t, "result", m, map[string]string{"result": "object", "success": "bool", "status": "string"})
	if m["success"] != true || m["status"] != "success" || m["result"].(map[string]any)["logged"] != true {
		t.Errorf("result: %s", r)
	}
	if res, err := c.ActivationResult(ctx(t), ids[1]); err != nil || !res.Success || res.Status != "success" {
		t.Errorf("client: ActivationResult: %+v, %v", res, err)
	}
	// The record: as the invoke answered it.
	r = s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+ids[0], nil)
	wantStatus(t, "get", r, http.StatusOK)
	m = object(t, "get", r)
	wantActivation(t, "get", m, "act", "success")
	if m["start"] != recs[0]["start"] || m["duration"] != recs[0]["duration"] || toJSON(m["logs"]) != toJSON(recs[0]["logs"]) {
		t.Errorf("get: the stored record differs from the one the invoke answered:\n%s\n%s", toJSON(m), toJSON(recs[0]))
	}
	if a, err := c.GetActivation(ctx(t), ids[0]); err != nil || a.ActivationID != ids[0] || a.Response == nil || a.Name != "act" {
		t.Errorf("client: GetActivation: %+v, %v", a, err)
	}
	wantError(t, "get a missing activation", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+strings.Repeat("0", 32), nil),
		http.StatusNotFound, "The requested resource does not exist.")

	// More: act 3 more times (one an application error), bystander twice.
	for i := range 3 {
		op := "echo"
		if i == 1 {
			op = "fail"
		}
		r := s.invoke(t, "act", "blocking=true", map[string]any{"op": op, "message": "no"})
		ids = append(ids, object(t, "invoke act", r)["activationId"].(string))
	}
	for range 2 {
		s.result(t, "bystander", nil)
	}

	// Summaries, newest first.
	r = s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations", nil)
	wantStatus(t, "list", r, http.StatusOK)
	all := array(t, "list", r)
	if len(all) != 7 {
		t.Fatalf("list: %d activations, want 7", len(all))
	}
	var starts []float64
	for _, e := range all {
		m := e.(map[string]any)
		wantFields(t, "list summary", m, summaryFields)
		starts = append(starts, m["start"].(float64))
	}
	for i := 1; i < len(starts); i++ {
		if starts[i] > starts[i-1] {
			t.Errorf("list: not newest first: starts %v", starts)
			break
		}
	}
	for i, e := range all[2:] { // act's 5, newest first
		m := e.(map[string]any)
		want := 0.0
		if m["activationId"] == ids[3] {
			want = 1 // the application error
		}
		if m["name"] != "act" || m["activationId"] != ids[len(ids)-1-i] || m["statusCode"] != want {
			t.Errorf("list entry %d: %v, want act %s with statusCode %v", i+2, m, ids[len(ids)-1-i], want)
		}
	}

	// By name.
	byName := array(t, "list name=act", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?name=act", nil))
	if len(byName) != 5 {
		t.Errorf("list name=act: %d, want 5", len(byName))
	}
	for _, e := range byName {
		if e.(map[string]any)["name"] != "act" {
			t.Errorf("list name=act: %v", e)
		}
	}
	// Pages.
	page := array(t, "list limit=2 skip=1", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?limit=2&skip=1", nil))
	if len(page) != 2 || page[0].(map[string]any)["activationId"] != all[1].(map[string]any)["activationId"] ||
		page[1].(map[string]any)["activationId"] != all[2].(map[string]any)["activationId"] {
		t.Errorf("list limit=2 skip=1: %v, want entries 1 and 2 of the full list", page)
	}
	// since/upto: bounds are inclusive, in epoch ms of start.
	lo, hi := starts[5], starts[2] // act's 2nd activation .. its 5th
	ranged := array(t, "list since upto", s.guest(t, http.MethodGet,
		fmt.Sprintf("/api/v1/namespaces/_/activations?since=%d&upto=%d", int64(lo), int64(hi)), nil))
	wantRanged := 0
	for _, st := range starts {
		if st >= lo && st <= hi {
			wantRanged++
		}
	}
	if len(ranged) != wantRanged {
		t.Errorf("list since=%d upto=%d: %d activations, want %d (starts %v)", int64(lo), int64(hi), len(ranged), wantRanged, starts)
	}
	for _, e := range ranged {
		if st := e.(map[string]any)["start"].(float64); st < lo || st > hi {
			t.Errorf("list since=%d upto=%d: start %v", int64(lo), int64(hi), st)
		}
	}
	// docs=true: full records.
	docs := array(t, "list docs", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?docs=true&name=act&limit=2", nil))
	if len(docs) != 2 {
		t.Errorf("list docs=true limit=2: %d", len(docs))
	}
	for _, e := range docs {
		m := e.(map[string]any)
		if _, has := m["statusCode"]; has {
			t.Errorf("list docs=true: a record has statusCode: %v", m)
		}
		if resp, _ := m["response"].(map[string]any); resp == nil || resp["status"] == nil {
			t.Errorf("list docs=true: a record without response: %v", m)
		}
		if _, has := m["logs"]; !has {
			t.Errorf("list docs=true: activation %v has no \"logs\" field; OpenWhisk's full record always has one ([] when the action logged nothing)", m["activationId"])
		}
	}
	// A record without log lines still has "logs": [] (ids[2] logged nothing).
	m = object(t, "get", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+ids[2], nil))
	if l, has := m["logs"]; !has || jsonType(l) != "array" {
		t.Errorf("GET activation %s: \"logs\" is %v (present %v); OpenWhisk's full record always has it, [] when the action logged nothing", ids[2], l, has)
	}
	// count=true.
	for q, want := range map[string]float64{"": 7, "&name=act": 5, "&name=bystander": 2, "&name=nothing": 0, "&limit=1": 7} {
		r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?count=true"+q, nil)
		wantStatus(t, "count"+q, r, http.StatusOK)
		if m := object(t, "count"+q, r); len(m) != 1 || m["activations"] != want {
			t.Errorf("count=true%s: %s, want {\"activations\":%v}", q, r, want)
		}
	}

	// The client's list calls.
	sums, err := c.ListActivations(ctx(t), client.ActivationQuery{Name: "act", Limit: 2, Skip: 1}, false)
	if err != nil || len(sums) != 2 || sums[0].ActivationID != ids[3] || sums[0].StatusCode == nil || *sums[0].StatusCode != whisk.CodeApplicationError || sums[0].Response != nil {
		t.Errorf("client: ListActivations summaries: %+v, %v", sums, err)
	}
	full, err := c.ListActivations(ctx(t), client.ActivationQuery{Name: "bystander"}, true)
	if err != nil || len(full) != 2 || full[0].Response == nil || !full[0].Response.Success {
		t.Errorf("client: ListActivations docs: %+v, %v", full, err)
	}
	since := time.UnixMilli(int64(lo))
	upto := time.UnixMilli(int64(hi))
	if n, err := c.CountActivations(ctx(t), client.ActivationQuery{Since: since, Upto: upto}); err != nil || n != wantRanged {
		t.Errorf("client: CountActivations since/upto: %d, %v, want %d", n, err, wantRanged)
	}
	if n, err := c.CountActivations(ctx(t), client.ActivationQuery{Name: "act"}); err != nil || n != 5 {
		t.Errorf("client: CountActivations: %d, %v", n, err)
	}
}
