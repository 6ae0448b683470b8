package conformance_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestHTTP checks the answers to requests that are not POST /init or
// POST /run: JSON errors with the right status.
func TestHTTP(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initAction(t, "echo", nil)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/run", http.StatusMethodNotAllowed},
		{http.MethodPut, "/run", http.StatusMethodNotAllowed},
		{http.MethodGet, "/init", http.StatusMethodNotAllowed},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodPost, "/nowhere", http.StatusNotFound},
		{http.MethodGet, "/run/extra", http.StatusNotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res, err := r.do(t, tc.method, tc.path, nil, runTimeout)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, tc.method+" "+tc.path, res, tc.status)
		})
	}
	// None of them was an activation.
	wantJSON(t, "run", r.run(t, map[string]any{"k": "v"}, nil), `{"k":"v"}`)
	r.waitSentinels(t, 1)

	t.Run("POST /run with invalid JSON", func(t *testing.T) {
		res := r.post(t, "/run", `{"value": {"k": `)
		msg := wantError(t, "run with invalid JSON", res, http.StatusBadRequest)
		if !strings.HasPrefix(msg, "Error unmarshaling request") {
			t.Errorf("error %q does not start with \"Error unmarshaling request\"", msg)
		}
	})
	wantJSON(t, "run", r.run(t, map[string]any{"k": "w"}, nil), `{"k":"w"}`)
	r.stopAndCountSentinels(t, 3)
}
