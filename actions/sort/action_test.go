package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce"
)

// TestMainMapReduce sorts generated records with two map tasks and two
// reduce tasks through Main, as the runtime would, over the namespace's
// files and a PMEM shuffle inside them, and validates the output.
func TestMainMapReduce(t *testing.T) {
	files := t.TempDir()
	t.Setenv("MARVEL_FILES_DIR", files)
	var in bytes.Buffer
	require.NoError(t, mapreduce.GenerateRecords(&in, 1000, 1))
	require.NoError(t, os.MkdirAll(filepath.Join(files, "in"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(files, "in", "recs"), in.Bytes(), 0o644))
	shuffle := map[string]any{"kind": "pmem", "dir": filepath.Join(files, ".shuffle"), "mode": "emulated"}
	sample, err := mapreduce.SampleRecords(bytes.NewReader(in.Bytes()), int64(in.Len()), 100)
	require.NoError(t, err)
	splits, err := mapreduce.SampleSplitPoints(sample, 2)
	require.NoError(t, err)
	args := map[string]any{"splits": []any{mapreduce.NewSortArgs(splits).Splits[0]}}

	ranges, err := mapreduce.Splits(int64(in.Len()), 2, mapreduce.RecordSize)
	require.NoError(t, err)
	for m, r := range ranges {
		res, err := Main(map[string]any{"job": "s", "phase": "map", "task": m, "attempt": 1, "args": args,
			"input": map[string]any{"path": "in/recs", "offset": r.Offset, "length": r.Length}, "reducers": 2, "shuffle": shuffle})
		require.NoError(t, err)
		require.NotContains(t, res, "error", res)
	}
	var parts []io.Reader
	for r := range 2 {
		out := mapreduce.FinalOutput("out", r)
		res, err := Main(map[string]any{"job": "s", "phase": "reduce", "task": r, "attempt": 1,
			"inputs": []any{mapreduce.ShuffleKey("s", 0, 1, r), mapreduce.ShuffleKey("s", 1, 1, r)},
			"output": out, "shuffle": shuffle})
		require.NoError(t, err)
		require.NotContains(t, res, "error", res)
		f, err := os.Open(filepath.Join(files, out))
		require.NoError(t, err)
		defer f.Close()
		parts = append(parts, f)
	}
	sum, err := mapreduce.ValidateSort(bytes.NewReader(in.Bytes()), parts...)
	require.NoError(t, err)
	require.Equal(t, int64(1000), sum.Records)
}
