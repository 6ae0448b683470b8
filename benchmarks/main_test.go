package benchmarks

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the package with TMPDIR set to a directory of its own,
// removed at the end: what is built once per test binary (the marvel
// command, the echo action) lives there, outside any benchmark's TempDir.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "marvel-bench-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchmarks: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := os.Setenv("TMPDIR", tmp); err != nil {
		fmt.Fprintf(os.Stderr, "benchmarks: %v\n", err)
		return 1
	}
	return m.Run()
}
