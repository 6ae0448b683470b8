package e2e

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/marvel-serverless/marvel/invoker/client"
)

// TestInfoAndAuth checks GET /api/v1 without auth, the namespaces of each
// key, and that wrong or missing credentials get 401 with OpenWhisk's
// challenge.
func TestInfoAndAuth(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))

	r := s.do(t, "", http.MethodGet, "/api/v1", nil)
	wantStatus(t, "info", r, http.StatusOK)
	info := object(t, "info", r)
	wantFields(t, "info", info, map[string]string{
		"description": "string", "api_version": "string", "api_version_path": "string",
		"build": "string", "buildno": "string", "swagger_paths": "object",
	})
	if info["description"] != "OpenWhisk API" || info["api_version"] != "1.0.0" || info["api_version_path"] != "v1" {
		t.Errorf("info: %s", r)
	}
	sw, _ := info["swagger_paths"].(map[string]any)
	if sw["ui"] != "/docs" || sw["api-docs"] != "/api-docs" {
		t.Errorf("info: swagger_paths %v", sw)
	}
	ci, err := s.client(t, "").Info(ctx(t))
	if err != nil || ci.Description != "OpenWhisk API" || ci.APIVersionPath != "v1" {
		t.Errorf("client Info: %+v, %v", ci, err)
	}

	for _, c := range []struct{ auth, want string }{{guestKey, "guest"}, {otherKey, otherNS}} {
		r := s.do(t, c.auth, http.MethodGet, "/api/v1/namespaces", nil)
		wantStatus(t, "namespaces", r, http.StatusOK)
		if got := array(t, "namespaces", r); len(got) != 1 || got[0] != c.want {
			t.Errorf("namespaces of %s's key: %s, want [%q]", c.want, r, c.want)
		}
		ns, err := s.client(t, c.auth).Namespaces(ctx(t))
		if err != nil || !slices.Equal(ns, []string{c.want}) {
			t.Errorf("client Namespaces of %s's key: %v, %v", c.want, ns, err)
		}
	}

	for _, c := range []struct{ what, auth string }{
		{"no credentials", ""}, {"a wrong key", wrongKey}, {"an unknown uuid", unusedKey},
	} {
		for _, path := range []string{"/api/v1/namespaces", "/api/v1/namespaces/_/actions", "/api/v1/namespaces/guest/activations"} {
			r := s.do(t, c.auth, http.MethodGet, path, nil)
			wantError(t, c.what+" GET "+path, r, http.StatusUnauthorized, "")
			if h := r.header.Get("WWW-Authenticate"); h != `Basic realm="OpenWhisk secure realm"` {
				t.Errorf("%s GET %s: WWW-Authenticate %q", c.what, path, h)
			}
		}
		if c.auth == "" {
			continue
		}
		_, err := s.client(t, c.auth).ListActions(ctx(t), 0, 0)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized || ce.Code == "" {
			t.Errorf("client ListActions with %s: %v, want a 401 *client.Error with a code", c.what, err)
		}
	}
	// Invoking without credentials runs nothing.
	r = s.do(t, "", http.MethodPost, "/api/v1/namespaces/guest/actions/x?blocking=true", map[string]any{})
	wantError(t, "invoke without credentials", r, http.StatusUnauthorized, "")
}

// TestNamespaceSeparation checks that namespace "other" can neither reach
// guest's actions nor its activations, through /namespaces/guest/… (403) or
// through "_" (its own namespace, where guest's are not), and that the two
// namespaces' actions of the same name keep separate state.
func TestNamespaceSeparation(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "secret", "probe", nil)
	s.mustPut(t, "counter", "counter", nil)
	r := s.invoke(t, "secret", "blocking=true", map[string]any{"op": "echo"})
	wantStatus(t, "guest invokes secret", r, http.StatusOK)
	id := r.header.Get("x-openwhisk-activation-id")
	if !activationIDRE.MatchString(id) {
		t.Fatalf("activation id %q", id)
	}
	for range 3 {
		s.result(t, "counter", nil)
	}

	forbidden := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/namespaces/guest/actions"},
		{http.MethodGet, "/api/v1/namespaces/guest/actions/secret"},
		{http.MethodGet, "/api/v1/namespaces/guest/actions/secret?code=true"},
		{http.MethodPut, "/api/v1/namespaces/guest/actions/planted?overwrite=true"},
		{http.MethodPut, "/api/v1/namespaces/guest/actions/secret?overwrite=true"},
		{http.MethodDelete, "/api/v1/namespaces/guest/actions/secret"},
		{http.MethodPost, "/api/v1/namespaces/guest/actions/secret?blocking=true&result=true"},
		{http.MethodPost, "/api/v1/namespaces/guest/actions/counter?blocking=true&result=true"},
		{http.MethodGet, "/api/v1/namespaces/guest/activations"},
		{http.MethodGet, "/api/v1/namespaces/guest/activations?count=true"},
		{http.MethodGet, "/api/v1/namespaces/guest/activations/" + id},
		{http.MethodGet, "/api/v1/namespaces/guest/activations/" + id + "/logs"},
		{http.MethodGet, "/api/v1/namespaces/guest/activations/" + id + "/result"},
	}
	for _, c := range forbidden {
		var body any
		switch c.method {
		case http.MethodPut:
			body = map[string]any{"exec": map[string]any{"kind": "go:default", "code": actionZip["echo"]}}
		case http.MethodPost:
			body = map[string]any{}
		}
		wantError(t, "other: "+c.method+" "+c.path, s.do(t, otherKey, c.method, c.path, body), http.StatusForbidden, "")
	}

	// Through "_", other sees its own namespace: empty.
	r = s.do(t, otherKey, http.MethodGet, "/api/v1/namespaces/_/actions", nil)
	wantStatus(t, "other lists its actions", r, http.StatusOK)
	if l := array(t, "other lists its actions", r); len(l) != 0 {
		t.Errorf("other lists its actions: %s, want []", r)
	}
	r = s.do(t, otherKey, http.MethodGet, "/api/v1/namespaces/_/activations", nil)
	wantStatus(t, "other lists its activations", r, http.StatusOK)
	if l := array(t, "other lists its activations", r); len(l) != 0 {
		t.Errorf("other lists its activations: %s, want []", r)
	}
	r = s.do(t, otherKey, http.MethodGet, "/api/v1/namespaces/_/activations?count=true", nil)
	if m := object(t, "other counts its activations", r); len(m) != 1 || m["activations"] != 0.0 {
		t.Errorf("other counts its activations: %s, want {\"activations\":0}", r)
	}
	notFound := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/namespaces/_/actions/secret"},
		{http.MethodDelete, "/api/v1/namespaces/_/actions/secret"},
		{http.MethodPost, "/api/v1/namespaces/_/actions/secret?blocking=true&result=true"},
		{http.MethodGet, "/api/v1/namespaces/_/activations/" + id},
		{http.MethodGet, "/api/v1/namespaces/_/activations/" + id + "/logs"},
		{http.MethodGet, "/api/v1/namespaces/_/activations/" + id + "/result"},
		{http.MethodGet, "/api/v1/namespaces/other/activations/" + id},
	}
	for _, c := range notFound {
		var body any
		if c.method == http.MethodPost {
			body = map[string]any{}
		}
		wantError(t, "other: "+c.method+" "+c.path, s.do(t, otherKey, c.method, c.path, body), http.StatusNotFound, "The requested resource does not exist.")
	}

	// The same through the client.
	oc := s.client(t, otherKey)
	if l, err := oc.ListActions(ctx(t), 0, 0); err != nil || len(l) != 0 {
		t.Errorf("client: other lists its actions: %v, %v", l, err)
	}
	var ce *client.Error
	if _, err := oc.GetActivation(ctx(t), id); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("client: other gets guest's activation: %v, want 404", err)
	}
	if _, err := oc.Invoke(ctx(t), "/guest/secret", nil, client.InvokeOptions{Result: true}); !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
		t.Errorf("client: other invokes /guest/secret: %v, want 403", err)
	}
	if _, err := oc.GetAction(ctx(t), "/guest/secret", true); !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
		t.Errorf("client: other gets /guest/secret: %v, want 403", err)
	}

	// other's actions of the same names are its own, with their own state.
	for _, a := range []struct{ name, code string }{{"secret", "echo"}, {"counter", "counter"}} {
		wantStatus(t, "other creates "+a.name, s.putAction(t, otherKey, a.name, a.code, false, nil), http.StatusOK)
	}
	r = s.do(t, otherKey, http.MethodPost, "/api/v1/namespaces/_/actions/counter?blocking=true&result=true", map[string]any{})
	wantStatus(t, "other invokes its counter", r, http.StatusOK)
	if got := object(t, "other's counter", r)["count"]; got != 1.0 {
		t.Errorf("other's counter counted %v, want 1: it shares state with guest's counter", got)
	}
	if got := s.result(t, "counter", nil)["count"]; got != 4.0 {
		t.Errorf("guest's counter counted %v, want 4", got)
	}
	// guest's secret is untouched: still the probe, at its first version.
	r = s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions/secret?code=true", nil)
	wantStatus(t, "guest gets secret", r, http.StatusOK)
	a := object(t, "guest's secret", r)
	exec, _ := a["exec"].(map[string]any)
	if a["version"] != "0.0.1" || a["namespace"] != "guest" || exec["code"] != actionZip["probe"] {
		t.Errorf("guest's secret changed: version %v, namespace %v, same code %v", a["version"], a["namespace"], exec["code"] == actionZip["probe"])
	}
	r = s.do(t, otherKey, http.MethodGet, "/api/v1/namespaces/_/activations", nil)
	for _, e := range array(t, "other's activations", r) {
		if m, _ := e.(map[string]any); m["namespace"] != otherNS || m["activationId"] == id {
			t.Errorf("other's activations list %v", m)
		}
	}
}
