package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is one request as the server received it.
type seen struct {
	Method     string
	URI        string // RequestURI: the escaped path and query as sent
	Header     http.Header
	Body       string
	User, Pass string
	HasAuth    bool
}

// answer is what the fake server replies.
type answer struct {
	status int
	header map[string]string
	body   string
}

// fakeWhisk is an httptest server that records every request and answers
// with the next queued answer (or the last one, again).
type fakeWhisk struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seen
	ans []answer
}

func newFake(t *testing.T) *fakeWhisk {
	t.Helper()
	f := &fakeWhisk{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		f.mu.Lock()
		f.got = append(f.got, seen{r.Method, r.RequestURI, r.Header.Clone(), string(body), u, p, ok})
		a := answer{status: 500, body: `{"error":"no answer queued","code":"t0"}`}
		if len(f.ans) > 0 {
			a = f.ans[0]
			if len(f.ans) > 1 {
				f.ans = f.ans[1:]
			}
		}
		f.mu.Unlock()
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWhisk) queue(as ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ans = as
}

func (f *fakeWhisk) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.got...)
}

func (f *fakeWhisk) last(t *testing.T) seen {
	t.Helper()
	r := f.requests()
	require.NotEmpty(t, r, "no request reached the server")
	return r[len(r)-1]
}

// client returns a client of f with cfg's other fields.
func (f *fakeWhisk) client(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.APIHost = f.srv.URL
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

const (
	actID   = "0123456789abcdef0123456789abcdef"
	txID    = "9b6f0a3c1d2e4f5a6b7c8d9e0f1a2b3c"
	helloGo = "package main\n\nfunc Main(args map[string]any) map[string]any { return args }\n"
)

// activationJSON is a full activation record as OpenWhisk sends it.
func activationJSON(success bool, status, result string) string {
	return `{"namespace":"guest","name":"hello","subject":"guest","activationId":"` + actID +
		`","start":1700000000000,"end":1700000000012,"duration":12,"logs":["2024-01-01T00:00:00.000000000Z stdout: hi"],` +
		`"version":"0.0.1","publish":false,"annotations":[{"key":"kind","value":"go:default"},{"key":"initTime","value":5}],` +
		`"response":{"status":"` + status + `","success":` + boolString(success) + `,"result":` + result + `}}`
}

// TestWire checks each call's request on the wire and the decoding of the
// reply shapes OpenWhisk sends.
func TestWire(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth, UserAgent: "marvel-test"})
	ctx := t.Context()
	code := helloGo

	for _, tc := range []struct {
		name     string
		answer   answer
		call     func() (any, error)
		method   string
		uri      string
		body     string // JSON the request must carry; "" none
		noAuth   bool
		want     any    // the decoded value
		wantErr  any    // a pointer to the wanted error value (*Error, *ApplicationError)
		errorStr string // its exact Error()
	}{
		{name: "info",
			answer: answer{200, nil, `{"description":"OpenWhisk API","api_version":"1.0.0","api_version_path":"v1","build":"b","buildno":"1","swagger_paths":{"ui":"/docs","api-docs":"/api-docs"}}`},
			call:   func() (any, error) { return c.Info(ctx) },
			method: "GET", uri: "/api/v1", noAuth: true,
			want: whisk.Info{Description: "OpenWhisk API", APIVersion: "1.0.0", APIVersionPath: "v1", Build: "b", BuildNo: "1",
				SwaggerPaths: map[string]string{"ui": "/docs", "api-docs": "/api-docs"}}},
		{name: "namespaces",
			answer: answer{200, nil, `["guest"]`},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			want: []string{"guest"}},
		{name: "create",
			answer: answer{200, nil, `{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"exec":{"kind":"go:default","binary":false},"annotations":[{"key":"exec","value":"go:default"},{"key":"provide-api-key","value":false}],"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"updated":1700000000000}`},
			call: func() (any, error) {
				a, err := c.PutAction(ctx, whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "go:default", Code: &code}}, false)
				return a.Version + " " + string(a.Annotations.Get("exec")), err
			},
			method: "PUT", uri: "/api/v1/namespaces/_/actions/hello?overwrite=false",
			body: `{"namespace":"_","name":"hello","exec":{"kind":"go:default","code":` + jsonString(code) + `}}`,
			want: `0.0.1 "go:default"`},
		{name: "update keeps exec, sets limits and parameters",
			answer: answer{200, nil, `{"namespace":"guest","name":"hello","version":"0.0.2","publish":false,"annotations":[],"parameters":[{"key":"x","value":1}]}`},
			call: func() (any, error) {
				timeout := 1000
				a, err := c.PutAction(ctx, whisk.Action{Name: "/guest/pkg/hello", Limits: &whisk.Limits{Timeout: &timeout},
					Parameters: whisk.KeyValues{{Key: "x", Value: json.RawMessage(`1`)}}, DelAnnotations: []string{"old"}}, true)
				return a.Version, err
			},
			method: "PUT", uri: "/api/v1/namespaces/guest/actions/pkg/hello?overwrite=true",
			body: `{"namespace":"guest","name":"pkg/hello","parameters":[{"key":"x","value":1}],"limits":{"timeout":1000},"delAnnotations":["old"]}`,
			want: "0.0.2"},
		{name: "create conflict",
			answer: answer{409, nil, `{"error":"resource already exists","code":"` + txID + `"}`},
			call: func() (any, error) {
				return c.PutAction(ctx, whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "go:default", Code: &code}}, false)
			},
			method: "PUT", uri: "/api/v1/namespaces/_/actions/hello?overwrite=false",
			body:     `{"namespace":"_","name":"hello","exec":{"kind":"go:default","code":` + jsonString(code) + `}}`,
			wantErr:  &Error{Status: 409, Message: "resource already exists", Code: txID},
			errorStr: "openwhisk: 409 resource already exists (code " + txID + ")"},
		{name: "get with code, escaped name",
			answer: answer{200, nil, `{"namespace":"guest","name":"my action?","exec":{"kind":"go:default","code":"x","binary":false},"annotations":[],"parameters":[]}`},
			call: func() (any, error) {
				a, err := c.GetAction(ctx, "my pkg/my action?", true)
				return a.Name + " " + *a.Exec.Code, err
			},
			method: "GET", uri: "/api/v1/namespaces/_/actions/my%20pkg/my%20action%3F?code=true",
			want: "my action? x"},
		{name: "get missing",
			answer: answer{404, nil, `{"error":"The requested resource does not exist.","code":"` + txID + `"}`},
			call:   func() (any, error) { return c.GetAction(ctx, "nope", false) },
			method: "GET", uri: "/api/v1/namespaces/_/actions/nope?code=false",
			wantErr:  &Error{Status: 404, Message: "The requested resource does not exist.", Code: txID},
			errorStr: "openwhisk: 404 The requested resource does not exist. (code " + txID + ")"},
		{name: "list",
			answer: answer{200, nil, `[{"namespace":"guest","name":"a","version":"0.0.1","publish":false,"annotations":[{"key":"exec","value":"go:default"}],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"exec":{"binary":false},"updated":1}]`},
			call: func() (any, error) {
				as, err := c.ListActions(ctx, 30, 5)
				names := []string{}
				for _, a := range as {
					names = append(names, a.Namespace+"/"+a.Name)
				}
				return names, err
			},
			method: "GET", uri: "/api/v1/namespaces/_/actions?limit=30&skip=5",
			want: []string{"guest/a"}},
		{name: "list without paging",
			answer: answer{200, nil, `[]`},
			call: func() (any, error) {
				as, err := c.ListActions(ctx, 0, 0)
				return len(as), err
			},
			method: "GET", uri: "/api/v1/namespaces/_/actions",
			want: 0},
		{name: "delete",
			answer: answer{200, nil, `{"namespace":"guest","name":"hello","version":"0.0.3","publish":false,"annotations":[],"parameters":[]}`},
			call: func() (any, error) {
				a, err := c.DeleteAction(ctx, "hello")
				return a.Version, err
			},
			method: "DELETE", uri: "/api/v1/namespaces/_/actions/hello",
			want: "0.0.3"},
		{name: "invoke blocking result",
			answer: answer{200, map[string]string{"X-Openwhisk-Activation-Id": actID}, `{"main":"Hello, Demo"}`},
			call: func() (any, error) {
				return c.Invoke(ctx, "hello", map[string]any{"name": "Demo"}, InvokeOptions{Result: true})
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{"name":"Demo"}`,
			want: Invocation{Status: 200, ActivationID: actID, Result: json.RawMessage(`{"main":"Hello, Demo"}`)}},
		{name: "invoke blocking",
			answer: answer{200, nil, activationJSON(true, "success", `{"main":"Hello"}`)},
			call: func() (any, error) {
				inv, err := c.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true, Timeout: 1500 * time.Millisecond})
				return []any{inv.Status, inv.ActivationID, inv.Pending, inv.Activation.Duration, string(inv.Activation.Response.Result)}, err
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=false&timeout=1500", body: `{}`,
			want: []any{200, actID, false, int64(12), `{"main":"Hello"}`}},
		{name: "invoke non-blocking",
			answer: answer{202, nil, `{"activationId":"` + actID + `"}`},
			call: func() (any, error) {
				return c.Invoke(ctx, "pkg/hello", json.RawMessage(`{"a":[1,2]}`), InvokeOptions{})
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/pkg/hello?blocking=false&result=false", body: `{"a":[1,2]}`,
			want: Invocation{Status: 202, ActivationID: actID, Pending: true}},
		{name: "invoke blocking outlasts its wait",
			answer: answer{202, nil, `{"activationId":"` + actID + `"}`},
			call: func() (any, error) {
				return c.Invoke(ctx, "hello", nil, InvokeOptions{Result: true, Timeout: 100 * time.Millisecond})
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=true&timeout=100", body: `{}`,
			want: Invocation{Status: 202, ActivationID: actID, Pending: true}},
		{name: "invoke result application error (502 without code)",
			answer: answer{502, map[string]string{"X-Openwhisk-Activation-Id": actID}, `{"error":"boom"}`},
			call: func() (any, error) {
				return c.Invoke(ctx, "hello", nil, InvokeOptions{Result: true})
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{}`,
			want:     Invocation{Status: 502, ActivationID: actID, Result: json.RawMessage(`{"error":"boom"}`)},
			wantErr:  &ApplicationError{Status: 502, ActivationID: actID, Result: json.RawMessage(`{"error":"boom"}`)},
			errorStr: `openwhisk: 502 application error in activation ` + actID + `: {"error":"boom"}`},
		{name: "invoke blocking application error",
			answer: answer{502, map[string]string{"X-Openwhisk-Activation-Id": actID}, activationJSON(false, "application error", `{"error":"boom"}`)},
			call: func() (any, error) {
				inv, err := c.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true})
				return []any{inv.Status, inv.ActivationID, inv.Activation.Response.Status}, err
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=false", body: `{}`,
			want:    []any{502, actID, "application error"},
			wantErr: &ApplicationError{Status: 502, ActivationID: actID, Result: json.RawMessage(`{"error":"boom"}`)}},
		{name: "invoke 200 with success false is an application error",
			answer: answer{200, nil, activationJSON(false, "action developer error", `{"error":"bad init"}`)},
			call: func() (any, error) {
				inv, err := c.Invoke(ctx, "hello", nil, InvokeOptions{Blocking: true})
				return inv.ActivationID, err
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=false", body: `{}`,
			want:    actID,
			wantErr: &ApplicationError{Status: 200, ActivationID: actID, Result: json.RawMessage(`{"error":"bad init"}`)}},
		{name: "invoke 502 with code is a whisk error",
			answer: answer{502, nil, `{"error":"The action did not produce a valid response.","code":"` + txID + `"}`},
			call: func() (any, error) {
				return c.Invoke(ctx, "hello", nil, InvokeOptions{Result: true})
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{}`,
			wantErr: &Error{Status: 502, Message: "The action did not produce a valid response.", Code: txID}},
		{name: "invoke 502 from a gateway (not JSON)",
			answer: answer{502, map[string]string{"Content-Type": "text/html"}, "<html><body>502 Bad Gateway</body></html>"},
			call: func() (any, error) {
				return c.Invoke(ctx, "hello", nil, InvokeOptions{Result: true})
			},
			method: "POST", uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{}`,
			wantErr:  &Error{Status: 502, Message: "<html><body>502 Bad Gateway</body></html>"},
			errorStr: "openwhisk: 502 <html><body>502 Bad Gateway</body></html>"},
		{name: "unauthorized",
			answer: answer{401, map[string]string{"WWW-Authenticate": `Basic realm="OpenWhisk secure realm"`}, `{"error":"The supplied authentication is invalid.","code":"` + txID + `"}`},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			wantErr: &Error{Status: 401, Message: "The supplied authentication is invalid.", Code: txID}},
		{name: "old numeric code",
			answer: answer{400, nil, `{"error":"namespace contains invalid characters","code":1422870}`},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			wantErr: &Error{Status: 400, Message: "namespace contains invalid characters", Code: "1422870"}},
		{name: "error without code",
			answer: answer{503, nil, `{"error":"overloaded"}`},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			wantErr: &Error{Status: 503, Message: "overloaded"}, errorStr: "openwhisk: 503 overloaded"},
		{name: "empty error body",
			answer: answer{500, nil, ``},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			wantErr: &Error{Status: 500}, errorStr: "openwhisk: 500 Internal Server Error"},
		{name: "long non-JSON error body is cut",
			answer: answer{500, map[string]string{"Content-Type": "text/plain"}, strings.Repeat("x", 1000)},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			wantErr: &Error{Status: 500, Message: strings.Repeat("x", errorTextMax) + "... (1000 bytes)"}},
		{name: "2xx that does not decode",
			answer: answer{200, nil, `{"not":"a list"}`},
			call:   func() (any, error) { return c.Namespaces(ctx) },
			method: "GET", uri: "/api/v1/namespaces",
			errorStr: "client: GET " + f.srv.URL + "/api/v1/namespaces: decode the reply (HTTP 200): json: cannot unmarshal object into Go value of type []string"},
		{name: "activations",
			answer: answer{200, nil, `[{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"annotations":[{"key":"kind","value":"go:default"}],"activationId":"` + actID + `","start":1,"end":13,"duration":12,"statusCode":0}]`},
			call: func() (any, error) {
				as, err := c.ListActivations(ctx, ActivationQuery{Name: "pkg/hello", Since: time.UnixMilli(1000), Upto: time.UnixMilli(2000), Limit: 10, Skip: 2}, true)
				if len(as) != 1 {
					return as, err
				}
				return []any{as[0].ActivationID, *as[0].StatusCode, as[0].Response == nil}, err
			},
			method: "GET", uri: "/api/v1/namespaces/_/activations?docs=true&limit=10&name=pkg%2Fhello&since=1000&skip=2&upto=2000",
			want: []any{actID, 0, true}},
		{name: "activation count",
			answer: answer{200, nil, `{"activations":42}`},
			call:   func() (any, error) { return c.CountActivations(ctx, ActivationQuery{Name: "hello"}) },
			method: "GET", uri: "/api/v1/namespaces/_/activations?count=true&name=hello",
			want: 42},
		{name: "activation",
			answer: answer{200, nil, activationJSON(true, "success", `{"ok":true}`)},
			call: func() (any, error) {
				a, err := c.GetActivation(ctx, actID)
				return []any{a.Name, a.Logs, string(a.Annotations.Get("initTime"))}, err
			},
			method: "GET", uri: "/api/v1/namespaces/_/activations/" + actID,
			want: []any{"hello", []string{"2024-01-01T00:00:00.000000000Z stdout: hi"}, "5"}},
		{name: "activation logs",
			answer: answer{200, nil, `{"logs":["a","b"]}`},
			call:   func() (any, error) { return c.ActivationLogs(ctx, actID) },
			method: "GET", uri: "/api/v1/namespaces/_/activations/" + actID + "/logs",
			want: []string{"a", "b"}},
		{name: "activation result",
			answer: answer{200, nil, `{"result":{"x":1},"success":true,"status":"success","size":7}`},
			call:   func() (any, error) { return c.ActivationResult(ctx, actID) },
			method: "GET", uri: "/api/v1/namespaces/_/activations/" + actID + "/result",
			want: whisk.Response{Status: "success", Success: true, Result: json.RawMessage(`{"x":1}`), Size: ptr(7)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.queue(tc.answer)
			n := len(f.requests())
			got, err := tc.call()
			reqs := f.requests()
			require.Len(t, reqs, n+1, "one request")
			r := reqs[n]
			require.Equal(t, tc.method, r.Method)
			require.Equal(t, tc.uri, r.URI)
			require.Equal(t, "application/json", r.Header.Get("Accept"))
			require.Equal(t, "marvel-test", r.Header.Get("User-Agent"))
			if tc.noAuth {
				require.False(t, r.HasAuth, "no credentials on %s", tc.uri)
			} else {
				require.True(t, r.HasAuth)
				require.Equal(t, guestUser, r.User)
				require.Equal(t, guestKey, r.Pass)
			}
			if tc.body != "" {
				require.Equal(t, "application/json", r.Header.Get("Content-Type"))
				require.JSONEq(t, tc.body, r.Body)
			} else {
				require.Empty(t, r.Body)
			}
			switch {
			case tc.wantErr != nil:
				require.Error(t, err)
				switch want := tc.wantErr.(type) {
				case *Error:
					var e *Error
					require.True(t, errors.As(err, &e), "%T %v", err, err)
					require.Equal(t, want, e)
				case *ApplicationError:
					var e *ApplicationError
					require.True(t, errors.As(err, &e), "%T %v", err, err)
					require.Equal(t, want.Status, e.Status)
					require.Equal(t, want.ActivationID, e.ActivationID)
					require.JSONEq(t, string(want.Result), string(e.Result))
				}
			case tc.errorStr != "" && tc.want == nil:
				require.Error(t, err)
			default:
				require.NoError(t, err)
			}
			if tc.errorStr != "" {
				require.EqualError(t, err, tc.errorStr)
			}
			if tc.want != nil {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func ptr[T any](v T) *T { return &v }

func TestNamespaceInPaths(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth, Namespace: "my ns"})
	f.queue(answer{200, nil, `[]`})
	_, err := c.ListActions(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "/api/v1/namespaces/my%20ns/actions", f.last(t).URI)
	_, err = c.ListActivations(t.Context(), ActivationQuery{}, false)
	require.NoError(t, err)
	require.Equal(t, "/api/v1/namespaces/my%20ns/activations", f.last(t).URI)

	f.queue(answer{200, nil, `{}`})
	_, err = c.PutAction(t.Context(), whisk.Action{Name: "a"}, true)
	require.NoError(t, err)
	require.JSONEq(t, `{"namespace":"my ns","name":"a"}`, f.last(t).Body)
}

// TestPutActionBody checks what an update sends: only what is set, and an
// empty non-nil list as [] (to clear the parameters).
func TestPutActionBody(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth})
	f.queue(answer{200, nil, `{}`})
	_, err := c.PutAction(t.Context(), whisk.Action{Name: "a", Namespace: "guest", Version: "1.2.3", Publish: true,
		Parameters: whisk.KeyValues{}, Annotations: whisk.KeyValues{}.Set("description", "hi"),
		Limits: &whisk.Limits{Memory: ptr(128)}}, true)
	require.NoError(t, err)
	require.JSONEq(t, `{"namespace":"guest","name":"a","version":"1.2.3","publish":true,"parameters":[],
		"annotations":[{"key":"description","value":"hi"}],"limits":{"memory":128}}`, f.last(t).Body)
}

func TestBadNamesSendNothing(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth})
	ctx := t.Context()
	for _, call := range []func() error{
		func() error { _, err := c.GetAction(ctx, "a//b", false); return err },
		func() error { _, err := c.PutAction(ctx, whisk.Action{Name: ""}, false); return err },
		func() error { _, err := c.DeleteAction(ctx, "a/b/c"); return err },
		func() error { _, err := c.Invoke(ctx, "/ns", nil, InvokeOptions{}); return err },
		func() error { _, err := c.GetActivation(ctx, ""); return err },
		func() error { _, err := c.ActivationLogs(ctx, ""); return err },
		func() error { _, err := c.ActivationResult(ctx, ""); return err },
	} {
		require.ErrorIs(t, call(), ErrBadName)
	}
	require.Empty(t, f.requests())
}

func TestNoAuth(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	_, err := c.GetAction(t.Context(), "hello", false)
	require.ErrorIs(t, err, ErrNoAuth)
	_, err = c.Invoke(t.Context(), "hello", nil, InvokeOptions{})
	require.ErrorIs(t, err, ErrNoAuth)
	require.Empty(t, f.requests())

	f.queue(answer{200, nil, `{"description":"OpenWhisk API"}`})
	info, err := c.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, "OpenWhisk API", info.Description)
}

func TestReplyLimit(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth, MaxReplyBytes: 1024})
	ok := `["` + strings.Repeat("n", 1020) + `"]` // exactly 1024 bytes
	require.Len(t, ok, 1024)
	f.queue(answer{200, nil, ok})
	ns, err := c.Namespaces(t.Context())
	require.NoError(t, err)
	require.Len(t, ns[0], 1020)

	f.queue(answer{200, nil, `["` + strings.Repeat("n", 1021) + `"]`})
	_, err = c.Namespaces(t.Context())
	require.ErrorIs(t, err, ErrReplyTooLarge)
	require.ErrorContains(t, err, "sent more than 1024 bytes (HTTP 200)")

	// An error reply is bounded too.
	f.queue(answer{500, nil, strings.Repeat("e", 5000)})
	_, err = c.Namespaces(t.Context())
	require.ErrorIs(t, err, ErrReplyTooLarge)
}

func TestDefaultReplyLimit(t *testing.T) {
	c, err := New(Config{APIHost: "h"})
	require.NoError(t, err)
	require.EqualValues(t, 64<<20, c.Config().MaxReplyBytes)
}

func TestWaitActivation(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth})
	missing := answer{404, nil, `{"error":"The requested resource does not exist.","code":"` + txID + `"}`}
	f.queue(missing, missing, answer{200, nil, activationJSON(true, "success", `{}`)})
	a, err := c.WaitActivation(t.Context(), actID, time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, actID, a.ActivationID)
	require.Len(t, f.requests(), 3)

	// Another error ends the wait at once.
	f.queue(answer{403, nil, `{"error":"forbidden","code":"` + txID + `"}`})
	_, err = c.WaitActivation(t.Context(), actID, time.Millisecond)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 403, e.Status)
}

func TestWaitActivationCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		if calls == 3 {
			cancel()
		}
		mu.Unlock()
		w.WriteHeader(404)
		io.WriteString(w, `{"error":"The requested resource does not exist.","code":"x"}`)
	}))
	defer srv.Close()
	c, err := New(Config{APIHost: srv.URL, Auth: guestAuth})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, err = c.WaitActivation(ctx, actID, time.Millisecond)
	require.ErrorIs(t, err, context.Canceled)
}

func TestTransportError(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Auth: guestAuth})
	f.srv.Close()
	_, err := c.Namespaces(t.Context())
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "client: Get \""+f.srv.URL+"/api/v1/namespaces\""), err.Error())
	require.NotContains(t, err.Error(), guestKey)
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(Config{APIHost: srv.URL, Auth: guestAuth, RequestTimeout: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, err = c.Namespaces(t.Context())
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   Error
		str    string
	}{
		{404, `{"error":"The requested resource does not exist.","code":"abc"}`, Error{404, "The requested resource does not exist.", "abc"},
			"openwhisk: 404 The requested resource does not exist. (code abc)"},
		{400, `{"error":"bad","code":17}`, Error{400, "bad", "17"}, "openwhisk: 400 bad (code 17)"},
		{400, `{"error":"bad","code":null}`, Error{400, "bad", ""}, "openwhisk: 400 bad"},
		{400, `{"error":{"nested":1},"code":"c"}`, Error{400, `{"nested":1}`, "c"}, `openwhisk: 400 {"nested":1} (code c)`},
		{500, `  plain text  `, Error{500, "plain text", ""}, "openwhisk: 500 plain text"},
		{500, `{"message":"not ours"}`, Error{500, `{"message":"not ours"}`, ""}, `openwhisk: 500 {"message":"not ours"}`},
		{504, ``, Error{504, "", ""}, "openwhisk: 504 Gateway Timeout"},
	} {
		got := replyError(tc.status, []byte(tc.body))
		require.Equal(t, tc.want, *got, tc.body)
		require.Equal(t, tc.str, got.Error(), tc.body)
	}
	require.Equal(t, strings.Repeat("é", 150), cut(strings.Repeat("é", 150)))
	long := cut(strings.Repeat("é", 200)) // 400 bytes: cut on a rune boundary
	require.True(t, strings.HasPrefix(long, strings.Repeat("é", 150)+"... (400 bytes)"), long)
	require.Equal(t, "openwhisk: 502 application error in activation (unknown): null",
		(&ApplicationError{Status: 502, Result: json.RawMessage("null")}).Error())
}

func FuzzReplyError(f *testing.F) {
	f.Add(404, []byte(`{"error":"x","code":"y"}`))
	f.Add(502, []byte(`{"error":"boom"}`))
	f.Add(500, []byte("\xff\xfe<html>"))
	f.Add(400, []byte(`{"error":null,"code":[1]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := replyError(status, body)
		limit := errorTextMax + len("... (12345678901234567890 bytes)")
		if e.Status != status || len(e.Message) > limit || len(e.Code) > limit {
			t.Fatalf("bad error %#v", e)
		}
		_ = e.Error()
		_ = hasCode(body)
	})
}
