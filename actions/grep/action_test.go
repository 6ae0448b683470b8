package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMainMapReduce runs a map task and a reduce task through Main, as the
// runtime would, over the namespace's files and a PMEM shuffle inside them.
func TestMainMapReduce(t *testing.T) {
	files := t.TempDir()
	t.Setenv("MARVEL_FILES_DIR", files)
	require.NoError(t, os.MkdirAll(filepath.Join(files, "in"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(files, "in", "t"), []byte("cat catalog\ndog cat\n"), 0o644))
	shuffle := map[string]any{"kind": "pmem", "dir": filepath.Join(files, ".shuffle"), "mode": "emulated"}
	args := map[string]any{"pattern": `cat\w*`}

	res, err := Main(map[string]any{"job": "g", "phase": "map", "task": 0, "attempt": 1, "args": args,
		"input": map[string]any{"path": "in/t", "offset": 0, "length": 20}, "reducers": 1, "shuffle": shuffle})
	require.NoError(t, err)
	require.NotContains(t, res, "error", res)

	res, err = Main(map[string]any{"job": "g", "phase": "reduce", "task": 0, "attempt": 1, "args": args,
		"inputs": []any{"g/m00000-a1/r00000"}, "output": "out/part-r-00000", "shuffle": shuffle})
	require.NoError(t, err)
	require.NotContains(t, res, "error", res)
	out, err := os.ReadFile(filepath.Join(files, "out", "part-r-00000"))
	require.NoError(t, err)
	require.Equal(t, "cat\t2\ncatalog\t1\n", string(out))
}
