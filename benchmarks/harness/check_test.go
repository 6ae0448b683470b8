package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce"
)

func TestCompareOutputs(t *testing.T) {
	ref := Output{Workload: "sort", Store: "pmem", Repeat: 1, SHA256: "aa", Bytes: 100}
	same := Output{Workload: "sort", Store: "redis", Repeat: 2, SHA256: "aa", Bytes: 100}
	require.NoError(t, CompareOutputs(ref, same))

	for _, bad := range []Output{
		{Workload: "sort", Store: "s3", Repeat: 1, SHA256: "bb", Bytes: 100},
		{Workload: "sort", Store: "disk", Repeat: 1, SHA256: "aa", Bytes: 99},
		{Workload: "grep", Store: "disk", Repeat: 1, SHA256: "aa", Bytes: 100},
	} {
		err := CompareOutputs(ref, bad)
		require.ErrorIs(t, err, ErrOutputMismatch, "%v", bad)
		require.Contains(t, err.Error(), bad.Workload)
		require.Contains(t, err.Error(), bad.Store)
	}
}

// TestReadOutput: the digest is the parts' concatenation's; a sort output
// out of order, or missing or altering a record, is a mismatch.
func TestReadOutput(t *testing.T) {
	files := t.TempDir()
	var in bytes.Buffer
	require.NoError(t, mapreduce.GenerateRecords(&in, 1000, 9))
	inSum, err := mapreduce.SummarizeRecords(bytes.NewReader(in.Bytes()))
	require.NoError(t, err)
	sorted := sortRecords(in.Bytes())

	write := func(name string, parts ...[]byte) []string {
		var rels []string
		for i, p := range parts {
			rel := filepath.ToSlash(filepath.Join(name, mapreduce.PartName(i)))
			require.NoError(t, os.MkdirAll(filepath.Join(files, name), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(files, rel), p, 0o644))
			rels = append(rels, rel)
		}
		return rels
	}

	good := write("good", sorted[:40000], sorted[40000:])
	sum, n, err := readOutput(files, good, &inSum)
	require.NoError(t, err)
	want := sha256.Sum256(sorted)
	require.Equal(t, hex.EncodeToString(want[:]), sum)
	require.Equal(t, int64(len(sorted)), n)

	// Text outputs are only digested.
	sum, n, err = readOutput(files, write("text", []byte("a\t1\n"), []byte("b\t2\n")), nil)
	require.NoError(t, err)
	want = sha256.Sum256([]byte("a\t1\nb\t2\n"))
	require.Equal(t, hex.EncodeToString(want[:]), sum)
	require.Equal(t, int64(8), n)

	swapped := write("swapped", sorted[40000:], sorted[:40000])
	_, _, err = readOutput(files, swapped, &inSum)
	require.ErrorIs(t, err, ErrOutputMismatch)
	require.ErrorIs(t, err, mapreduce.ErrNotSorted)

	missing := write("missing", sorted[:40000], sorted[40100:])
	_, _, err = readOutput(files, missing, &inSum)
	require.ErrorIs(t, err, ErrOutputMismatch)
	require.ErrorContains(t, err, "999 records in the output, 1000 in the input")

	altered := bytes.Clone(sorted)
	altered[len(altered)-1] ^= 1
	_, _, err = readOutput(files, write("altered", altered), &inSum)
	require.ErrorIs(t, err, ErrOutputMismatch)
	require.ErrorContains(t, err, "checksum")

	_, _, err = readOutput(files, []string{"nosuch/part-r-00000"}, nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func sortRecords(b []byte) []byte {
	recs := make([][]byte, 0, len(b)/mapreduce.RecordSize)
	for off := 0; off < len(b); off += mapreduce.RecordSize {
		recs = append(recs, b[off:off+mapreduce.RecordSize])
	}
	for i := 1; i < len(recs); i++ { // insertion sort: small and obviously right
		for j := i; j > 0 && bytes.Compare(recs[j][:mapreduce.KeySize], recs[j-1][:mapreduce.KeySize]) < 0; j-- {
			recs[j], recs[j-1] = recs[j-1], recs[j]
		}
	}
	return bytes.Join(recs, nil)
}
