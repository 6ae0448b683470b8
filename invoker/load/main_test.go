// Package load holds the load and resource-flatness tests of `marvel
// standalone`: they build the real marvel binary and the echo action once,
// run the binary as a child process over a data directory of their own, and
// drive it over loopback with many concurrent clients of the OpenWhisk API
// (raw net/http) and of the HDFS bridge (github.com/colinmarc/hdfs/v2):
//
//   - TestLoadInvoke: 1,000 concurrent blocking invokes of a stateless action
//     served by several instances; every one must succeed; the latency
//     percentiles are logged;
//   - TestLoadHDFS: 64 concurrent readers and 8 writers of multi-MiB files;
//     every read must equal what was written;
//   - TestLoadResourcesFlat: rounds of both at once, sampling the server's
//     RSS, open descriptors and goroutines before, during and after each
//     round; after a warm-up round, the later rounds must not grow them
//     beyond bounds that a leak of one descriptor (or a few KiB) per request
//     would cross;
//   - TestLoadSoak: the same mix in a loop for -load.soak (or 10 minutes
//     with MARVEL_LONG=1), sampling every 10 s; skipped otherwise.
//
// Run them with (about 40 s on a 2-core VM with the build cached; about
// 55 s with -race, which shrinks the HDFS files and rounds):
//
//	go test -count=1 -v ./invoker/load/
//	go test -count=1 -v -run Soak ./invoker/load/ -load.soak 10m
//
// The tests run one after the other (none is parallel): they measure.
package load

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

var (
	soakFlag  = flag.Duration("load.soak", 0, "run TestLoadSoak for this long (MARVEL_LONG=1: 10m)")
	pprofFlag = flag.String("load.pprof", "", "serve the server's Go profiles on this address (its --pprof; default a free loopback port), to look at what grows")
)

// Set by TestMain.
var (
	moduleRoot string
	marvelBin  string
	// echoZip is the echo action's executable, zipped and base64-encoded:
	// the code of a precompiled "go:default" action.
	echoZip string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "marvel-load-build-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "load: set-up failed: %v\n", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		// The tests' own clients (HTTP transports, HDFS clients, samplers)
		// must all be gone.
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "load: goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}

// setup builds marvel and the echo action into tmp and zips the action.
func setup(tmp string) error {
	root, err := testbin.ModuleRoot()
	if err != nil {
		return err
	}
	moduleRoot = root
	marvelBin = filepath.Join(tmp, "marvel")
	echo := filepath.Join(tmp, "echo", "exec")
	if err := testbin.Build(root,
		testbin.Target{Out: marvelBin, Pkg: "./cmd/marvel"},
		testbin.Target{Out: echo, Pkg: "./actions/echo", Env: []string{"CGO_ENABLED=0"}},
	); err != nil {
		return err
	}
	b, err := os.ReadFile(echo)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "exec", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	echoZip = base64.StdEncoding.EncodeToString(buf.Bytes())
	return nil
}
