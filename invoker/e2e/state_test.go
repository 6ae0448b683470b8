package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

// counter invokes the counter action (blocking, result only) and returns
// the HTTP status and, on 200, the count.
func (s *standalone) counter(t testing.TB, name string) (reply, float64) {
	t.Helper()
	r := s.invoke(t, name, "blocking=true&result=true", nil)
	if r.status != http.StatusOK {
		return r, 0
	}
	n, ok := object(t, "counter", r)["count"].(float64)
	if !ok {
		t.Fatalf("counter: %s, want a count", r)
	}
	return r, n
}

// mustCount invokes the counter and fails the test unless it answers want.
func (s *standalone) mustCount(t testing.TB, name string, want float64) string {
	t.Helper()
	r := s.invoke(t, name, "blocking=true&result=true", nil)
	wantStatus(t, "counter", r, http.StatusOK)
	if got := object(t, "counter", r)["count"]; got != want {
		t.Fatalf("the counter answered %v, want %v", got, want)
	}
	return r.header.Get("x-openwhisk-activation-id")
}

// TestStateSurvives keeps the counter action's count across warm runs, a
// SIGKILL of its runtime instance, a restart of the server, and a SIGKILL
// of the server itself. The actions and the records of acknowledged
// activations survive the restarts too.
func TestStateSurvives(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	s := startStandalone(t, data)
	s.mustPut(t, "counter", "counter", nil)
	acked := map[string]float64{} // activation id → the count it answered
	for i := 1.0; i <= 3; i++ {
		acked[s.mustCount(t, "counter", i)] = i
	}
	last := 3.0

	// SIGKILL the instance's runtime process.
	pids := s.instancePids()
	if len(pids) != 1 {
		t.Fatalf("marvel standalone (pid %d) has children %v, want one runtime instance", s.pid(), pids)
	}
	rt, ok := readProc(pids[0])
	if !ok || !strings.Contains(rt.Cmdline, " runtime ") {
		t.Fatalf("the child %v is not a marvel runtime", rt)
	}
	actionProcs := descendants(rt.PID)
	if err := syscall.Kill(rt.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, rt)
	for _, p := range actionProcs {
		waitGone(t, p) // the action process goes with its runtime
	}
	// The next invokes may fail while the instance is replaced; the first
	// success continues the count: above the last acknowledged value, and
	// at most one more per failed attempt.
	failed := 0
	for {
		r, n := s.counter(t, "counter")
		if r.status == http.StatusOK {
			if n <= last || n > last+1+float64(failed) {
				t.Fatalf("after the runtime was killed the counter answered %v; the last acknowledged count was %v (%d failed attempts since)", n, last, failed)
			}
			last = n
			break
		}
		t.Logf("an invoke after the kill answered %s", r)
		if failed++; failed == 3 {
			t.Fatalf("%d invokes failed after the runtime instance was killed", failed)
		}
	}
	if now := s.instancePids(); len(now) != 1 || now[0] == rt.PID {
		t.Errorf("after the kill the runtime instances are %v (the killed one was %d)", now, rt.PID)
	}
	last++
	acked[s.mustCount(t, "counter", last)] = last

	// A clean restart over the same data.
	s.Stop()
	s = startStandalone(t, data)
	checkSurvivors(t, s, acked)
	last++
	acked[s.mustCount(t, "counter", last)] = last
	last++
	acked[s.mustCount(t, "counter", last)] = last

	// SIGKILL of the server: its instances die with it; the acknowledged
	// activations and the count survive.
	s.Kill()
	s = startStandalone(t, data)
	checkSurvivors(t, s, acked)
	last++
	s.mustCount(t, "counter", last)
}

// checkSurvivors checks that a restarted server still has the counter
// action and the records of the acknowledged activations.
func checkSurvivors(t *testing.T, s *standalone, acked map[string]float64) {
	t.Helper()
	r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions/counter?code=true", nil)
	wantStatus(t, "the counter action after a restart", r, http.StatusOK)
	a := object(t, "counter", r)
	if exec, _ := a["exec"].(map[string]any); a["version"] != "0.0.1" || exec["code"] != actionZip["counter"] {
		t.Errorf("the counter action after a restart: version %v, same code %v", a["version"], exec["code"] == actionZip["counter"])
	}
	for id, n := range acked {
		r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations/"+id+"/result", nil)
		if r.status != http.StatusOK {
			t.Errorf("the record of acknowledged activation %s (count %v) after a restart: %s", id, n, r)
			continue
		}
		var res struct {
			Result  struct{ Count float64 }
			Success bool
		}
		if err := json.Unmarshal(r.body, &res); err != nil || !res.Success || res.Result.Count != n {
			t.Errorf("the record of activation %s after a restart: %s, want count %v", id, r, n)
		}
	}
	if n := object(t, "count", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?count=true", nil))["activations"]; n.(float64) < float64(len(acked)) {
		t.Errorf("%v activations after a restart, want at least the %d acknowledged", n, len(acked))
	}
}
