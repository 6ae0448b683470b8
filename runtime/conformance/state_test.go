package conformance_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// owEnv is the init env the platform sends for action (/ns/name) invoked
// from namespace ns.
func owEnv(ns, action string) map[string]any {
	return map[string]any{"__OW_NAMESPACE": ns, "__OW_ACTION_NAME": action}
}

// owRun is a /run's activation fields for action invoked from ns.
func owRun(ns, action string) map[string]any {
	return map[string]any{"namespace": ns, "action_name": action, "activation_id": "00000000000000000000000000000001"}
}

// count runs the counter with by and returns the count and the state's
// cache hits.
func count(t *testing.T, r *marvelRuntime, by int, ctx map[string]any) (float64, float64) {
	t.Helper()
	m := decode(t, "counter run", r.run(t, map[string]any{"by": by}, ctx))
	n, ok := m["count"].(float64)
	if !ok {
		t.Fatalf("counter answered %v, with no count", m)
	}
	st, _ := m["state"].(map[string]any)
	hits, _ := st["hits"].(float64)
	return n, hits
}

func wantCount(t *testing.T, r *marvelRuntime, by int, ctx map[string]any, want float64) float64 {
	t.Helper()
	got, hits := count(t, r, by, ctx)
	if got != want {
		t.Errorf("counter by %d: count %v, want %v", by, got, want)
	}
	return hits
}

func wantFile(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("want the region file %s: %v", path, err)
	}
}

// TestState runs the counter: its count lives in the region of its
// namespace and name, warm runs hit the cache, activations of another
// identity are refused, and the count survives a restart of the runtime.
func TestState(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := owEnv("guest", "/guest/counter")
	ctx := owRun("guest", "/guest/counter")

	r := startRuntime(t, runtimeConfig{data: data})
	r.initAction(t, "counter", env)
	h1 := wantCount(t, r, 2, ctx, 2)
	h2 := wantCount(t, r, 2, ctx, 4)
	h3 := wantCount(t, r, 2, nil, 6) // a harness that sends no context
	if !(h1 <= h2 && h2 <= h3 && h1 < h3) {
		t.Errorf("state.hits over three warm runs: %v, %v, %v; want it to grow (a warm cache)", h1, h2, h3)
	}
	wantFile(t, filepath.Join(data, "fn+guest+counter.region"))

	t.Run("another identity", func(t *testing.T) {
		for _, other := range []map[string]any{
			owRun("other", "/other/counter"),
			owRun("guest", "/guest/other"),
			owRun("other", "/guest/counter"),
		} {
			wantError(t, "run of another identity", r.run(t, map[string]any{"by": 2}, other), http.StatusForbidden)
		}
		wantCount(t, r, 2, ctx, 8)
	})
	r.stopAndCountSentinels(t, 7)

	t.Run("after a restart", func(t *testing.T) {
		r2 := startRuntime(t, runtimeConfig{data: data})
		r2.initAction(t, "counter", env)
		wantCount(t, r2, 2, ctx, 10)
		r2.stopAndCountSentinels(t, 1)
	})
	t.Run("bound at the first run", func(t *testing.T) {
		r3 := startRuntime(t, runtimeConfig{data: data})
		r3.initAction(t, "counter", nil)
		wantCount(t, r3, 2, ctx, 12)
		wantCount(t, r3, 2, ctx, 14)
		wantError(t, "run of another identity", r3.run(t, map[string]any{"by": 2}, owRun("other", "/other/counter")), http.StatusForbidden)
		r3.stopAndCountSentinels(t, 3)
	})
}

// TestStateNamespaces runs /guest/counter and /other/counter side by side:
// distinct regions, independent counts.
func TestStateNamespaces(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	g := startRuntime(t, runtimeConfig{data: data})
	o := startRuntime(t, runtimeConfig{data: data})
	g.initAction(t, "counter", owEnv("guest", "/guest/counter"))
	o.initAction(t, "counter", owEnv("other", "/other/counter"))
	gc, oc := owRun("guest", "/guest/counter"), owRun("other", "/other/counter")
	wantCount(t, g, 1, gc, 1)
	wantCount(t, o, 5, oc, 5)
	wantCount(t, g, 1, gc, 2)
	wantCount(t, o, 5, oc, 10)
	wantFile(t, filepath.Join(data, "fn+guest+counter.region"))
	wantFile(t, filepath.Join(data, "fn+other+counter.region"))
	g.stopAndCountSentinels(t, 2)
	o.stopAndCountSentinels(t, 2)
}

// TestStateSurvivesKill kills the counter's idle process with SIGKILL
// between activations: the next activation runs in a new process and the
// count goes on.
func TestStateSurvivesKill(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initAction(t, "counter", owEnv("guest", "/guest/counter"))
	ctx := owRun("guest", "/guest/counter")
	wantCount(t, r, 1, ctx, 1)
	want, runs := 1.0, 1

	t.Run("run after the killed process is reaped", func(t *testing.T) {
		for range 3 {
			pid := r.actionPid(t)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 %d: %v", pid, err)
			}
			waitGone(t, pid)
			want++
			runs++
			wantCount(t, r, 1, ctx, want)
			if np := r.actionPid(t); np == pid {
				t.Errorf("the action process is still pid %d", pid)
			}
		}
	})
	// SIGKILL reaches the idle process blocked reading stdin. If it is gone
	// before the request arrives, none of the request was read and the
	// runtime hands it to a new process: 200. But the kernel may wake the
	// dying process for the request's bytes before the kill takes effect;
	// it then dies having read them, and as the runtime cannot know whether
	// the action acted on them, it reports the activation failed rather
	// than run it twice. Either way nothing hangs, the count never jumps
	// and never goes back, and the next activation works.
	t.Run("run right after kill -9", func(t *testing.T) {
		resent := 0
		for i := range 5 {
			pid := r.actionPid(t)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 %d: %v", pid, err)
			}
			res := r.run(t, map[string]any{"by": 1}, ctx)
			runs++
			if res.Status != http.StatusOK {
				if !strings.Contains(string(res.Body), "The action process exited during the activation (signal: killed)") {
					t.Fatalf("run %d right after kill -9: got %s, want 200, or 502 saying the process was killed", i, res)
				}
				waitGone(t, pid)
				got, _ := count(t, r, 0, ctx) // reads the count without adding
				runs++
				if got != want {
					t.Fatalf("run %d: after a failed activation the count is %v, want %v (unchanged)", i, got, want)
				}
				continue
			}
			resent++
			want++
			if got := decode(t, "counter", res)["count"]; got != want {
				t.Errorf("run %d right after kill -9: count %v, want %v", i, got, want)
			}
		}
		t.Logf("%d of 5 activations right after kill -9 were resent to a new process; the others had been read by the dying one", resent)
	})
	r.stopAndCountSentinels(t, runs)
}

// TestFiles writes, reads and lists a namespace file with the kv action.
func TestFiles(t *testing.T) {
	t.Parallel()
	r := startRuntime(t, runtimeConfig{})
	r.initAction(t, "kv", owEnv("guest", "/guest/kv"))
	ctx := owRun("guest", "/guest/kv")
	wantJSON(t, "write", r.run(t, map[string]any{"op": "write", "name": "shuffle/p0", "data": "hello"}, ctx), `{"ok":true,"bytes":5}`)
	wantJSON(t, "read", r.run(t, map[string]any{"op": "read", "name": "shuffle/p0"}, ctx), `{"data":"hello"}`)
	wantJSON(t, "files", r.run(t, map[string]any{"op": "files"}, ctx), `{"files":["shuffle/p0"]}`)
	b, err := os.ReadFile(filepath.Join(r.data, "fs", "guest", "shuffle", "p0"))
	if err != nil || string(b) != "hello" {
		t.Errorf("the file on disk: %q, %v; want \"hello\"", b, err)
	}
	for _, name := range []string{"../escape", "shuffle/../../escape", "/etc/passwd"} {
		res := r.run(t, map[string]any{"op": "write", "name": name, "data": "x"}, ctx)
		m := decode(t, "write "+name, res)
		if msg, _ := m["error"].(string); !strings.Contains(msg, "invalid file name") {
			t.Errorf("write %q: got %s, want an error result refusing the name", name, res)
		}
	}
	for _, p := range []string{filepath.Join(r.data, "fs", "escape"), filepath.Join(r.data, "escape")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists: a file name escaped the namespace", p)
		}
	}
	wantJSON(t, "put", r.run(t, map[string]any{"op": "put", "key": "k", "value": []any{1, "two"}}, ctx), `{"ok":true}`)
	wantJSON(t, "get", r.run(t, map[string]any{"op": "get", "key": "k"}, ctx), `{"found":true,"value":[1,"two"]}`)
	r.stopAndCountSentinels(t, 8)
}
