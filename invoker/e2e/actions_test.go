package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// actionFields are the fields of an action as GET, PUT and DELETE answer it.
var actionFields = map[string]string{
	"namespace": "string", "name": "string", "version": "string", "publish": "bool",
	"exec": "object", "annotations": "array", "parameters": "array", "limits": "object", "updated": "number",
}

// wantLimits checks an action's limits object field by field.
func wantLimits(t testing.TB, what string, got any, timeout, memory, logs, concurrency float64) {
	t.Helper()
	m, _ := got.(map[string]any)
	wantFields(t, what+" limits", m, map[string]string{"timeout": "number", "memory": "number", "logs": "number", "concurrency": "number"})
	if m["timeout"] != timeout || m["memory"] != memory || m["logs"] != logs || m["concurrency"] != concurrency {
		t.Errorf("%s: limits %v, want timeout %v memory %v logs %v concurrency %v", what, m, timeout, memory, logs, concurrency)
	}
}

// TestActionLifecycle creates, updates, gets, lists and deletes actions over
// raw HTTP, checking OpenWhisk's JSON shapes and status codes.
func TestActionLifecycle(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	const path = "/api/v1/namespaces/_/actions/hello"

	r := s.putAction(t, guestKey, "hello", "echo", false, nil)
	wantStatus(t, "create", r, http.StatusOK)
	a := object(t, "create", r)
	wantFields(t, "create", a, actionFields)
	if a["namespace"] != "guest" || a["name"] != "hello" || a["version"] != "0.0.1" || a["publish"] != false {
		t.Errorf("create: %s", r)
	}
	created, _ := a["updated"].(float64)
	exec, _ := a["exec"].(map[string]any)
	if exec["kind"] != "go:default" || exec["binary"] != true {
		t.Errorf("create: exec kind %v binary %v, want go:default, true", exec["kind"], exec["binary"])
	}
	if v, ok := kv(a["annotations"], "exec"); !ok || v != "go:default" {
		t.Errorf("create: annotation exec = %v (%v), want go:default", v, ok)
	}
	if v, ok := kv(a["annotations"], "provide-api-key"); !ok || v != false {
		t.Errorf("create: annotation provide-api-key = %v (%v), want false", v, ok)
	}
	if p, _ := a["parameters"].([]any); len(p) != 0 {
		t.Errorf("create: parameters %v, want []", p)
	}
	wantLimits(t, "create", a["limits"], 60000, 256, 10, 1)

	wantError(t, "create again", s.putAction(t, guestKey, "hello", "echo", false, nil), http.StatusConflict, "resource already exists")
	wantError(t, "create again without overwrite", s.guest(t, http.MethodPut, path,
		map[string]any{"exec": map[string]any{"kind": "go:default", "code": actionZip["echo"]}}), http.StatusConflict, "resource already exists")

	// An update without exec keeps the code, changes limits and parameters.
	r = s.guest(t, http.MethodPut, path+"?overwrite=true", map[string]any{
		"namespace":   "_",
		"name":        "hello",
		"limits":      map[string]any{"timeout": 3000, "memory": 128},
		"parameters":  []any{map[string]any{"key": "greeting", "value": "hi"}},
		"annotations": []any{map[string]any{"key": "description", "value": "says hello"}},
	})
	wantStatus(t, "update", r, http.StatusOK)
	a = object(t, "update", r)
	wantFields(t, "update", a, actionFields)
	if a["version"] != "0.0.2" {
		t.Errorf("update: version %v, want 0.0.2", a["version"])
	}
	if u, _ := a["updated"].(float64); u < created {
		t.Errorf("update: updated %v before the creation's %v", u, created)
	}
	wantLimits(t, "update", a["limits"], 3000, 128, 10, 1)
	if v, _ := kv(a["parameters"], "greeting"); v != "hi" {
		t.Errorf("update: parameters %v", a["parameters"])
	}
	for k, want := range map[string]any{"description": "says hello", "exec": "go:default", "provide-api-key": false} {
		if v, ok := kv(a["annotations"], k); !ok || v != want {
			t.Errorf("update: annotation %s = %v (%v), want %v", k, v, ok, want)
		}
	}
	// The update took: the next invoke runs the new version with the new
	// parameter.
	res := s.result(t, "hello", map[string]any{"x": 1})
	if res["greeting"] != "hi" || res["x"] != 1.0 {
		t.Errorf("invoke after the update: %v", res)
	}

	r = s.guest(t, http.MethodGet, path+"?code=false", nil)
	wantStatus(t, "get code=false", r, http.StatusOK)
	a = object(t, "get code=false", r)
	wantFields(t, "get code=false", a, actionFields)
	exec, _ = a["exec"].(map[string]any)
	if _, has := exec["code"]; has {
		t.Errorf("get code=false: exec has code")
	}
	if exec["kind"] != "go:default" || exec["binary"] != true || a["version"] != "0.0.2" {
		t.Errorf("get code=false: %v", a)
	}
	r = s.guest(t, http.MethodGet, path+"?code=true", nil)
	wantStatus(t, "get code=true", r, http.StatusOK)
	exec, _ = object(t, "get code=true", r)["exec"].(map[string]any)
	if exec["code"] != actionZip["echo"] {
		t.Errorf("get code=true: the code is not the one created (%d characters)", len(exec["code"].(string)))
	}

	// Lists: three more actions, pages of them.
	for _, n := range []string{"list-a", "list-b", "list-c"} {
		s.mustPut(t, n, "echo", nil)
	}
	r = s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions", nil)
	wantStatus(t, "list", r, http.StatusOK)
	all := array(t, "list", r)
	var names []string
	for _, e := range all {
		m, _ := e.(map[string]any)
		names = append(names, m["name"].(string))
		if m["namespace"] != "guest" {
			t.Errorf("list: %v", m)
		}
		for _, f := range []string{"version", "publish", "annotations", "limits", "exec", "updated"} {
			if _, ok := m[f]; !ok {
				t.Errorf("list: %s has no %s", m["name"], f)
			}
		}
		if ex, _ := m["exec"].(map[string]any); ex["code"] != nil || ex["binary"] != true {
			t.Errorf("list: %s's exec %v, want binary and no code", m["name"], ex)
		}
	}
	if len(all) != 4 || !sameSet(names, []string{"hello", "list-a", "list-b", "list-c"}) {
		t.Fatalf("list: %v, want hello, list-a, list-b, list-c", names)
	}
	for i := 1; i < len(all); i++ { // the most recently updated first, then by name
		prev, cur := all[i-1].(map[string]any), all[i].(map[string]any)
		pu, cu := prev["updated"].(float64), cur["updated"].(float64)
		if pu < cu || (pu == cu && prev["name"].(string) > cur["name"].(string)) {
			t.Errorf("list: %s (updated %v) before %s (updated %v)", prev["name"], pu, cur["name"], cu)
		}
	}
	var paged []string
	for skip := 0; skip < 5; skip += 2 {
		r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions?limit=2&skip="+itoa(skip), nil)
		wantStatus(t, "list page", r, http.StatusOK)
		page := array(t, "list page", r)
		if want := min(2, max(0, 4-skip)); len(page) != want {
			t.Errorf("list limit=2 skip=%d: %d actions, want %d", skip, len(page), want)
		}
		for _, e := range page {
			paged = append(paged, e.(map[string]any)["name"].(string))
		}
	}
	if strings.Join(paged, ",") != strings.Join(names, ",") {
		t.Errorf("list in pages of 2: %v, want the full list's order %v", paged, names)
	}
	wantError(t, "list limit=201", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions?limit=201", nil), http.StatusBadRequest, "")

	r = s.guest(t, http.MethodDelete, "/api/v1/namespaces/_/actions/list-b", nil)
	wantStatus(t, "delete", r, http.StatusOK)
	a = object(t, "delete", r)
	if a["name"] != "list-b" || a["version"] != "0.0.1" || a["namespace"] != "guest" {
		t.Errorf("delete: %s", r)
	}
	wantError(t, "get deleted", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions/list-b", nil), http.StatusNotFound, "The requested resource does not exist.")
	wantError(t, "delete deleted", s.guest(t, http.MethodDelete, "/api/v1/namespaces/_/actions/list-b", nil), http.StatusNotFound, "The requested resource does not exist.")
	wantError(t, "invoke deleted", s.invoke(t, "list-b", "blocking=true", nil), http.StatusNotFound, "The requested resource does not exist.")
	if l := array(t, "list after delete", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions", nil)); len(l) != 3 {
		t.Errorf("list after delete: %d actions, want 3", len(l))
	}
}

// TestActionRequestErrors checks the 400 and 413 answers to bad actions.
func TestActionRequestErrors(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	good := func() map[string]any {
		return map[string]any{"exec": map[string]any{"kind": "go:default", "code": actionZip["echo"]}}
	}
	put := func(name string, body any) reply {
		return s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/"+name+"?overwrite=false", body)
	}
	badKind := good()
	badKind["exec"] = map[string]any{"kind": "cobol:85", "code": "IDENTIFICATION DIVISION."}
	wantError(t, "bad kind", put("badkind", badKind), http.StatusBadRequest, "")
	for _, lim := range []map[string]any{
		{"timeout": 50}, {"timeout": 300001}, {"memory": 64}, {"memory": 1024}, {"logs": 11}, {"concurrency": 0}, {"concurrency": 501},
	} {
		b := good()
		b["limits"] = lim
		wantError(t, "limits "+toJSON(lim), put("badlimits", b), http.StatusBadRequest, "")
	}
	noExec := map[string]any{"name": "noexec"}
	wantError(t, "no exec", put("noexec", noExec), http.StatusBadRequest, "")
	wantError(t, "not JSON", put("notjson", "{"), http.StatusBadRequest, "")
	for _, name := range []string{"@at", "trailing%20", "a%2Fb", strings.Repeat("n", 257)} {
		wantError(t, "name "+name, put(name, good()), http.StatusBadRequest, "")
	}
	big := good()
	big["parameters"] = []any{map[string]any{"key": "blob", "value": strings.Repeat("x", 1<<20+1)}}
	wantError(t, "oversized parameters", put("big", big), http.StatusRequestEntityTooLarge, "")
	// Nothing of those was created.
	if l := array(t, "list", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions", nil)); len(l) != 0 {
		t.Errorf("bad requests created actions: %v", l)
	}
	// A failed update changes nothing.
	s.mustPut(t, "kept", "echo", nil)
	b := good()
	b["limits"] = map[string]any{"timeout": 50}
	wantError(t, "bad update", s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/kept?overwrite=true", b), http.StatusBadRequest, "")
	a := object(t, "get kept", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions/kept", nil))
	if a["version"] != "0.0.1" {
		t.Errorf("a refused update changed the action to version %v", a["version"])
	}
	wantLimits(t, "kept", a["limits"], 60000, 256, 10, 1)
	// Invoke parameters: over 1 MB, or not an object.
	wantError(t, "oversized invoke", s.invoke(t, "kept", "blocking=true", map[string]any{"blob": strings.Repeat("x", 1<<20)}), http.StatusRequestEntityTooLarge, "")
	wantError(t, "array invoke", s.invoke(t, "kept", "blocking=true", []any{1, 2}), http.StatusBadRequest, "")
}

// TestActionsClient runs the action calls through package client.
func TestActionsClient(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	c := s.client(t, guestKey)
	code := actionZip["echo"]
	timeout := 5000
	a, err := c.PutAction(ctx(t), whisk.Action{Name: "cli", Exec: &whisk.Exec{Kind: "go:default", Code: &code}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Namespace != "guest" || a.Version != "0.0.1" || a.Limits == nil || *a.Limits.Timeout != 60000 || *a.Limits.Memory != 256 ||
		*a.Limits.Logs != 10 || *a.Limits.Concurrency != 1 || a.Exec == nil || a.Exec.Binary == nil || !*a.Exec.Binary {
		t.Errorf("PutAction: %+v", a)
	}
	var ce *client.Error
	if _, err := c.PutAction(ctx(t), whisk.Action{Name: "cli", Exec: &whisk.Exec{Kind: "go:default", Code: &code}}, false); !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Message != "resource already exists" {
		t.Errorf("PutAction again: %v, want 409", err)
	}
	a, err = c.PutAction(ctx(t), whisk.Action{Name: "cli", Limits: &whisk.Limits{Timeout: &timeout},
		Parameters: whisk.KeyValues{{Key: "p", Value: json.RawMessage(`"v"`)}}}, true)
	if err != nil || a.Version != "0.0.2" || *a.Limits.Timeout != 5000 || string(a.Parameters.Get("p")) != `"v"` {
		t.Errorf("PutAction overwrite: %+v, %v", a, err)
	}
	if a, err := c.GetAction(ctx(t), "cli", false); err != nil || a.Exec == nil || a.Exec.Code != nil {
		t.Errorf("GetAction without code: %+v, %v", a, err)
	}
	if a, err := c.GetAction(ctx(t), "cli", true); err != nil || a.Exec == nil || a.Exec.Code == nil || *a.Exec.Code != code {
		t.Errorf("GetAction with code: the code did not come back (%v)", err)
	}
	if a, err := c.GetAction(ctx(t), "/guest/cli", false); err != nil || a.Name != "cli" {
		t.Errorf("GetAction /guest/cli: %+v, %v", a, err)
	}
	for _, n := range []string{"cli-2", "cli-3"} {
		if _, err := c.PutAction(ctx(t), whisk.Action{Name: n, Exec: &whisk.Exec{Kind: "go:default", Code: &code}}, false); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.ListActions(ctx(t), 0, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("ListActions: %d, %v", len(all), err)
	}
	page, err := c.ListActions(ctx(t), 1, 1)
	if err != nil || len(page) != 1 || page[0].Name != all[1].Name {
		t.Errorf("ListActions(1, 1): %+v, %v, want %s", page, err, all[1].Name)
	}
	inv, err := c.Invoke(ctx(t), "cli", map[string]any{"q": 1}, client.InvokeOptions{Result: true})
	if err != nil || inv.Status != http.StatusOK || !activationIDRE.MatchString(inv.ActivationID) {
		t.Errorf("Invoke: %+v, %v", inv, err)
	}
	var res map[string]any
	if json.Unmarshal(inv.Result, &res) != nil || res["p"] != "v" || res["q"] != 1.0 {
		t.Errorf("Invoke result %s, want p and q", inv.Result)
	}
	d, err := c.DeleteAction(ctx(t), "cli")
	if err != nil || d.Name != "cli" || d.Version != "0.0.2" {
		t.Errorf("DeleteAction: %+v, %v", d, err)
	}
	if _, err := c.GetAction(ctx(t), "cli", false); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("GetAction after delete: %v, want 404", err)
	}
	bad := 50
	if _, err := c.PutAction(ctx(t), whisk.Action{Name: "cli-2", Limits: &whisk.Limits{Timeout: &bad}}, true); !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
		t.Errorf("PutAction with timeout 50: %v, want 400", err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func itoa(n int) string { return toJSON(n) }
