package conformance_test

import (
	"net/http"
	"testing"
)

// TestBlackbox starts a runtime with a built-in function (a blackbox image
// with the action baked in): /init without code succeeds and runs it.
func TestBlackbox(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"value":{}}`, `{}`, `{"value":{"name":"echo","main":"main","env":{"K":"v"}}}`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			r := startRuntime(t, runtimeConfig{args: []string{"--builtin", actionExec["echo"]}})
			wantBody(t, "init without code", r.post(t, "/init", body), http.StatusOK, bodyOK)
			wantJSON(t, "run", r.run(t, map[string]any{"string": "hello"}, nil), `{"string":"hello"}`)
			wantBody(t, "second init", r.post(t, "/init", body), http.StatusForbidden, bodyInitTwice)
			r.stopAndCountSentinels(t, 1)
		})
	}
}
