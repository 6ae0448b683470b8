package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestStatelessConcurrency runs 8 blocking invokes at once of a stateless
// action (annotation state=false) allowed 4 instances: all succeed, on more
// than one and at most 4 runtime processes, and the action has no region.
func TestStatelessConcurrency(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	s := startStandalone(t, data)
	s.mustPut(t, "pool", "probe", map[string]any{
		"annotations": []any{map[string]any{"key": "state", "value": false}},
		"limits":      map[string]any{"concurrency": 4},
	})
	const n = 8
	pids := make([]float64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := s.try(guestKey, http.MethodPost, "/api/v1/namespaces/_/actions/pool?blocking=true&result=true", map[string]any{"op": "sleep", "ms": 500})
			if err != nil {
				t.Errorf("invoke %d: %v", i, err)
				return
			}
			if r.status != http.StatusOK {
				t.Errorf("invoke %d: %s", i, r)
				return
			}
			pids[i], _ = object(t, "invoke", r)["pid"].(float64)
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	distinct := map[float64]bool{}
	for _, p := range pids {
		distinct[p] = true
	}
	if len(distinct) < 2 || len(distinct) > 4 {
		t.Errorf("8 concurrent invokes ran in %d processes %v, want 2 to 4 (limits.concurrency 4)", len(distinct), pids)
	}
	if kids := s.instancePids(); len(kids) < 2 || len(kids) > 4 {
		t.Errorf("%d runtime instances after the invokes, want 2 to 4", len(kids))
	}
	if _, err := os.Stat(filepath.Join(data, "fn+guest+pool.region")); !os.IsNotExist(err) {
		t.Errorf("the stateless action has a region (%v)", err)
	}
}
