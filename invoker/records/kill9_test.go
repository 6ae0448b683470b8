package records

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

var (
	kills     = flag.Int("kill9.kills", 5, "kill -9 iterations")
	kill9Seed = flag.Uint64("kill9.seed", 0, "seed for the kill moments (0: time-based, printed)")
)

// childEnv carries the writer's parameters into the re-executed test
// binary: dir|iteration.
const childEnv = "MARVEL_RECORDS_KILL9_CHILD"

// TestMain turns the test binary into the writer child when asked to.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(kill9Child(spec))
	}
	os.Exit(m.Run())
}

var kill9Opts = Options{SegmentBytes: 256 << 10, MaxActivations: 1 << 20}

// kill9Activation is the record of id aid; its size varies with the id,
// now and then to more than 100 KB.
func kill9Activation(aid string) whisk.Activation {
	h := fnv.New32a()
	h.Write([]byte(aid))
	logs := int(h.Sum32() % 12)
	if h.Sum32()%100 == 0 {
		logs = 1500
	}
	return activation(aid, "guest", "kill9", 1, logs)
}

// kill9Code is the code of the counter action at count n.
func kill9Code(n int) string { return fmt.Sprintf("count %d ", n) + bigCode(1000+n%7*20000) }

// kill9Child appends records from 8 goroutines and updates a counter
// action from another, forever, printing each acknowledged id ("A id") and
// count ("U n") on stdout.
func kill9Child(spec string) int {
	dir, it, _ := strings.Cut(spec, "|")
	iter, _ := strconv.Atoi(it)
	s, err := Open(dir, kill9Opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(line + "\n")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ack("ready")
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				aid := fmt.Sprintf("%08x%08x%016x", iter, w, i)
				if err := s.Append(kill9Activation(aid)); err != nil {
					fail(err)
				}
				ack("A " + aid)
			}
		}()
	}
	go func() {
		for {
			var n int
			_, err := s.UpdateAction("guest", "counter", func(cur *whisk.Action) (*whisk.Action, error) {
				if cur == nil {
					cur = action("guest", "counter", "", 0)
				}
				if raw := cur.Annotations.Get("count"); raw != nil {
					if err := json.Unmarshal(raw, &n); err != nil {
						return nil, err
					}
				}
				n++
				code := kill9Code(n)
				cur.Exec.Code = &code
				cur.Annotations = cur.Annotations.Set("count", n)
				return cur, nil
			})
			if err != nil {
				fail(err)
			}
			ack("U " + strconv.Itoa(n))
		}
	}()
	select {}
}

// TestKill9 kills a writer process with SIGKILL at a random moment, reopens
// the store and checks every acknowledged record and action update is
// there, intact; several times over the same directory.
func TestKill9(t *testing.T) {
	seed := *kill9Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -kill9.seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 9))
	dir := t.TempDir()
	var acked []string
	lastCount := 0
	for iter := 1; iter <= *kills; iter++ {
		killAfter := 1 + r.IntN(400)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", childEnv, dir, iter))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		sc := bufio.NewScanner(out)
		require.True(t, sc.Scan(), "child: %s", &stderr)
		require.Equal(t, "ready", sc.Text())
		seen, killed := 0, false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "A ") && len(line) == 34:
				acked = append(acked, line[2:])
			case strings.HasPrefix(line, "U "):
				n, err := strconv.Atoi(line[2:])
				require.NoError(t, err)
				lastCount = max(lastCount, n)
			default:
				t.Fatalf("child said %q", line)
			}
			// Lines read after the kill were written before it: they
			// count as acknowledged all the same.
			if seen++; seen == killAfter && !killed {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
			}
		}
		require.NoError(t, sc.Err())
		err = cmd.Wait()
		require.True(t, killed, "child ended by itself: %v: %s", err, &stderr)
		require.ErrorContains(t, err, "killed")

		start := time.Now()
		s, err := open(vfs.OS{}, dir, kill9Opts)
		require.NoError(t, err, "reopen after kill %d", iter)
		reopen := time.Since(start)
		// Every acknowledged record is kept; those of this run, acknowledged
		// or in flight, are intact (earlier ones were checked after earlier
		// kills, and Open checked every checksum).
		sums, err := s.ListActivations("guest", Query{}, false)
		require.NoError(t, err)
		kept := map[string]bool{}
		for _, a := range sums {
			kept[a.ActivationID] = true
			if strings.HasPrefix(a.ActivationID, fmt.Sprintf("%08x", iter)) {
				got, err := s.GetActivation("guest", a.ActivationID)
				require.NoError(t, err)
				require.Equal(t, kill9Activation(a.ActivationID), got)
			}
		}
		for _, aid := range acked {
			require.True(t, kept[aid], "kill %d: acknowledged record %s lost", iter, aid)
		}
		var n int
		counter, err := s.GetAction("guest", "counter", true)
		if lastCount == 0 && errors.Is(err, ErrNotFound) {
			// Killed before the counter's first update was acknowledged:
			// the action need not exist yet.
		} else {
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(counter.Annotations.Get("count"), &n))
			require.GreaterOrEqual(t, n, lastCount, "acknowledged action update lost")
			require.LessOrEqual(t, n, lastCount+1)
			require.Equal(t, kill9Code(n), *counter.Exec.Code)
		}
		lastCount = n
		st := s.Stats()
		require.NoError(t, s.checkIndex())
		require.NoError(t, s.Close())
		t.Logf("kill %d after %d acknowledgements: %d records acknowledged in all, %d kept, %d segments, %d torn bytes cut, counter %d, reopened in %v",
			iter, killAfter, len(acked), st.Activations, st.Segments, st.Truncated, n, reopen)
	}
}
