package records

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfstest"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

var crashSeed = flag.Uint64("crash.seed", 0, "seed for the keep-random crash images (0: time-based, printed)")

// A crash workload is a deterministic list of steps against a store.
type stepKind int

const (
	stepOpen stepKind = iota
	stepClose
	stepPut
	stepDelete
	stepAppend
)

type step struct {
	kind stepKind
	name string // action
	code string // action code (stepPut)
	n    int    // activation number (stepAppend)
}

func (s step) String() string {
	switch s.kind {
	case stepOpen:
		return "open"
	case stepClose:
		return "close"
	case stepPut:
		return fmt.Sprintf("put %s (%d bytes of code)", s.name, len(s.code))
	case stepDelete:
		return "delete " + s.name
	}
	return fmt.Sprintf("append %d", s.n)
}

var crashOpts = Options{SegmentBytes: 4 << 10, MaxActivations: 30}

func crashWorkload() []step {
	put := func(name string, n int) step { return step{kind: stepPut, name: name, code: name + bigCode(n)} }
	appends := func(from, to int) []step {
		var out []step
		for n := from; n <= to; n++ {
			out = append(out, step{kind: stepAppend, n: n})
		}
		return out
	}
	var w []step
	w = append(w, step{kind: stepOpen}, put("a", 3000))
	w = append(w, appends(1, 10)...)
	w = append(w, put("b", 10), put("a", 5000))
	w = append(w, appends(11, 25)...)
	w = append(w, step{kind: stepDelete, name: "b"}, put("c", 20000))
	w = append(w, appends(26, 40)...)
	w = append(w, step{kind: stepClose}, step{kind: stepOpen})
	w = append(w, appends(41, 46)...)
	w = append(w, put("a", 100), step{kind: stepDelete, name: "c"}, step{kind: stepClose})
	return w
}

func crashActivation(n int) whisk.Activation {
	return activation(id(n), "guest", "act", int64(n), n%3)
}

// acked is what a workload had acknowledged when it stopped.
type acked struct {
	actions  map[string]*string // code of each action; nil: absent
	appended []int              // activation numbers, in order
	inflight *step              // the step that failed, if one did
}

// runSteps runs the workload until a step fails (the crash).
func runSteps(fsys vfs.FS, steps []step) acked {
	st := acked{actions: map[string]*string{}}
	var s *Store
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	for i := range steps {
		p := &steps[i]
		var err error
		switch p.kind {
		case stepOpen:
			s, err = open(fsys, memDir, crashOpts)
		case stepClose:
			err = s.Close()
			s = nil
		case stepPut:
			_, err = s.UpdateAction("guest", p.name, func(*whisk.Action) (*whisk.Action, error) {
				return action("guest", p.name, p.code, int64(i)), nil
			})
		case stepDelete:
			_, err = s.DeleteAction("guest", p.name)
		case stepAppend:
			err = s.Append(crashActivation(p.n))
		}
		if err != nil {
			st.inflight = p
			return st
		}
		switch p.kind {
		case stepPut:
			st.actions[p.name] = &p.code
		case stepDelete:
			st.actions[p.name] = nil
		case stepAppend:
			st.appended = append(st.appended, p.n)
		}
	}
	return st
}

// checkCrashImage opens what a crash left and checks it holds what was
// acknowledged, intact, and that the store goes on from there.
func checkCrashImage(t *testing.T, img *vfstest.MemFS, st acked, where string) {
	t.Helper()
	s, err := open(img, memDir, crashOpts)
	require.NoError(t, err, "%s: open after the crash", where)
	defer s.Close()
	require.NoError(t, s.checkIndex(), where)

	for _, name := range []string{"a", "b", "c"} {
		allowed := []*string{st.actions[name]}
		if f := st.inflight; f != nil && f.name == name {
			switch f.kind {
			case stepPut:
				allowed = append(allowed, &f.code)
			case stepDelete:
				allowed = append(allowed, nil)
			}
		}
		got, err := s.GetAction("guest", name, true)
		var code *string
		if err == nil {
			code = got.Exec.Code
			require.NotNil(t, code, "%s: action %s without code", where, name)
		} else {
			require.ErrorIs(t, err, ErrNotFound, "%s: action %s", where, name)
		}
		ok := false
		for _, a := range allowed {
			ok = ok || (a == nil && code == nil) || (a != nil && code != nil && *a == *code)
		}
		require.True(t, ok, "%s: action %s is not in an acknowledged state", where, name)
	}

	// Every record kept was appended (acknowledged or in flight), intact;
	// the newest acknowledged ones are all kept.
	mayBe := map[string]int{}
	for _, n := range st.appended {
		mayBe[id(n)] = n
	}
	if f := st.inflight; f != nil && f.kind == stepAppend {
		mayBe[id(f.n)] = f.n
	}
	list, err := s.ListActivations("guest", Query{}, true)
	require.NoError(t, err, where)
	have := map[string]bool{}
	for _, a := range list {
		n, ok := mayBe[a.ActivationID]
		require.True(t, ok, "%s: record %s was never appended", where, a.ActivationID)
		require.Equal(t, crashActivation(n), a, "%s: record %d", where, n)
		have[a.ActivationID] = true
	}
	keep := st.appended[max(0, len(st.appended)-(crashOpts.MaxActivations-1)):]
	for _, n := range keep {
		require.True(t, have[id(n)], "%s: acknowledged record %d lost", where, n)
	}

	// The store goes on.
	require.NoError(t, s.Append(crashActivation(1000)), where)
	_, err = s.UpdateAction("guest", "after", func(*whisk.Action) (*whisk.Action, error) {
		return action("guest", "after", "x", 1), nil
	})
	require.NoError(t, err, where)
	require.NoError(t, s.Close())
	s2, err := open(img, memDir, crashOpts)
	require.NoError(t, err, "%s: second open", where)
	_, err = s2.GetActivation("guest", id(1000))
	require.NoError(t, err, where)
	require.NoError(t, s2.Close())
}

// TestCrashPoints crashes the workload before each of its persistence
// operations in turn, with each survival rule for what was not yet synced,
// and checks what Open recovers.
func TestCrashPoints(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -crash.seed=%d)", seed, seed)
	steps := crashWorkload()

	full := vfstest.NewMemFS()
	st := runSteps(full, steps)
	require.Nil(t, st.inflight, "the workload fails without a crash")
	total := full.Ops()
	t.Logf("%d steps, %d persistence operations", len(steps), total)
	checkCrashImage(t, full.Image(vfstest.KeepNone, 0), st, "after the workload")

	survivals := []vfstest.Survival{vfstest.KeepNone, vfstest.KeepAll, vfstest.KeepRandom}
	if testing.Short() {
		survivals = survivals[2:]
	}
	for k := 1; k <= total; k++ {
		for _, sv := range survivals {
			m := vfstest.NewMemFS()
			m.CrashAt(k, sv, seed+uint64(k))
			st := runSteps(m, steps)
			img := m.Crashed()
			require.NotNil(t, img, "crash point %d not reached", k)
			where := fmt.Sprintf("crash at operation %d of %d (%v), in %v", k, total, sv, st.inflight)
			checkCrashImage(t, img, st, where)
			if t.Failed() {
				return
			}
		}
	}
}
