package conformance_test

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestGoSource sends Go source to /init, which compiles it with the SDK's
// launcher.
func TestGoSource(t *testing.T) {
	if testing.Short() {
		t.Skip("compiling Go source at /init takes tens of seconds; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH: the runtime cannot compile Go source")
	}
	t.Parallel()
	echo := fixtureFile(t, moduleRoot+"/actions/echo/action.go")

	t.Run("echo source", func(t *testing.T) {
		t.Parallel()
		r := startRuntime(t, runtimeConfig{})
		res := r.postTimeout(t, "/init", map[string]any{"value": initReq{Name: "echo", Main: "main", Code: echo, Binary: ptr(false)}}, buildTimeout)
		wantBody(t, "init with Go source", res, http.StatusOK, bodyOK)
		wantJSON(t, "run", r.run(t, map[string]any{"string": "❄ ☃ ❄"}, nil), `{"string":"❄ ☃ ❄"}`)
		r.stopAndCountSentinels(t, 1)
	})
	t.Run("non-default main", func(t *testing.T) {
		t.Parallel()
		r := startRuntime(t, runtimeConfig{})
		res := r.postTimeout(t, "/init", map[string]any{"value": initReq{Name: "niam", Main: "niam", Code: fixture(t, "niam.go.src"), Binary: ptr(false)}}, buildTimeout)
		wantBody(t, "init with main niam", res, http.StatusOK, bodyOK)
		wantJSON(t, "run", r.run(t, map[string]any{"a": 1}, nil), `{"niam":true,"args":{"a":1}}`)
		r.stopAndCountSentinels(t, 1)
	})
	t.Run("does not compile", func(t *testing.T) {
		t.Parallel()
		r := startRuntime(t, runtimeConfig{})
		res := r.postTimeout(t, "/init", map[string]any{"value": initReq{Name: "broken", Main: "main", Code: fixture(t, "broken.go.src"), Binary: ptr(false)}}, buildTimeout)
		wantError(t, "init with source that does not compile", res, http.StatusBadGateway)
		r.stderr.waitFor(t, "the compiler's message on stderr", waitTimeout, func(s string) bool {
			return strings.Contains(s, "undefined: notDefinedAnywhere")
		})
		wantBody(t, "run", r.run(t, map[string]any{}, nil), http.StatusInternalServerError, bodyNoAction)
		r.stopAndCountSentinels(t, 1)
	})
}
