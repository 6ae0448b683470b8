package pmem_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
)

// TestCrashChains is what repeated kill -9 does to one region: a writer
// crashes at a random persistence operation, the next one recovers what
// survived (every store, as on a process crash), checks it, and carries on
// with the rest of the workload until it crashes in turn, many times over the
// life of one region. TestCrashPoints crashes each workload once; chains reach
// states only a recovered store creates (its writes landing over a dead
// writer's uncommitted records, growth and compaction after recovery).
func TestCrashChains(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chain seed %d (rerun with -crash.seed=%d)", seed, seed)
	chains := 20 * *crashRounds
	for c := range chains {
		for _, w := range workloads() {
			for _, surv := range []pmemtest.Survival{pmemtest.KeepAll, pmemtest.KeepRandom} {
				chainOne(t, w, surv, seed+uint64(c))
			}
		}
	}
}

func chainOne(t *testing.T, w workload, surv pmemtest.Survival, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := pmemtest.NewCrashMedium(w.opts.InitialSize)
	s, err := pmem.Format(m, w.opts)
	require.NoError(t, err)
	acked := state{}
	crashes := 0
	for i := 0; i < len(w.steps); {
		m.CrashAt(m.Ops()+1+rng.IntN(40), surv, rng.Uint64())
		var inflight state
		for ; i < len(w.steps); i++ {
			err := run(s, w.steps[i])
			if err == nil {
				acked = acked.apply(w.steps[i])
				continue
			}
			if errors.Is(err, pmem.ErrFull) && !m.Crashed() {
				continue
			}
			require.True(t, m.Crashed(), "%s seed %d: step %d failed without a crash: %v", w.name, seed, i, err)
			inflight = acked.apply(w.steps[i])
			i++
			break
		}
		if !m.Crashed() {
			break
		}
		crashes++
		m = pmemtest.FromImage(m.Image())
		s, err = pmem.Recover(m, w.opts)
		require.NoError(t, err, "%s seed %d: recovery after crash %d (step %d) failed", w.name, seed, crashes, i-1)
		rep := s.Check()
		require.True(t, rep.OK(), "%s seed %d crash %d: %v", w.name, seed, crashes, rep.Problems)
		got := dump(t, s)
		switch {
		case sameState(got, acked):
		case inflight != nil && sameState(got, inflight):
			acked = inflight
		default:
			t.Fatalf("%s seed %d crash %d: recovered %s\nacknowledged %s\nin flight %s", w.name, seed, crashes,
				describe(got), describe(acked), describe(inflight))
		}
	}
	require.True(t, sameState(dump(t, s), acked), fmt.Sprintf("%s seed %d: end state", w.name, seed))
}
