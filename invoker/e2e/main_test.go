// Package e2e holds the end-to-end tests of `marvel standalone`: they build
// the real marvel binary and a few Go actions once, run the binary as a
// child process over a data directory of their own, and talk to its
// OpenWhisk REST API over loopback, both through package invoker/client and
// with raw net/http (checking the exact JSON shapes OpenWhisk uses). They
// also kill runtime instances and the server itself, and check what
// survives: the actions, the activation records and the actions' state.
//
// Run them with:
//
//	go test -race -count=1 ./invoker/e2e/
//
// Running as root, the servers isolate namespaces (each runs as a user of
// its own); the isolation test needs root and is skipped otherwise.
package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// Set by TestMain.
var (
	// moduleRoot is the directory of the module's go.mod.
	moduleRoot string
	// marvelBin is the built `marvel` command.
	marvelBin string
	// actionZip maps an action (echo, counter, probe) to its executable
	// zipped (exec at the root, mode 0755) and base64-encoded, the code of a
	// "go:default" action compiled beforehand.
	actionZip = map[string]string{}
)

// actionPackages are the actions the tests deploy.
var actionPackages = map[string]string{
	"echo":    "./actions/echo",
	"counter": "./actions/counter",
	"probe":   "./invoker/e2e/testdata/probe",
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "marvel-e2e-build-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: set-up failed: %v\n", err)
		return 1
	}
	return m.Run()
}

// setup finds the module, builds marvel and the actions into tmp, and zips
// the actions.
func setup(tmp string) error {
	root, err := testbin.ModuleRoot()
	if err != nil {
		return err
	}
	moduleRoot = root
	marvelBin = filepath.Join(tmp, "marvel")
	execs := map[string]string{}
	targets := []testbin.Target{{Out: marvelBin, Pkg: "./cmd/marvel"}}
	for name, pkg := range actionPackages {
		exe := filepath.Join(tmp, name, "exec")
		execs[name] = exe
		targets = append(targets, testbin.Target{Out: exe, Pkg: pkg, Env: []string{"CGO_ENABLED=0"}})
	}
	if err := testbin.Build(root, targets...); err != nil {
		return err
	}
	for name, exe := range execs {
		b, err := os.ReadFile(exe)
		if err != nil {
			return err
		}
		z, err := testbin.ZipExec(b)
		if err != nil {
			return err
		}
		actionZip[name] = base64.StdEncoding.EncodeToString(z)
	}
	return nil
}
