package invoker

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/testbin"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/pmem"
)

var marvelBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, &marvelBin, true))
}

// pidScript answers with its process id, after sleeping "sleep" seconds if
// asked, and exits if asked to "exit".
const pidScript = `#!/bin/bash
echo '{"ok":true}' >&3
while IFS= read -r line; do
  s=$(echo "$line" | sed -n 's/.*"sleep":\([0-9.]*\).*/\1/p')
  [ -n "$s" ] && sleep "$s"
  echo "run $$"
  echo "{\"pid\":$$}" >&3
done
`

func newTestInvoker(t *testing.T, mutate func(*Config)) *Invoker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.WorkDir = t.TempDir()
	cfg.Binary = marvelBin
	cfg.Mode = pmem.ModeEmulated
	cfg.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cfg.RegionSize = 1 << 20
	cfg.Capacity = 64 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	return v
}

func scriptAction(name, version string, annotations ...whisk.KeyValue) whisk.Action {
	code := pidScript
	return whisk.Action{Name: name, Version: version, Exec: &whisk.Exec{Kind: "blackbox", Code: &code},
		Annotations: annotations}
}

// run invokes a and returns the pid it answered from and the record.
func run(t *testing.T, v *Invoker, a whisk.Action, params string) (int, whisk.Activation) {
	t.Helper()
	p, err := v.Start(Request{Namespace: "guest", Action: a, Params: json.RawMessage(params)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := p.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, whisk.StatusSuccess, rec.Response.Status, "%s", rec.Response.Result)
	var out struct{ PID int }
	require.NoError(t, json.Unmarshal(rec.Response.Result, &out))
	return out.PID, rec
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStatefulActionHasOneInstanceAndQueues(t *testing.T) {
	v := newTestInvoker(t, nil)
	a := scriptAction("counter", "0.0.1")
	pids := make([]int, 8)
	var wg sync.WaitGroup
	for i := range pids {
		wg.Go(func() { pids[i], _ = run(t, v, a, `{"sleep":0.05}`) })
	}
	wg.Wait()
	for _, p := range pids {
		require.Equal(t, pids[0], p, "every activation of a stateful action runs on the holder of its region")
	}
	st := v.Instances()
	require.Equal(t, InstanceStats{Idle: 1, MemoryMB: DefaultMemoryMB}, st)
	// The region is granted to the action under a live lease.
	regs := v.Pool().Regions()
	require.Len(t, regs, 1)
	require.Equal(t, "fn+guest+counter", regs[0].Name)
	require.Equal(t, pmem.StateLeased, regs[0].State)
	require.True(t, regs[0].Pinned)
}

func TestStatelessActionScalesToConcurrency(t *testing.T) {
	v := newTestInvoker(t, nil)
	a := scriptAction("mapper", "0.0.1", whisk.KeyValue{Key: "state", Value: json.RawMessage("false")})
	four := 4
	a.Limits = &whisk.Limits{Concurrency: &four}
	pids := make([]int, 8)
	var wg sync.WaitGroup
	for i := range pids {
		wg.Go(func() { pids[i], _ = run(t, v, a, `{"sleep":0.3}`) })
	}
	wg.Wait()
	distinct := map[int]bool{}
	for _, p := range pids {
		distinct[p] = true
	}
	require.Greater(t, len(distinct), 1, "a stateless action runs on several instances")
	require.LessOrEqual(t, len(distinct), 4, "at most limits.concurrency of them")
	require.Empty(t, v.Pool().Regions(), "a stateless action gets no region")
}

func TestMemoryBudgetStopsIdleInstances(t *testing.T) {
	v := newTestInvoker(t, func(c *Config) { c.MemoryMB = DefaultMemoryMB }) // room for one instance
	pa, _ := run(t, v, scriptAction("a", "0.0.1"), `{}`)
	pb, _ := run(t, v, scriptAction("b", "0.0.1"), `{}`)
	require.NotEqual(t, pa, pb)
	require.Eventually(t, func() bool { return !alive(pa) }, 10*time.Second, 20*time.Millisecond,
		"the idle instance of a was stopped to make room for b")
	require.Equal(t, DefaultMemoryMB, v.Instances().MemoryMB)

	// While b is busy, a waits for the memory instead of failing.
	done := make(chan int)
	go func() { p, _ := run(t, v, scriptAction("b", "0.0.1"), `{"sleep":0.5}`); done <- p }()
	time.Sleep(100 * time.Millisecond)
	pa2, rec := run(t, v, scriptAction("a", "0.0.1"), `{}`)
	require.Equal(t, pb, <-done)
	require.NotEqual(t, pa, pa2)
	require.NotNil(t, rec.Annotations.Get("initTime"), "a cold start is annotated")
}

func TestUpdateReplacesTheInstance(t *testing.T) {
	v := newTestInvoker(t, nil)
	p1, rec1 := run(t, v, scriptAction("f", "0.0.1"), `{}`)
	p2, rec2 := run(t, v, scriptAction("f", "0.0.1"), `{}`)
	require.Equal(t, p1, p2)
	require.NotNil(t, rec1.Annotations.Get("initTime"))
	require.Nil(t, rec2.Annotations.Get("initTime"), "a warm start has no initTime")
	p3, _ := run(t, v, scriptAction("f", "0.0.2"), `{}`)
	require.NotEqual(t, p1, p3, "a new version runs on a new instance")
	require.Eventually(t, func() bool { return !alive(p1) }, 10*time.Second, 20*time.Millisecond, "the old instance is stopped")
}

func TestCrashedInstanceIsReplaced(t *testing.T) {
	v := newTestInvoker(t, nil)
	a := scriptAction("f", "0.0.1")
	run(t, v, a, `{}`)
	var rt int
	v.mu.Lock()
	for _, s := range v.actions {
		for _, in := range s.insts {
			rt = in.proc.PID()
		}
	}
	v.mu.Unlock()
	require.NotZero(t, rt)
	require.NoError(t, syscall.Kill(rt, syscall.SIGKILL))
	require.Eventually(t, func() bool { return v.Instances() == InstanceStats{} }, 10*time.Second, 20*time.Millisecond,
		"the crashed instance is forgotten and its memory freed")
	_, rec := run(t, v, a, `{}`)
	require.NotNil(t, rec.Annotations.Get("initTime"), "the next activation starts a new instance")
	regs := v.Pool().Regions()
	require.Len(t, regs, 1)
	require.Equal(t, pmem.StateLeased, regs[0].State, "and the region is granted again")
}

func TestIdleInstancesStop(t *testing.T) {
	v := newTestInvoker(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond; c.Lease = 300 * time.Millisecond })
	pid, _ := run(t, v, scriptAction("f", "0.0.1"), `{}`)
	require.Eventually(t, func() bool { return !alive(pid) && v.Instances() == InstanceStats{} }, 10*time.Second, 20*time.Millisecond)
	regs := v.Pool().Regions()
	require.Len(t, regs, 1, "the region stays, with the action's state")
	require.NotEqual(t, pmem.StateLeased, regs[0].State)
}

func TestTimeLimit(t *testing.T) {
	v := newTestInvoker(t, nil)
	a := scriptAction("slow", "0.0.1")
	limit := 300
	a.Limits = &whisk.Limits{Timeout: &limit}
	p, err := v.Start(Request{Namespace: "guest", Action: a, Params: json.RawMessage(`{"sleep":3}`)})
	require.NoError(t, err)
	rec, err := p.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, whisk.StatusDeveloperError, rec.Response.Status)
	require.JSONEq(t, `{"error":"The action exceeded its time limits of 300 milliseconds."}`, string(rec.Response.Result))
	require.Equal(t, "true", string(rec.Annotations.Get("timeout")))
	// The next activation works.
	run(t, v, a, `{}`)
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
		result string
	}{
		{200, `{"a":1}`, whisk.StatusSuccess, `{"a":1}`},
		{200, `["a"]`, whisk.StatusSuccess, `["a"]`},
		{200, `{"error":"boom"}`, whisk.StatusApplicationError, `{"error":"boom"}`},
		{200, `42`, whisk.StatusDeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response: 42"}`},
		{502, `{"error":"The action did not return a dictionary or array."}`, whisk.StatusDeveloperError, `{"error":"The action did not return a dictionary or array."}`},
		{502, `oops`, whisk.StatusDeveloperError, `{"error":"The action did not produce a valid JSON or JSON Array response: oops"}`},
	} {
		r := classify(c.status, []byte(c.body))
		require.Equal(t, c.want, r.Status, c.body)
		require.Equal(t, c.want == whisk.StatusSuccess, r.Success)
		require.JSONEq(t, c.result, string(r.Result), c.body)
	}
	big := `{"x":"` + strings.Repeat("a", MaxResultBytes) + `"}`
	r := classify(200, []byte(big))
	require.Equal(t, whisk.StatusApplicationError, r.Status)
	require.NotNil(t, r.Size)
	require.Equal(t, len(big), *r.Size)
}

// TestCodeIsReadAtColdStartOnly: warm activations carry no code; a cold
// start reads it from the records, and an update's new code runs.
func TestCodeIsReadAtColdStartOnly(t *testing.T) {
	v := newTestInvoker(t, nil)
	put := func(version string, updated int64, answer string) whisk.Action {
		code := "#!/bin/bash\necho '{\"ok\":true}' >&3\nwhile IFS= read -r line; do echo '{\"answer\":\"" + answer + "\",\"pid\":'$$'}' >&3; done\n"
		_, err := v.Records().UpdateAction("guest", "f", func(*whisk.Action) (*whisk.Action, error) {
			return &whisk.Action{Namespace: "guest", Name: "f", Version: version, Updated: updated,
				Exec: &whisk.Exec{Kind: "blackbox", Code: &code}}, nil
		})
		require.NoError(t, err)
		meta, err := v.Records().GetAction("guest", "f", false)
		require.NoError(t, err)
		require.Nil(t, meta.Exec.Code)
		return meta
	}
	answer := func(a whisk.Action) (string, int) {
		p, err := v.Start(Request{Namespace: "guest", Action: a})
		require.NoError(t, err)
		rec, err := p.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, whisk.StatusSuccess, rec.Response.Status, "%s", rec.Response.Result)
		var out struct {
			Answer string
			PID    int
		}
		require.NoError(t, json.Unmarshal(rec.Response.Result, &out))
		return out.Answer, out.PID
	}
	a1 := put("0.0.1", 1000, "one")
	got, pid1 := answer(a1)
	require.Equal(t, "one", got)
	got, pid := answer(a1)
	require.Equal(t, "one", got)
	require.Equal(t, pid1, pid, "warm")
	a2 := put("0.0.2", 2000, "two")
	got, pid = answer(a2)
	require.Equal(t, "two", got, "the updated code runs")
	require.NotEqual(t, pid1, pid)
}
