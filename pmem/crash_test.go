package pmem_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
)

var (
	crashSeed   = flag.Uint64("crash.seed", 0, "seed for randomised crash tests (0: time-based, printed)")
	crashRounds = flag.Int("crash.rounds", defaultRounds(), "seeds per workload for the keep-random survival rule (MARVEL_LONG=1: 20)")
)

func defaultRounds() int {
	if os.Getenv("MARVEL_LONG") == "1" {
		return 20
	}
	return 1
}

// A crash workload is a deterministic list of steps against a store.
type stepKind int

const (
	stepPut stepKind = iota
	stepDelete
	stepBatch
	stepCompact
	stepGrow
	stepPutReader
)

type step struct {
	kind  stepKind
	key   string
	value []byte
	batch []step // for stepBatch: puts and deletes
	size  int64  // for stepGrow
}

type state map[string][]byte

// apply returns the state after s succeeds.
func (st state) apply(s step) state {
	next := maps.Clone(st)
	switch s.kind {
	case stepPut, stepPutReader:
		next[s.key] = s.value
	case stepDelete:
		delete(next, s.key)
	case stepBatch:
		for _, b := range s.batch {
			next = next.apply(b)
		}
	}
	return next
}

func run(s *pmem.Store, st step) error {
	switch st.kind {
	case stepPut:
		return s.Put(st.key, st.value)
	case stepPutReader:
		return s.PutReader(st.key, bytes.NewReader(st.value), int64(len(st.value)))
	case stepDelete:
		return s.Delete(st.key)
	case stepBatch:
		var b pmem.Batch
		for _, op := range st.batch {
			if op.kind == stepPut {
				b.Put(op.key, op.value)
			} else {
				b.Delete(op.key)
			}
		}
		return s.Apply(&b)
	case stepCompact:
		return s.Compact()
	case stepGrow:
		return s.Grow(st.size)
	}
	return fmt.Errorf("unknown step %d", st.kind)
}

// value makes a value whose bytes identify key, version and position, so a
// torn or misplaced value can never pass for another.
func value(key string, version, n int) []byte {
	v := make([]byte, n)
	seed := uint64(len(key))*1_000_003 + uint64(version)
	for _, c := range key {
		seed = seed*31 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

type workload struct {
	name  string
	opts  pmem.Options
	steps []step
}

func workloads() []workload {
	small := pmem.Options{InitialSize: 64 << 10}
	var w []workload

	// Overwrites of a few keys: garbage builds up, compactions and grows follow.
	{
		var steps []step
		for i := range 60 {
			k := fmt.Sprintf("k%d", i%6)
			steps = append(steps, step{kind: stepPut, key: k, value: value(k, i, 200+(i*997)%5000)})
		}
		w = append(w, workload{"overwrite", small, steps})
	}
	// Puts and deletes interleaved, empty values, an explicit compaction.
	{
		var steps []step
		for i := range 40 {
			k := fmt.Sprintf("key-%02d", i%9)
			switch {
			case i%5 == 4:
				steps = append(steps, step{kind: stepDelete, key: k})
			case i%7 == 3:
				steps = append(steps, step{kind: stepPut, key: k, value: nil})
			default:
				steps = append(steps, step{kind: stepPut, key: k, value: value(k, i, 1+(i*131)%3000)})
			}
			if i == 25 {
				steps = append(steps, step{kind: stepCompact})
			}
		}
		w = append(w, workload{"delete", small, steps})
	}
	// Large values written with non-temporal copies and streamed: grows.
	{
		var steps []step
		for i := range 8 {
			k := fmt.Sprintf("big%d", i%3)
			kind := stepPut
			if i%2 == 1 {
				kind = stepPutReader
			}
			steps = append(steps, step{kind: kind, key: k, value: value(k, i, 40_000+i*13_001)})
		}
		steps = append(steps, step{kind: stepGrow, size: 2 << 20})
		w = append(w, workload{"large", small, steps})
	}
	// Atomic batches.
	{
		var steps []step
		for i := range 20 {
			var b []step
			for j := range 4 {
				k := fmt.Sprintf("b%d", (i+j)%7)
				if (i+j)%5 == 0 {
					b = append(b, step{kind: stepDelete, key: k})
				} else {
					b = append(b, step{kind: stepPut, key: k, value: value(k, i*10+j, 100+(i*j*37)%2000)})
				}
			}
			steps = append(steps, step{kind: stepBatch, batch: b})
		}
		w = append(w, workload{"batch", small, steps})
	}
	// A hard size limit: compaction at the limit, and ErrFull that changes nothing.
	{
		var steps []step
		for i := range 50 {
			k := fmt.Sprintf("f%d", i%4)
			steps = append(steps, step{kind: stepPut, key: k, value: value(k, i, 3000+(i*577)%9000)})
		}
		steps = append(steps, step{kind: stepPut, key: "too-big", value: value("too-big", 0, 100_000)})
		steps = append(steps, step{kind: stepPut, key: "after", value: value("after", 0, 10)})
		w = append(w, workload{"limit", pmem.Options{InitialSize: 64 << 10, MaxSize: 128 << 10}, steps})
	}
	return w
}

func dump(t testing.TB, s *pmem.Store) state {
	t.Helper()
	got := state{}
	require.NoError(t, s.Range("", "", func(k string, v []byte) error {
		got[k] = bytes.Clone(v)
		return nil
	}))
	return got
}

func sameState(a, b state) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return bytes.Equal(x, y) })
}

func describe(st state) string {
	keys := slices.Sorted(maps.Keys(st))
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s:%d ", k, len(st[k]))
	}
	return b.String()
}

// TestCrashPoints crashes every workload at every persistence operation, under
// each survival rule, reopens the surviving image and checks that every
// acknowledged write is there, the one in flight is all-or-nothing, and every
// checksum holds. The recovered store must then take more writes.
func TestCrashPoints(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("crash seed %d (rerun with -crash.seed=%d)", seed, seed)
	for _, w := range workloads() {
		for _, surv := range []pmemtest.Survival{pmemtest.KeepNone, pmemtest.KeepAll, pmemtest.KeepRandom} {
			rounds := 1
			if surv == pmemtest.KeepRandom {
				rounds = *crashRounds
			}
			for round := range rounds {
				t.Run(fmt.Sprintf("%s/%v/%d", w.name, surv, round), func(t *testing.T) {
					t.Parallel()
					points := crashWorkload(t, w, surv, seed+uint64(round)<<32)
					t.Logf("%d crash points enumerated", points)
				})
			}
		}
	}
}

func crashWorkload(t *testing.T, w workload, surv pmemtest.Survival, seed uint64) int {
	for k := 1; ; k++ {
		m := pmemtest.NewCrashMedium(w.opts.InitialSize)
		s, err := pmem.Format(m, w.opts)
		require.NoError(t, err)
		m.CrashAt(m.Ops()+k, surv, seed+uint64(k))

		acked := state{}
		var inflight state // state if the failing step took effect
		for i, st := range w.steps {
			err := run(s, st)
			if err == nil {
				acked = acked.apply(st)
				continue
			}
			if errors.Is(err, pmem.ErrFull) && !m.Crashed() {
				continue // refused cleanly: nothing changes
			}
			require.True(t, m.Crashed(), "step %d failed without a crash: %v", i, err)
			inflight = acked.apply(st)
			break
		}
		if !m.Crashed() {
			got := dump(t, s)
			require.True(t, sameState(got, acked), "end state %s, want %s", describe(got), describe(acked))
			return k - 1
		}
		img := m.Image()
		s2, err := pmem.Recover(pmemtest.FromImage(img), w.opts)
		require.NoError(t, err, "crash point %d (%v seed %d): recovery failed", k, surv, seed+uint64(k))
		rep := s2.Check()
		require.True(t, rep.OK(), "crash point %d: check: %v", k, rep.Problems)
		got := dump(t, s2)
		if !sameState(got, acked) && (inflight == nil || !sameState(got, inflight)) {
			t.Fatalf("crash point %d (%v, seed %d): recovered %s\nacknowledged %s\nin flight %s",
				k, surv, seed+uint64(k), describe(got), describe(acked), describe(inflight))
		}
		// The recovered store goes on working.
		require.NoError(t, s2.Put("post-crash", []byte("x")))
		s3, err := pmem.Recover(pmemtest.FromImage(s2.Medium().(*pmemtest.CrashMedium).Durable()), w.opts)
		require.NoError(t, err)
		v, err := s3.Get("post-crash")
		require.NoError(t, err)
		require.Equal(t, []byte("x"), v)
	}
}
