package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// requestTimeout bounds one raw request (blocking invokes included).
const requestTimeout = 2 * time.Minute

// httpClient sends the raw requests; it uses no proxy.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// reply is a raw HTTP reply.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// do sends method path (after the API host) with Basic auth (auth "uuid:key";
// "" for none) and body (nil: none; []byte or string as is; else JSON),
// and returns the reply. A transport error fails the test.
func (s *standalone) do(t testing.TB, auth, method, path string, body any) reply {
	t.Helper()
	r, err := s.try(auth, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is do that returns a transport error.
func (s *standalone) try(auth, method, path string, body any) (reply, error) {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	case string:
		rd = strings.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.host+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		u, k, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, k)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// guest sends a request as guest.
func (s *standalone) guest(t testing.TB, method, path string, body any) reply {
	t.Helper()
	return s.do(t, guestKey, method, path, body)
}

// client returns a client of the API with credentials auth.
func (s *standalone) client(t testing.TB, auth string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{APIHost: s.host, Auth: auth})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// ctx returns a context for one call, ended with the test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), requestTimeout)
	t.Cleanup(cancel)
	return c
}

// wantStatus fails the test unless r has status want.
func wantStatus(t testing.TB, what string, r reply, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: got %s, want status %d", what, r, want)
	}
}

// object decodes r's body as a JSON object.
func object(t testing.TB, what string, r reply) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil || m == nil {
		t.Fatalf("%s: body is not a JSON object (%v): %s", what, err, r)
	}
	return m
}

// array decodes r's body as a JSON array.
func array(t testing.TB, what string, r reply) []any {
	t.Helper()
	var a []any
	if err := json.Unmarshal(r.body, &a); err != nil || a == nil {
		t.Fatalf("%s: body is not a JSON array (%v): %s", what, err, r)
	}
	return a
}

// wantError checks an error reply: status want, the body exactly
// {"error": msg, "code": <transaction id>} (msg "" accepts any text).
func wantError(t testing.TB, what string, r reply, want int, msg string) {
	t.Helper()
	wantStatus(t, what, r, want)
	m := object(t, what, r)
	if len(m) != 2 {
		t.Errorf("%s: error body has fields %v, want error and code", what, keys(m))
	}
	got, ok := m["error"].(string)
	if !ok || got == "" || (msg != "" && got != msg) {
		t.Errorf("%s: error %#v, want %q", what, m["error"], msg)
	}
	if c, ok := m["code"].(string); !ok || c == "" {
		t.Errorf("%s: code %#v, want a transaction id", what, m["code"])
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// wantFields checks that m has exactly the fields in want, each of the JSON
// type named ("string", "number", "bool", "object", "array", "null") —
// and, for optional fields (type with a trailing "?"), no other type.
func wantFields(t testing.TB, what string, m map[string]any, want map[string]string) {
	t.Helper()
	for k, typ := range want {
		v, ok := m[k]
		opt := strings.HasSuffix(typ, "?")
		typ = strings.TrimSuffix(typ, "?")
		if !ok {
			if !opt {
				t.Errorf("%s: no field %q (have %v)", what, k, keys(m))
			}
			continue
		}
		if got := jsonType(v); got != typ {
			t.Errorf("%s: field %q is a JSON %s (%v), want %s", what, k, got, v, typ)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected field %q = %v", what, k, m[k])
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// kv returns the value of key in an OpenWhisk [{key,value}] list (decoded
// as []any), and whether it is there.
func kv(list any, key string) (any, bool) {
	l, _ := list.([]any)
	for _, e := range l {
		m, _ := e.(map[string]any)
		if m["key"] == key {
			return m["value"], true
		}
	}
	return nil, false
}

var activationIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// putAction creates (or with overwrite replaces) action name of namespace
// "_" as auth from a prebuilt action (echo, counter, probe), with more
// fields of the action JSON (limits, parameters, annotations).
func (s *standalone) putAction(t testing.TB, auth, name, code string, overwrite bool, more map[string]any) reply {
	t.Helper()
	body := map[string]any{"namespace": "_", "name": name, "exec": map[string]any{"kind": "go:default", "code": actionZip[code]}}
	for k, v := range more {
		body[k] = v
	}
	return s.do(t, auth, http.MethodPut, fmt.Sprintf("/api/v1/namespaces/_/actions/%s?overwrite=%v", name, overwrite), body)
}

// mustPut creates action name as guest and fails the test unless it worked.
func (s *standalone) mustPut(t testing.TB, name, code string, more map[string]any) {
	t.Helper()
	wantStatus(t, "create "+name, s.putAction(t, guestKey, name, code, false, more), http.StatusOK)
}

// invoke runs action name as guest, blocking, and returns the reply.
func (s *standalone) invoke(t testing.TB, name, query string, params any) reply {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	return s.guest(t, http.MethodPost, "/api/v1/namespaces/_/actions/"+name+"?"+query, params)
}

// result invokes action name as guest (blocking, result=true) and decodes
// the 200 result.
func (s *standalone) result(t testing.TB, name string, params any) map[string]any {
	t.Helper()
	r := s.invoke(t, name, "blocking=true&result=true", params)
	wantStatus(t, "invoke "+name, r, http.StatusOK)
	return object(t, "invoke "+name, r)
}

// activation fetches an activation record as guest, waiting while it is
// not there yet (404).
func (s *standalone) activation(t testing.TB, id string) whisk.Activation {
	t.Helper()
	c := s.client(t, guestKey)
	cx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := c.WaitActivation(cx, id, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("activation %s: %v", id, err)
	}
	return a
}
