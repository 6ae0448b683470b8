package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// spyScript tries to reach another namespace's state by path and reports
// what it could do.
const spyScript = `#!/bin/bash
echo '{"ok":true}' >&3
try() { if "$@" >/dev/null 2>&1; then echo yes; else echo no; fi; }
while IFS= read -r line; do
  echo "{\"uid\":$(id -u),\"other_region\":\"$(try cat "$DATA/fn+other+secret.region")\",\"other_files\":\"$(try ls "$DATA/fs/other")\",\"other_secret\":\"$(try cat "$DATA/fs/other/secret.txt")\",\"uid_table\":\"$(try cat "$DATA/.uids")\",\"list_data\":\"$(try ls "$DATA")\",\"own_files\":\"$(try touch "$MARVEL_FILES_DIR/mine.txt")\"}" >&3
done
`

// TestIsolation runs actions of two namespaces with --isolate: each runs as
// its namespace's user and can reach its own state (through the descriptor
// and its files directory) but nothing of the other namespace by path.
func TestIsolation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("--isolate starts actions as other users, which needs root")
	}
	t.Parallel()
	data := t.TempDir()
	// The test's temporary directories sit in a 0700 directory; a data
	// directory's parents must let the namespaces' users through.
	if err := os.Chmod(filepath.Dir(data), 0o711); err != nil {
		t.Fatal(err)
	}
	isolated := runtimeConfig{data: data, args: []string{"--isolate"}}

	other := startRuntime(t, isolated)
	other.initAction(t, "counter", owEnv("other", "/other/secret"))
	wantCount(t, other, 1, owRun("other", "/other/secret"), 1)
	if err := os.WriteFile(filepath.Join(data, "fs", "other", "secret.txt"), []byte("other's data"), 0o644); err != nil {
		t.Fatal(err)
	}

	spy := startRuntime(t, isolated)
	env := owEnv("guest", "/guest/spy")
	env["DATA"] = data
	spy.initScript(t, spyScript, env)
	got := decode(t, "spy", spy.run(t, map[string]any{}, owRun("guest", "/guest/spy")))
	want := map[string]any{"other_region": "no", "other_files": "no", "other_secret": "no", "uid_table": "no", "list_data": "no", "own_files": "yes"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: the isolated action got %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	uid, _ := got["uid"].(float64)
	if uid < 200000 {
		t.Errorf("the action ran as uid %v, want a namespace user (200000 and up)", got["uid"])
	}

	// The namespace's own state works for its user: the counter through the
	// inherited descriptor, files in its directory owned by it.
	guest := startRuntime(t, isolated)
	guest.initAction(t, "kv", owEnv("guest", "/guest/kv"))
	ctx := owRun("guest", "/guest/kv")
	decode(t, "kv put", guest.run(t, map[string]any{"op": "put", "key": "k", "value": "v"}, ctx))
	if v := decode(t, "kv get", guest.run(t, map[string]any{"op": "get", "key": "k"}, ctx))["value"]; v != "v" {
		t.Errorf("kv get under isolation: %v, want v", v)
	}
	decode(t, "kv write", guest.run(t, map[string]any{"op": "write", "name": "out/part-0", "data": "hello"}, ctx))
	fi, err := os.Stat(filepath.Join(data, "fs", "guest", "out", "part-0"))
	if err != nil {
		t.Fatal(err)
	}
	if owner := fi.Sys().(*syscall.Stat_t).Uid; float64(owner) != uid {
		t.Errorf("the file written by guest's action belongs to uid %d, want guest's user %v", owner, uid)
	}
	if st := fmt.Sprint(decode(t, "kv read", guest.run(t, map[string]any{"op": "read", "name": "out/part-0"}, ctx))["data"]); st != "hello" {
		t.Errorf("kv read under isolation: %q", st)
	}
}
