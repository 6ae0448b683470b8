package chaos

import (
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// Flags of the chaos test.
var (
	seedFlag     = flag.Int64("chaos.seed", 0, "seed of the chaos schedule (0: from the clock; the seed used is printed)")
	durationFlag = flag.Duration("chaos.duration", 0, "how long to run jobs under chaos (default 40s; 10m with MARVEL_LONG=1)")
	everyFlag    = flag.Duration("chaos.every", 4*time.Second, "mean time between two kills")
)

// Set by TestMain.
var (
	// marvelBin is the built `marvel` command.
	marvelBin string
	// counterZip is the counter action's executable, zipped as exec and
	// base64-encoded: the code of a "go:default" action built beforehand.
	counterZip string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "marvel-chaos-build-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	root, err := testbin.ModuleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 1
	}
	marvelBin = filepath.Join(tmp, "marvel")
	counterExe := filepath.Join(tmp, "counter", "exec")
	if err := testbin.Build(root,
		testbin.Target{Out: marvelBin, Pkg: "./cmd/marvel"},
		testbin.Target{Out: counterExe, Pkg: "./actions/counter", Env: []string{"CGO_ENABLED=0"}},
	); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 1
	}
	b, err := os.ReadFile(counterExe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 1
	}
	z, err := testbin.ZipExec(b)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: zip the counter: %v\n", err)
		return 1
	}
	counterZip = base64.StdEncoding.EncodeToString(z)
	return m.Run()
}
