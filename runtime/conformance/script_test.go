package conformance_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScript inits a #!/bin/bash ActionLoop script in each way an action can
// arrive, and runs it.
func TestScript(t *testing.T) {
	t.Parallel()
	hello := fixture(t, "hello.sh")
	zipped, err := zipFiles(zipEntry{Name: "exec", Body: []byte(hello), Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		v    initReq
	}{
		{"base64", initReq{Main: "main", Code: b64(hello), Binary: ptr(true)}},
		{"plain text", initReq{Main: "main", Code: hello, Binary: ptr(false)}},
		{"plain text, binary unset", initReq{Main: "main", Code: hello}},
		{"zip with exec script", initReq{Main: "main", Code: b64(string(zipped)), Binary: ptr(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := startRuntime(t, runtimeConfig{})
			wantBody(t, "init", r.init(t, tc.v), http.StatusOK, bodyOK)
			wantBody(t, "run Demo", r.run(t, map[string]any{"name": "Demo"}, nil), http.StatusOK, `{"main":"Hello, Demo"}`)
			wantBody(t, "run again", r.run(t, map[string]any{"name": "Again"}, nil), http.StatusOK, `{"main":"Hello, Again"}`)
			r.waitSentinels(t, 2)
			r.stopAndCountSentinels(t, 2)
		})
	}
}

// TestArrays checks array results and array values.
func TestArrays(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "array.sh"), nil)
	wantBody(t, "array result", r.run(t, map[string]any{}, nil), http.StatusOK, `["a","b"]`)
	wantBody(t, "array value", r.run(t, []any{"x", "y", 3}, nil), http.StatusOK, `["x","y",3]`)
	r.stopAndCountSentinels(t, 2)
}

// TestNonDictionaryResults checks that an answer that is not a JSON object
// or array is refused with the exact body, and that an application error
// passes through unchanged.
func TestNonDictionaryResults(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "results.sh"), nil)
	runs := 0
	for _, reply := range []string{"null", "number", "string", "true", "invalid", "empty"} {
		t.Run(reply, func(t *testing.T) {
			wantBody(t, "run", r.run(t, map[string]any{"reply": reply}, nil), http.StatusBadGateway, bodyNotDict)
			runs++
			r.waitSentinels(t, runs)
		})
	}
	t.Run("error object", func(t *testing.T) {
		wantBody(t, "run", r.run(t, map[string]any{"reply": "error"}, nil), http.StatusOK, `{"error":"boom"}`)
		runs++
	})
	t.Run("still serving", func(t *testing.T) {
		wantBody(t, "run", r.run(t, map[string]any{}, nil), http.StatusOK, `{"reply":"default"}`)
		runs++
		r.waitSentinels(t, runs)
	})
	r.stopAndCountSentinels(t, runs)
}

// TestActionOutput checks that what the action prints reaches the runtime's
// stdout and stderr, Unicode intact, before that run's sentinel.
func TestActionOutput(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "output.sh"), nil)
	const runs = 3
	for i := 1; i <= runs; i++ {
		wantJSON(t, "run", r.run(t, map[string]any{}, nil), fmt.Sprintf(`{"run":%d}`, i))
		r.waitSentinels(t, i)
	}
	r.stopAndCountSentinels(t, runs)
	for _, s := range []struct {
		name, text, line string
	}{
		{"stdout", r.stdout.String(), "action stdout ❄ ☃ ❄ run %d"},
		{"stderr", r.stderr.String(), "action stderr ☃ run %d"},
	} {
		// Activation k's logs are the lines after sentinel k-1, up to
		// sentinel k; each must hold the action's line of run k, once.
		act := 1
		seen := 0
		for _, l := range lines(s.text) {
			switch {
			case l == Sentinel:
				if seen != 1 {
					t.Errorf("%s: activation %d's logs hold its line %d times, want once:\n%s", s.name, act, seen, s.text)
				}
				act, seen = act+1, 0
			case l == fmt.Sprintf(s.line, act):
				seen++
			case strings.Contains(l, "run "):
				t.Errorf("%s: line %q is in activation %d's logs", s.name, l, act)
			}
		}
	}
}

// TestCrash checks that an action process that exits in the middle of an
// activation fails that activation with a JSON error (no hang), and that the
// next activation runs in a new process.
func TestCrash(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "misbehave.sh"), nil)
	first := decode(t, "run before the crash", r.run(t, map[string]any{}, nil))

	res := r.postTimeout(t, "/run", map[string]any{"value": map[string]any{"crash": true}}, 10*time.Second)
	if res.Status == http.StatusOK {
		t.Errorf("run that crashes: got %s, want an error status", res)
	}
	r.waitSentinels(t, 2)
	r.stderr.waitFor(t, "the action's last words", waitTimeout, func(s string) bool {
		return strings.Contains(s, "misbehave.sh: exiting in the middle of an activation")
	})

	after := decode(t, "run after the crash", r.run(t, map[string]any{}, nil))
	if after["alive"] != true {
		t.Errorf("run after the crash: got %v", after)
	}
	if after["pid"] == first["pid"] {
		t.Errorf("run after the crash answered from pid %v, the process that crashed", after["pid"])
	}
	wantJSON(t, "another run", r.run(t, map[string]any{}, nil), fmt.Sprintf(`{"alive":true,"pid":%v}`, after["pid"]))
	r.stopAndCountSentinels(t, 4)
}

// TestDeadline checks that an activation that overruns its deadline is
// stopped soon after it, with a JSON error, and that the next one runs.
func TestDeadline(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "misbehave.sh"), nil)
	first := decode(t, "run before", r.run(t, map[string]any{}, nil))

	start := time.Now()
	deadline := strconv.FormatInt(start.Add(300*time.Millisecond).UnixMilli(), 10)
	res := r.postTimeout(t, "/run", map[string]any{"value": map[string]any{"sleep": true}, "deadline": deadline}, 10*time.Second)
	took := time.Since(start)
	wantError(t, "run past its deadline", res, http.StatusBadGateway)
	if took > 5*time.Second {
		t.Errorf("the run past its 300 ms deadline took %v to answer", took)
	}
	t.Logf("the run past its 300 ms deadline answered after %v: %s", took.Round(time.Millisecond), res)

	after := decode(t, "run after the deadline", r.run(t, map[string]any{}, map[string]any{
		"deadline": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10),
	}))
	if after["alive"] != true || after["pid"] == first["pid"] {
		t.Errorf("run after the deadline: got %v, want an answer from a new process (the old one was pid %v)", after, first["pid"])
	}
	r.stopAndCountSentinels(t, 3)
}

// TestExitBetweenActivations runs an action whose process exits right after
// answering (an action that crashes between activations). Every activation
// must still succeed: the request reaches a new process, started because
// the old one is gone, and no activation fails for a death it did not see.
func TestExitBetweenActivations(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initScript(t, fixture(t, "oneshot.sh"), nil)
	const runs = 20
	failed := 0
	for i := range runs {
		res := r.run(t, map[string]any{"i": i}, nil)
		if res.Status != http.StatusOK {
			failed++
			t.Logf("run %d: %s", i, res)
			continue
		}
		wantBody(t, fmt.Sprintf("run %d", i), res, http.StatusOK, `{"done":true}`)
	}
	if failed > 0 {
		t.Errorf("%d of %d activations failed because the process of the previous one had exited after answering; want a new process for each", failed, runs)
	}
	r.stopAndCountSentinels(t, runs)
}
