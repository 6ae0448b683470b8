package e2e

// Storage faults under an action, seen through the API: a full region, a
// region that cannot grow because the data directory's file system is full,
// and failing fences (msync). Each write that fails must answer promptly as
// an application error (502, the action's {"error": message} naming the key
// and the cause), the invoker must stay up, and the values acknowledged
// before must still be there — in the same warm instance and in a new one.
// The SDK's side is tested in runtime/sdk (state_fault_test.go), the
// store's in pmem.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	// Built by TestMain with the others.
	actionPackages["kv"] = "./actions/kv"
	actionPackages["faulty"] = "./invoker/e2e/testdata/faulty"
}

// faultBound is how long a failing state write may take to answer.
const faultBound = 30 * time.Second

// activationRecord decodes a blocking invoke's record (without result=true).
func activationRecord(t *testing.T, what string, r reply) (status string, success bool, result map[string]any) {
	t.Helper()
	var a struct {
		Response struct {
			Status  string         `json:"status"`
			Success bool           `json:"success"`
			Result  map[string]any `json:"result"`
		} `json:"response"`
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%s: not an activation record (%v): %s", what, err, r)
	}
	return a.Response.Status, a.Response.Success, a.Response.Result
}

// wantAppError checks that a blocking invoke (record, not result) failed as
// an application error whose message holds each of msgs, within faultBound.
func wantAppError(t *testing.T, what string, r reply, took time.Duration, msgs ...string) string {
	t.Helper()
	wantStatus(t, what, r, http.StatusBadGateway)
	status, success, result := activationRecord(t, what, r)
	msg, _ := result["error"].(string)
	if status != "application error" || success {
		t.Errorf("%s: status %q (success %v), want an application error: %s", what, status, success, r)
	}
	for _, m := range msgs {
		if !strings.Contains(msg, m) {
			t.Errorf("%s: error %q does not say %q", what, msg, m)
		}
	}
	if took > faultBound {
		t.Errorf("%s: answered after %v, want within %v", what, took, faultBound)
	}
	return msg
}

// timedInvoke is a blocking invoke (the record) and how long it took.
func (s *standalone) timedInvoke(t *testing.T, name string, params any) (reply, time.Duration) {
	t.Helper()
	t0 := time.Now()
	r := s.invoke(t, name, "blocking=true", params)
	return r, time.Since(t0)
}

// TestStateWriteRegionFull: an action whose region (1 MiB, --region-size)
// is full gets an application error saying so; the write is not stored,
// the values before it are, the same instance serves the next activations.
func TestStateWriteRegionFull(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t), "--region-size", "1m")
	s.mustPut(t, "kv", "kv", nil)
	value := strings.Repeat("v", 200<<10)
	acked, failed, took := s.putUntilRefused(t, value, 10)
	if acked == 0 || acked == 10 {
		t.Fatalf("%d puts of 200 KiB into a 1 MiB region succeeded, want some but not all (last reply %s)", acked, failed)
	}
	msg := wantAppError(t, "put into a full region", failed, took, fmt.Sprintf(`sdk: put "k%d": pmem: region full`, acked), "cannot take")
	t.Logf("%d puts acknowledged; the next: %.300s", acked, msg)
	for i := range acked {
		got := s.result(t, "kv", map[string]any{"op": "get", "key": fmt.Sprint("k", i)})
		if got["found"] != true || got["value"] != value {
			t.Errorf("k%d after the full region: found %v, %d bytes", i, got["found"], len(fmt.Sprint(got["value"])))
		}
	}
	if got := s.result(t, "kv", map[string]any{"op": "get", "key": fmt.Sprint("k", acked)}); got["found"] != false {
		t.Errorf("the refused value k%d is there: %v", acked, got["found"])
	}
	s.result(t, "kv", map[string]any{"op": "del", "key": "k0"})
	s.result(t, "kv", map[string]any{"op": "put", "key": "small", "value": "fits"})
	s.wantServes(t)
}

// TestStateWriteGrowFailsOnFullDisk: the data directory is a 40 MiB tmpfs
// and regions may grow to 64 MiB; an action filling its region makes it
// grow until the file system is full. The write that needed the growth
// gets an application error with ENOSPC; the region is not damaged (the
// growth rolled back), acknowledged values stay, smaller writes go on, and
// the invoker (whose records share the file system) stays up: a new
// action's record that does not fit is refused with a clear 500, and
// deleting the full action gives the space back.
func TestStateWriteGrowFailsOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	t.Parallel()
	data := newDataDir(t)
	if err := os.Mkdir(data, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", data, "tmpfs", 0, "size=40m,mode=0711"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	// Registered before the server's cleanup, so it runs after it.
	t.Cleanup(func() {
		if err := unix.Unmount(data, 0); err != nil {
			unix.Unmount(data, unix.MNT_DETACH)
		}
	})
	cache := filepath.Join(filepath.Dir(data), "action-cache") // executables off the small file system
	s := startStandalone(t, data, "--action-cache", cache)
	s.mustPut(t, "kv", "kv", nil)
	value := strings.Repeat("g", 900<<10)
	acked, failed, took := s.putUntilRefused(t, value, 64)
	if acked == 0 || acked == 64 {
		t.Fatalf("%d puts of 900 KiB into a 40 MiB file system succeeded, want some but not all (last reply %s)", acked, failed)
	}
	msg := wantAppError(t, "put that needs the region to grow", failed, took, fmt.Sprintf(`sdk: put "k%d"`, acked), "no space left on device")
	t.Logf("%d puts acknowledged; the next: %.400s", acked, msg)
	for _, i := range []int{0, acked - 1} {
		got := s.result(t, "kv", map[string]any{"op": "get", "key": fmt.Sprint("k", i)})
		if got["found"] != true || got["value"] != value {
			t.Errorf("k%d after the failed growth: found %v", i, got["found"])
		}
	}
	s.result(t, "kv", map[string]any{"op": "put", "key": "small", "value": "fits"})
	stats := s.result(t, "kv", map[string]any{"op": "stats"})
	t.Logf("the region after the failed growth: %v", stats["stats"])

	// The file system is nearly full: a new action's record does not fit,
	// and the API says so (500, a whisk error naming the disk).
	r := s.putAction(t, guestKey, "big", "echo", false, nil)
	wantError(t, "create an action on the full disk", r, http.StatusInternalServerError, "")
	if !strings.Contains(string(r.body), "no space left on device") {
		t.Errorf("the refused create does not say the disk is full: %s", r)
	}
	// Deleting the action deletes its region: the space is back.
	wantStatus(t, "delete kv", s.guest(t, http.MethodDelete, "/api/v1/namespaces/_/actions/kv", nil), http.StatusOK)
	s.wantServes(t)
}

// TestStateWriteFenceFails: the faulty action's fences fail (EIO, as a
// failed msync); the write gets an application error with the cause, the
// SDK ends the process (its store no longer trusts the medium), and the
// next activation's new process reopens the region with every acknowledged
// value and writes again.
func TestStateWriteFenceFails(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "faulty", "faulty", nil)
	s.result(t, "faulty", map[string]any{"op": "put", "key": "a", "value": "acknowledged"})
	pid := s.result(t, "faulty", map[string]any{"op": "fail-fences"})["pid"]
	r, took := s.timedInvoke(t, "faulty", map[string]any{"op": "put", "key": "a", "value": "failed"})
	msg := wantAppError(t, "put with a failing fence", r, took, `sdk: put "a"`, "input/output error")
	t.Logf("the failed write: %s", msg)

	// The SDK ends the action process after answering, since its store
	// refuses writes from then on; the next activation runs in a new
	// process (same instance), which reopens the region with its fences
	// working. The failed write's durability was unknown: either value may
	// be there, nothing else.
	got := s.result(t, "faulty", map[string]any{"op": "get", "key": "a"})
	if got["pid"] == pid {
		t.Fatalf("the action process (pid %v) went on after its store failed a fence", pid)
	}
	if v := got["value"]; v != "acknowledged" && v != "failed" {
		t.Errorf("after reopening, a = %v, want the acknowledged value (or the one whose write failed)", v)
	}
	s.result(t, "faulty", map[string]any{"op": "put", "key": "b", "value": "x"})
	if got := s.result(t, "faulty", map[string]any{"op": "get", "key": "b"}); got["value"] != "x" {
		t.Errorf("b after reopening: %v", got["value"])
	}
	s.wantServes(t)
}

// putUntilRefused has the kv action put value under k0, k1, … until a put
// is refused or max succeeded, and returns how many were acknowledged and
// the refusal (with how long it took), if any.
func (s *standalone) putUntilRefused(t *testing.T, value string, max int) (acked int, failed reply, took time.Duration) {
	t.Helper()
	for i := range max {
		r, d := s.timedInvoke(t, "kv", map[string]any{"op": "put", "key": fmt.Sprint("k", i), "value": value})
		if r.status != http.StatusOK {
			return acked, r, d
		}
		acked++
	}
	return acked, failed, took
}
