package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

// childEnv makes the test binary act as marvel: TestMain runs main with the
// arguments after the test flags instead of running tests.
const childEnv = "MARVEL_MAIN_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Args = append([]string{"marvel"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// marvel runs the marvel main in a child process and returns its output and
// exit status.
func marvel(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errOut.String(), code
}

func TestCLIExitStatus(t *testing.T) {
	dir := t.TempDir()
	s, err := pmem.Create(dir, "counter", pmem.Options{Owner: "fn:guest/counter"})
	require.NoError(t, err)
	require.NoError(t, s.Put("n", []byte("41")))
	require.NoError(t, s.Close())

	stdout, stderr, code := marvel(t, nil, "pmem", "check", dir)
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stdout, "counter: ok (1 record: 1 put, 0 deletes; 1 key;"), stdout)
	require.Contains(t, stdout, "checked 1 region: 1 ok, 0 damaged\n")
	require.Empty(t, stderr)

	// Usage error: usage text, then the error, exit 2.
	_, stderr, code = marvel(t, nil, "pmem", "ls", "--bogus", dir)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "Usage:\n  marvel pmem ls DIR [flags]")
	require.True(t, strings.HasSuffix(stderr, "marvel: unknown flag: --bogus\n"), stderr)

	// Environment variables reach the commands.
	_, stderr, code = marvel(t, []string{"MARVEL_PMEM=nvdimm"}, "pmem", "ls", dir)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `marvel: environment variable MARVEL_PMEM="nvdimm"`)

	// Runtime failure: only the error, exit 1.
	path := filepath.Join(dir, "counter.region")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[20] ^= 1 // inside the superblock checksum
	require.NoError(t, os.WriteFile(path, b, 0o644))
	stdout, stderr, code = marvel(t, nil, "pmem", "check", dir)
	require.Equal(t, 1, code)
	require.Contains(t, stdout, "counter: DAMAGED, 1 problem\n")
	require.Equal(t, "marvel: pmem check: 1 of 1 regions damaged; first problem: pmem: region corrupt: superblock at offset 0 of "+path+": checksum mismatch",
		strings.SplitN(stderr, " (stored", 2)[0])
	require.NotContains(t, stderr, "Usage:")
}
