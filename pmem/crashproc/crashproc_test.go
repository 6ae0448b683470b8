package crashproc_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/crashproc"
)

// MARVEL_LONG=1 (scripts/test.sh) runs the long suite: 10,000 kills.
var (
	kills = flag.Int("crashproc.kills", defaultKills(), "kill -9 iterations on tmpfs (MARVEL_LONG=1: 10000)")
	seedF = flag.Uint64("crashproc.seed", 0, "seed (0: time-based, printed)")
)

func defaultKills() int {
	if os.Getenv("MARVEL_LONG") == "1" {
		return 10_000
	}
	return 300
}

// childEnv carries the writer's parameters into the re-executed test binary.
const childEnv = "MARVEL_CRASHPROC_CHILD"

// TestMain turns the test binary into the writer child when asked to.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(m.Run())
}

func child(spec string) int {
	f := strings.Split(spec, "|")
	seed, _ := strconv.ParseUint(f[2], 10, 64)
	start, _ := strconv.Atoi(f[3])
	err := crashproc.Writer(context.Background(), crashproc.WriterOptions{
		Dir: f[0], Name: f[1], Seed: seed, Start: start,
		Store: pmem.Options{InitialSize: 256 << 10},
	}, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runKills(t *testing.T, dir string, iterations int) {
	seed := *seedF
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -crashproc.seed=%d), dir %s", seed, seed, dir)
	cfg := crashproc.Config{
		Dir: dir, Name: "victim", Seed: seed, Iterations: iterations, MaxAcks: 60,
		Command: func(start int) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|victim|%d|%d", childEnv, dir, seed, start))
			return cmd
		},
	}
	rep, err := crashproc.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Logf("%d kills, %d acknowledged writes all present, %d in-flight writes found applied, mean reopen %v",
		rep.Iterations, rep.Acked, rep.InFlight, rep.Recovery/time.Duration(max(rep.Iterations, 1)))
	require.Equal(t, iterations, rep.Iterations)
	require.Positive(t, rep.Acked)
}

// TestKill9Tmpfs kills writers on tmpfs, where the shared mapping survives a
// process crash and persistence is a store fence.
func TestKill9Tmpfs(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "marvel-kill9-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	runKills(t, dir, *kills)
}

// TestKill9Disk kills writers on a disk filesystem, where persistence is
// msync of the touched pages.
func TestKill9Disk(t *testing.T) {
	n := *kills / 6
	if testing.Short() {
		n = 10
	}
	runKills(t, t.TempDir(), max(n, 10))
}
