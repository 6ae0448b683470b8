package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// TestClientVanishes: a client that goes away in the middle of a blocking
// invoke, whether its action is warm and running or is still being
// started and initialised (a cold start, /init), takes nothing with it:
// the activation runs to its end and is recorded, and the next invoke of
// the action is served by a fully initialised instance.
func TestClientVanishes(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "probe", "probe", nil)

	// leave sends a blocking invoke and hangs up after d, before the
	// answer; it returns whether the reply came first anyway.
	leave := func(name string, params any, d time.Duration) bool {
		t.Helper()
		b, _ := json.Marshal(params)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost,
			s.host+"/api/v1/namespaces/_/actions/"+name+"?blocking=true", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		u, k, _ := strings.Cut(guestKey, ":")
		req.SetBasicAuth(u, k)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	// recorded waits for the activation of name whose result has tag,
	// and returns it.
	recorded := func(name, tag string) whisk.Activation {
		t.Helper()
		var found whisk.Activation
		err := eventually(20*time.Second, func() error {
			var acts []whisk.Activation
			r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?docs=true&limit=200&name="+name, nil)
			if err := json.Unmarshal(r.body, &acts); err != nil {
				return fmt.Errorf("activations: %v: %s", err, r.body)
			}
			for _, a := range acts {
				if a.Response != nil && bytes.Contains(a.Response.Result, []byte(tag)) {
					found = a
					return nil
				}
			}
			return fmt.Errorf("no activation of %s with %s among %d", name, tag, len(acts))
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}

	// Mid-run: the action sleeps 1.5 s; the client leaves after 300 ms.
	if leave("probe", map[string]any{"op": "sleep", "ms": 1500}, 300*time.Millisecond) {
		t.Fatal("the invoke answered before its action could have ended")
	}
	a := recorded("probe", `"slept":1500`)
	if !a.Response.Success || a.Duration < 1500 {
		t.Errorf("the activation the client left: success %v, duration %d ms, result %s; want a success of at least 1500 ms",
			a.Response.Success, a.Duration, a.Response.Result)
	}

	// Mid-start: every update makes the next invoke a cold start (a new
	// runtime, /init); the client leaves at various points of it. Each
	// activation is still recorded, and the next invoke is answered by an
	// instance that was initialised whole.
	for i, d := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		wantStatus(t, "update", s.putAction(t, guestKey, "probe", "probe", true, nil), http.StatusOK)
		tag := fmt.Sprintf("mid-start-%d", i)
		answered := leave("probe", map[string]any{"op": "echo", "tag": tag}, d)
		got := recorded("probe", tag)
		if !got.Response.Success {
			t.Errorf("left after %v (answered: %v): the activation failed: %s", d, answered, got.Response.Result)
		}
		next := s.result(t, "probe", map[string]any{"op": "echo", "tag": tag + "-next"})
		if args, _ := next["args"].(map[string]any); args["tag"] != tag+"-next" {
			t.Errorf("after leaving at %v: the next invoke answered %v", d, next)
		}
	}
	s.wantServes(t)
}
