package conformance_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestInitFailures sends /init requests that must all fail on one runtime,
// which must stay uninitialised through them (each answer is a JSON error,
// and /run says there is no action), and then accept a good /init.
func TestInitFailures(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	runs := 0

	t.Run("empty request", func(t *testing.T) {
		wantBody(t, "init {}", r.post(t, "/init", `{}`), http.StatusForbidden, bodyMissingMain)
	})
	t.Run("empty value", func(t *testing.T) {
		wantBody(t, `init {"value":{}}`, r.post(t, "/init", `{"value":{}}`), http.StatusForbidden, bodyMissingMain)
	})
	t.Run("run before init", func(t *testing.T) {
		wantBody(t, "run", r.run(t, map[string]any{}, nil), http.StatusInternalServerError, bodyNoAction)
		runs++
		r.waitSentinels(t, runs)
	})
	t.Run("invalid JSON", func(t *testing.T) {
		res := r.post(t, "/init", `{"value": {"code": "x"`)
		msg := wantError(t, "init with invalid JSON", res, http.StatusBadRequest)
		if !strings.HasPrefix(msg, "Error unmarshaling request") {
			t.Errorf("error %q does not start with \"Error unmarshaling request\"", msg)
		}
	})
	t.Run("bad base64", func(t *testing.T) {
		res := r.init(t, initReq{Main: "main", Code: "!!!! not base64 !!!!", Binary: ptr(true)})
		msg := wantError(t, "init with bad base64", res, http.StatusBadRequest)
		if !strings.HasPrefix(msg, "cannot decode the request: ") {
			t.Errorf("error %q does not start with \"cannot decode the request: \"", msg)
		}
	})
	t.Run("zip without exec or Go source", func(t *testing.T) {
		z, err := zipFiles(zipEntry{Name: "README.txt", Body: []byte("no action here\n"), Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		res := r.init(t, initReq{Main: "main", Code: b64(string(z)), Binary: ptr(true)})
		wantError(t, "init with an empty-handed zip", res, http.StatusBadGateway)
	})
	t.Run("exec exits at start", func(t *testing.T) {
		res := r.init(t, initReq{Main: "main", Code: b64(fixture(t, "exit3.sh")), Binary: ptr(true)})
		wantError(t, "init of a script that exits", res, http.StatusBadGateway, "exited")
	})
	t.Run("ack is not ok", func(t *testing.T) {
		res := r.init(t, initReq{Main: "main", Code: b64(fixture(t, "badack.sh")), Binary: ptr(true)})
		wantError(t, `init of a script that acknowledges with {}`, res, http.StatusBadGateway)
	})
	t.Run("run still has no action", func(t *testing.T) {
		wantBody(t, "run", r.run(t, map[string]any{}, nil), http.StatusInternalServerError, bodyNoAction)
		runs++
		r.waitSentinels(t, runs)
	})
	t.Run("good init after the failures", func(t *testing.T) {
		r.initAction(t, "echo", nil)
		wantJSON(t, "run echo", r.run(t, map[string]any{"string": "hello"}, nil), `{"string":"hello"}`)
		runs++
		r.waitSentinels(t, runs)
	})
	r.stopAndCountSentinels(t, runs)
}

// TestInitTwice checks that a second /init is refused with the exact body,
// the reason logged on stderr, and no sentinel.
func TestInitTwice(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initAction(t, "echo", nil)
	wantJSON(t, "run 1", r.run(t, map[string]any{"n": 1}, nil), `{"n":1}`)
	r.waitSentinels(t, 1)

	wantBody(t, "second init", r.init(t, initReq{Main: "main", Code: actionZip["echo"], Binary: ptr(true)}), http.StatusForbidden, bodyInitTwice)
	wantBody(t, "init {} after init", r.post(t, "/init", `{}`), http.StatusForbidden, bodyInitTwice)
	r.stderr.waitFor(t, "the refusal on stderr", waitTimeout, func(s string) bool { return strings.Count(s, msgInitTwice) >= 2 })

	// The refused inits wrote no sentinel: after one more run (whose
	// sentinels come after anything the refusals wrote) there are 2.
	wantJSON(t, "run 2", r.run(t, map[string]any{"n": 2}, nil), `{"n":2}`)
	r.waitSentinels(t, 2)
	r.stopAndCountSentinels(t, 2)
}

// TestConcurrentInit sends 16 /init at once: exactly one succeeds, the others
// are refused as second inits.
func TestConcurrentInit(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	const n = 16
	var wg sync.WaitGroup
	res := make([]response, n)
	errs := make([]error, n)
	body, err := json.Marshal(map[string]any{"value": initReq{Main: "main", Code: actionZip["echo"], Binary: ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = r.do(t, http.MethodPost, "/init", body, runTimeout)
		}()
	}
	wg.Wait()
	ok := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("init %d: %v", i, errs[i])
			continue
		}
		if res[i].Status == http.StatusOK {
			ok++
			wantBody(t, "the successful init", res[i], http.StatusOK, bodyOK)
			continue
		}
		wantBody(t, "a concurrent init", res[i], http.StatusForbidden, bodyInitTwice)
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent inits succeeded, want exactly 1", ok, n)
	}
	wantJSON(t, "run", r.run(t, map[string]any{"x": "y"}, nil), `{"x":"y"}`)
	r.stopAndCountSentinels(t, 1)
}
