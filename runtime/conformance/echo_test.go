package conformance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestEcho runs the precompiled echo action: values come back identical,
// with exactly one sentinel pair per run, last on both streams.
func TestEcho(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initAction(t, "echo", nil)
	runs := 0
	check := func(t *testing.T, what string, res response, want string) {
		t.Helper()
		wantJSON(t, what, res, want)
		runs++
		r.waitSentinels(t, runs)
	}

	for _, v := range []string{
		`{"string":"hello"}`,
		`{"string":"❄ ☃ ❄"}`,
		`{"numbers":[42,1]}`,
		`{"object":{"a":"A"}}`,
		`{}`,
	} {
		t.Run(v, func(t *testing.T) {
			check(t, "echo", r.post(t, "/run", `{"value":`+v+`}`), v)
		})
	}
	t.Run("large argument", func(t *testing.T) {
		big := strings.Repeat("x", 1048561)
		res := r.run(t, map[string]any{"arg": big}, nil)
		var got map[string]string
		if err := json.Unmarshal(res.Body, &got); res.Status != http.StatusOK || err != nil || got["arg"] != big {
			t.Errorf("echo of a %d-character string: status %d, %d bytes back (err %v)", len(big), res.Status, len(res.Body), err)
		}
		runs++
		r.waitSentinels(t, runs)
	})
	t.Run("newlines in the body", func(t *testing.T) {
		body, err := json.MarshalIndent(map[string]any{
			"value":         map[string]any{"object": map[string]any{"a": "A", "list": []any{1, 2}}, "text": "line 1\nline 2"},
			"namespace":     "",
			"activation_id": "0123456789abcdef0123456789abcdef",
		}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "\n") {
			t.Fatal("the pretty-printed body has no newline")
		}
		check(t, "echo of a pretty-printed body", r.post(t, "/run", body), `{"object":{"a":"A","list":[1,2]},"text":"line 1\nline 2"}`)
	})
	t.Run("unknown top-level keys", func(t *testing.T) {
		check(t, "echo", r.post(t, "/run", `{"value":{"k":"v"},"some_future_field":{"x":1}}`), `{"k":"v"}`)
	})
	r.stopAndCountSentinels(t, runs)
}

// TestConcurrentRuns sends 64 /run calls at once to echo: each gets its own
// value back, and there are 64 sentinel pairs.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initAction(t, "echo", nil)
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf(`{"i":%d,"s":"value %d %s"}`, i, i, strings.Repeat("ab", i*50))
			res, err := r.do(t, http.MethodPost, "/run", `{"value":`+want+`}`, runTimeout)
			if err != nil {
				t.Errorf("run %d: %v", i, err)
				return
			}
			wantJSON(t, fmt.Sprintf("run %d", i), res, want)
		}()
	}
	wg.Wait()
	r.waitSentinels(t, n)
	r.stopAndCountSentinels(t, n)
}
