package conformance_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStopDuringActivation sends SIGTERM while an activation is running (an
// action sleeping 30 s, with a deadline a minute away). The runtime must
// still stop promptly: exit with status 0 within 10 s, end the in-flight
// activation, and leave no process of the action behind.
func TestStopDuringActivation(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "misbehave.sh"), nil)
	type result struct {
		res response
		err error
	}
	done := make(chan result, 1)
	go func() {
		deadline := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
		res, err := r.do(t, http.MethodPost, "/run", map[string]any{"value": map[string]any{"sleep": true}, "deadline": deadline}, 2*time.Minute)
		done <- result{res, err}
	}()
	r.stderr.waitFor(t, "the activation to start", waitTimeout, func(s string) bool {
		return strings.Contains(s, "misbehave.sh: sleeping")
	})

	start := time.Now()
	r.stopWithin = 10 * time.Second
	r.stop()
	t.Logf("the runtime stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	select {
	case got := <-done:
		switch {
		case got.err != nil:
			t.Logf("the in-flight activation ended with %v", got.err)
		case got.res.Status == http.StatusOK:
			t.Errorf("the in-flight activation succeeded (%s) though its action was still sleeping", got.res)
		default:
			t.Logf("the in-flight activation was answered %s", got.res)
		}
	case <-time.After(waitTimeout):
		t.Errorf("the in-flight activation is still pending %v after the runtime stopped", waitTimeout)
	}
}
