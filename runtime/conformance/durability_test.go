package conformance_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// kill9 kills the runtime with SIGKILL (its action dies with it, through
// PR_SET_PDEATHSIG) and waits until both are gone. The test's cleanup then
// leaves the runtime alone.
func (r *marvelRuntime) kill9(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	kids := children(r.pid())
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the runtime: %v", err)
	}
	<-r.exited
	for _, k := range kids {
		waitGone(t, k)
	}
	r.copied.Wait()
}

// TestAcknowledgedCountsSurviveKillOfTheRuntime runs the counter action
// continuously and kills the whole runtime with SIGKILL at a random moment,
// several times. After each restart the count must be at least the last
// count a /run acknowledged with 200 (an acknowledged write is never lost)
// and at most one more (the activation in flight may or may not have been
// applied), and counting goes on from there.
//
// A kill of processes cannot lose what the kernel holds for a shared
// mapping, so this proves the stack end to end (an answer only after the
// write, the same region found again, recovery keeping every record), not
// the flushes and fences: pmem's crash-point tests, which drop everything
// not fenced, do that.
func TestAcknowledgedCountsSurviveKillOfTheRuntime(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	data := t.TempDir()
	ctx := owRun("guest", "/guest/durable")
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		r := startRuntime(t, runtimeConfig{data: data})
		r.initAction(t, "counter", owEnv("guest", "/guest/durable"))
		before, _ := count(t, r, 0, ctx)

		var acked atomic.Int64
		acked.Store(int64(before))
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				req := map[string]any{"value": map[string]any{"by": 1}}
				for k, v := range ctx {
					req[k] = v
				}
				res, err := r.do(t, http.MethodPost, "/run", req, runTimeout)
				if err != nil || res.Status != http.StatusOK {
					done <- nil // the kill landed in this activation
					return
				}
				var got struct{ Count float64 }
				if err := json.Unmarshal(res.Body, &got); err != nil {
					done <- fmt.Errorf("run: %s: %v", res.Body, err)
					return
				}
				if int64(got.Count) != acked.Load()+1 {
					done <- fmt.Errorf("round %d: count %v after acknowledged %d", round, got.Count, acked.Load())
					return
				}
				acked.Store(int64(got.Count))
			}
		}()
		target := acked.Load() + 5 + rng.Int64N(40)
		for acked.Load() < target {
			select {
			case err := <-done:
				t.Fatalf("the writer stopped early: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		r.kill9(t)
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		last := acked.Load()

		r2 := startRuntime(t, runtimeConfig{data: data})
		r2.initAction(t, "counter", owEnv("guest", "/guest/durable"))
		after, _ := count(t, r2, 0, ctx)
		if int64(after) < last || int64(after) > last+1 {
			t.Fatalf("round %d: after kill -9 the count is %v; the last acknowledged count was %d (want %d or %d)", round, after, last, last, last+1)
		}
		r2.stop()
	}
}
