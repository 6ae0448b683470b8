package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRuntimeToken: an action of namespace "other", isolated under a user
// of its own, finds guest's warm runtime instances on the shared loopback
// and POSTs /run and /init to them, as the action proxy contract would
// allow: every instance refuses it (403: it lacks the instance's token),
// guest's state is untouched, and guest's own invokes still work. The
// token is not in the actions' environment, and the spy cannot read it
// from the runtime's /proc/PID/environ.
func TestRuntimeToken(t *testing.T) {
	s, data, guestEnv, spy := isolatedSpy(t)
	if env, _ := guestEnv["env"].(map[string]any); env == nil || env["MARVEL_FILES_DIR"] == nil {
		t.Fatalf("guest's probe answered no environment: %v", guestEnv)
	} else if _, ok := env["MARVEL_RUNTIME_TOKEN"]; ok {
		t.Errorf("guest's action sees MARVEL_RUNTIME_TOKEN in its environment")
	}
	spyPid := int(spy(map[string]any{"op": "echo"})["pid"].(float64))
	spyProc, ok := readProc(spyPid)
	if !ok {
		t.Fatalf("the spy's process %d is gone", spyPid)
	}

	// The warm instances of guest: every runtime of the server but the
	// spy's own, with the port it listens on.
	targets := map[int]int{} // runtime pid → port
	for _, pid := range s.instancePids() {
		if pid == spyProc.PPID {
			continue
		}
		targets[pid] = listeningPort(t, pid)
	}
	if len(targets) != 2 {
		t.Fatalf("want guest's two instances (counter, probe) besides the spy's (%d), found %v among %v", spyProc.PPID, targets, s.instancePids())
	}

	// What would run guest's counter: the identity matches its region.
	run, _ := json.Marshal(map[string]any{"value": map[string]any{}, "namespace": "guest", "action_name": "/guest/counter",
		"activation_id": "0123456789abcdef0123456789abcdef"})
	initBody, _ := json.Marshal(map[string]any{"value": map[string]any{"code": "#!/bin/sh\necho '{\"ok\":true}' >&3\ncat /dev/null\n"}})
	for pid, port := range targets {
		for _, c := range []struct{ path, body, auth string }{
			{"/run", string(run), ""},
			{"/run", string(run), "Bearer " + strings.Repeat("0", 64)},
			{"/init", string(initBody), ""},
		} {
			url := fmt.Sprintf("http://127.0.0.1:%d%s", port, c.path)
			got := spy(map[string]any{"op": "post", "url": url, "body": c.body, "auth": c.auth})
			if got["neterr"] != nil {
				t.Fatalf("the spy could not reach guest's runtime %d at %s (the test proves nothing): %v", pid, url, got["neterr"])
			}
			reply, _ := got["reply"].(string)
			if got["status"] != 403.0 || !strings.Contains(reply, "Authorization") {
				t.Errorf("the spy's POST %s (auth %q) to guest's runtime %d: %v %s, want 403 for the missing token", url, c.auth, pid, got["status"], reply)
			}
		}
		environ := fmt.Sprintf("/proc/%d/environ", pid)
		got := spy(map[string]any{"op": "open", "file": environ, "dir": filepath.Join(data, "fs", "guest")})
		if msg, _ := got["file"].(string); !strings.Contains(msg, "permission denied") {
			t.Errorf("the spy reading %s of guest's runtime: %q, want permission denied", environ, got["file"])
		}
	}

	// Nothing of that ran: guest's count goes on from 1, its probe answers.
	s.mustCount(t, "counter", 2)
	if got := s.result(t, "probe", map[string]any{"op": "echo", "x": 1.0}); got["args"] == nil {
		t.Errorf("guest's probe after the attempts: %v", got)
	}
	if !strings.Contains(s.output(), "request without the runtime token refused") {
		t.Errorf("the refusals are not in the server's log")
	}
}

// listeningPort returns the TCP port process pid listens on (it must
// listen on exactly one).
func listeningPort(t *testing.T, pid int) int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			p, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				t.Fatalf("%s: bad local address %q", table, f[1])
			}
			ports = append(ports, int(p))
		}
	}
	if len(ports) != 1 {
		t.Fatalf("runtime %d listens on ports %v, want one", pid, ports)
	}
	return ports[0]
}
