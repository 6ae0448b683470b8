package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIsolation runs an action of namespace "other" that tries to read
// guest's state region and list guest's files, with --isolate true: both
// are refused by the kernel (permission denied), while its own files
// directory is open to it.
func TestIsolation(t *testing.T) {
	_, data, guestProbe, spy := isolatedSpy(t)
	region := filepath.Join(data, "fn+guest+counter.region")
	guestFiles := filepath.Join(data, "fs", "guest")
	for _, p := range []string{region, guestFiles} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("guest's state is not where the test looks: %v", err)
		}
	}
	got := spy(map[string]any{"op": "open", "file": region, "dir": guestFiles})
	for _, k := range []string{"file", "dir"} {
		if msg, _ := got[k].(string); !strings.Contains(msg, "permission denied") {
			t.Errorf("other's action reading %s of guest: %q, want permission denied", k, got[k])
		}
	}
	got = spy(map[string]any{"op": "open", "file": filepath.Join(data, ".uids"), "dir": data})
	for _, k := range []string{"file", "dir"} {
		if msg, _ := got[k].(string); !strings.Contains(msg, "permission denied") {
			t.Errorf("other's action reading the data directory's %s: %q, want permission denied", k, got[k])
		}
	}

	// The control: its own files are open to it, and it runs as a user of
	// its own, neither root nor guest's.
	env, _ := spy(map[string]any{"op": "env"})["env"].(map[string]any)
	own, _ := env["MARVEL_FILES_DIR"].(string)
	if own == "" {
		t.Fatalf("other's action has no MARVEL_FILES_DIR: %v", env)
	}
	got = spy(map[string]any{"op": "open", "dir": own, "file": "/dev/null"})
	if got["dir"] != "" || got["file"] != "" {
		t.Errorf("other's action cannot list its own files directory %s: %v", own, got)
	}
	if got["uid"] == 0.0 || got["uid"] == guestProbe["uid"] {
		t.Errorf("other's action runs as uid %v (guest's as %v), want a user of its own", got["uid"], guestProbe["uid"])
	}
	if guestProbe["uid"] == 0.0 {
		t.Errorf("guest's action runs as root under --isolate true")
	}
}

// isolatedSpy starts a standalone with --isolate true (skipping the test
// unless it runs as root) where guest has a counter, counted once (so its
// region exists and its instance is warm), and the probe, whose answer to
// "env" it returns; and namespace "other" has the probe as "spy", which
// spy invokes (blocking, result only, 200 required).
func isolatedSpy(t *testing.T) (s *standalone, data string, guestEnv map[string]any, spy func(map[string]any) map[string]any) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("--isolate runs actions as other users, which needs root: skipped (run the tests as root)")
	}
	t.Parallel()
	data = newDataDir(t)
	s = startStandalone(t, data, "--isolate", "true")
	s.mustPut(t, "counter", "counter", nil)
	s.mustCount(t, "counter", 1)
	s.mustPut(t, "probe", "probe", nil)
	guestEnv = s.result(t, "probe", map[string]any{"op": "env"})
	wantStatus(t, "other creates spy", s.putAction(t, otherKey, "spy", "probe", false, nil), http.StatusOK)
	spy = func(params map[string]any) map[string]any {
		t.Helper()
		r := s.do(t, otherKey, http.MethodPost, "/api/v1/namespaces/_/actions/spy?blocking=true&result=true", params)
		wantStatus(t, "spy", r, http.StatusOK)
		return object(t, "spy", r)
	}
	return s, data, guestEnv, spy
}
