// Package testbin builds the module's commands for tests that run them as
// child processes: the marvel executable (standalone, runtime instances,
// MapReduce tasks) and action binaries; and it holds the small helpers
// such tests share (their children's environment, a buffer for their
// output).
//
// It is imported only by tests; a test binary builds what it needs once, in
// TestMain, into a temporary directory it removes at the end.
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// ModuleRoot returns the directory of the module's go.mod, found with
// `go env GOMOD` from the test's working directory (its package directory).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (is the go command on PATH?)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a module (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// Target is one package to build: Pkg (a path relative to the module root,
// such as "./cmd/marvel") into the executable Out, with Env added to the
// environment of the build (e.g. CGO_ENABLED=0).
type Target struct {
	Out string
	Pkg string
	Env []string
}

// Build builds the targets concurrently from the module root and returns
// every failure, with the compiler's output.
func Build(root string, targets ...Target) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, t := range targets {
		wg.Go(func() {
			cmd := exec.Command("go", "build", "-o", t.Out, t.Pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), t.Env...)
			if b, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("go build -o %s %s: %w\n%s", t.Out, t.Pkg, err, b))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Main is a TestMain for packages whose tests run the marvel command: it
// builds ./cmd/marvel into a temporary directory and stores its path in
// *bin (unless *bin is already set, e.g. from a flag), runs the tests,
// removes the directory and returns the exit code. With checkLeaks, a
// passing run that leaves goroutines behind fails.
func Main(m *testing.M, bin *string, checkLeaks bool) int {
	if *bin == "" {
		tmp, err := os.MkdirTemp("", "marvel-test-bin-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "testbin: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		root, err := ModuleRoot()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testbin: %v\n", err)
			return 1
		}
		*bin = filepath.Join(tmp, "marvel")
		if err := Build(root, Target{Out: *bin, Pkg: "./cmd/marvel"}); err != nil {
			fmt.Fprintf(os.Stderr, "testbin: %v\n", err)
			return 1
		}
	}
	code := m.Run()
	if code == 0 && checkLeaks {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}

// ChildEnv is the test's environment for a marvel or action child: without
// anything that configures marvel, the runtime or actions (MARVEL_*, OW_*,
// __OW_*) and without TMPDIR, so that the child runs with its defaults,
// plus more (such as "TMPDIR=" a directory of the test's).
func ChildEnv(more ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MARVEL_") || strings.HasPrefix(k, "OW_") || strings.HasPrefix(k, "__OW_") || k == "TMPDIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, more...)
}

// SyncBuffer is a bytes.Buffer that a logger or a child's output and the
// test may use at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WorldExecutable copies the running test binary, as name, into a fresh
// directory any user may enter, and returns its path: a test that runs
// itself as another user needs it, since the build directory is root's
// 0700.
func WorldExecutable(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "marvel-world-exec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	exe := filepath.Join(dir, name)
	if err == nil {
		err = os.WriteFile(exe, self, 0o755)
	}
	if err != nil {
		t.Fatalf("copy the test binary for another user: %v", err)
	}
	return exe
}
