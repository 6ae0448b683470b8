package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStopDuringInvoke sends SIGTERM while a blocking invoke runs an action
// sleeping 30 s: the server exits with status 0 (Stop bounds the wait),
// leaving no process behind, and the invoke is answered or cut, never left
// hanging.
func TestStopDuringInvoke(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "sleeper", "probe", nil)
	s.result(t, "sleeper", map[string]any{"op": "echo"}) // warm: the next runs at once

	done := make(chan string, 1)
	go func() {
		r, err := s.try(guestKey, http.MethodPost, "/api/v1/namespaces/_/actions/sleeper?blocking=true", map[string]any{"op": "sleep", "ms": 30000})
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		done <- r.String()
	}()
	if err := eventually(time.Minute, func() error {
		if busy := s.metrics(t)["marvel_instances_busy"]; busy != 1 {
			return fmt.Errorf("%v busy instances", busy)
		}
		return nil
	}); err != nil {
		t.Fatalf("the sleeping activation did not start: %v", err)
	}
	start := time.Now()
	s.Stop()
	t.Logf("marvel standalone stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	select {
	case got := <-done:
		t.Logf("the blocking invoke in flight got %s", got)
		if strings.HasPrefix(got, "200 ") {
			t.Errorf("the blocking invoke of an action sleeping 30 s succeeded though the server stopped after %v", time.Since(start))
		}
	case <-time.After(goneTimeout):
		t.Errorf("the blocking invoke is still pending %v after the server exited", goneTimeout)
	}
}
