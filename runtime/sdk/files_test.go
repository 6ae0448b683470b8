package sdk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

func TestFiles(t *testing.T) {
	root := filepath.Join(t.TempDir(), "fs", "guest")
	f, err := NewFiles(root, pmem.ModeAuto)
	require.NoError(t, err)
	require.NoError(t, f.WriteFile("shuffle/job1/part-0", []byte("hello")))
	require.NoError(t, f.WriteFile("shuffle/job1/part-1", nil))
	require.NoError(t, f.WriteFile("out", []byte("x")))
	require.NoError(t, f.WriteFile("out", []byte("y")), "WriteFile replaces")

	b, err := f.ReadFile("shuffle/job1/part-0")
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	onDisk, err := os.ReadFile(filepath.Join(root, "shuffle", "job1", "part-0"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(onDisk), "the file is where the HDFS bridge will look")

	m, err := f.Map("out")
	require.NoError(t, err)
	require.Equal(t, "y", string(m.Bytes()))
	require.NoError(t, m.Close())

	w, err := f.Create("shuffle/job1/part-2", 0, false)
	require.NoError(t, err)
	_, err = w.Write([]byte("pending"))
	require.NoError(t, err)
	names, err := f.List("")
	require.NoError(t, err)
	require.Equal(t, []string{"out", "shuffle/job1/part-0", "shuffle/job1/part-1"}, names, "a file being written is not listed")
	require.NoError(t, w.Commit())
	names, err = f.List("shuffle")
	require.NoError(t, err)
	require.Equal(t, []string{"shuffle/job1/part-0", "shuffle/job1/part-1", "shuffle/job1/part-2"}, names)
	names, err = f.List("nothing/here")
	require.NoError(t, err)
	require.Empty(t, names)

	_, err = f.ReadFile("missing")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, f.Remove("shuffle"))
	require.ErrorIs(t, f.Remove("shuffle"), ErrNotFound)

	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.hidden", ".tmp", "a\\b", "a\x00b"} {
		_, err := f.ReadFile(bad)
		require.ErrorIs(t, err, ErrBadName, "%q", bad)
		require.ErrorIs(t, f.WriteFile(bad, nil), ErrBadName, "%q", bad)
	}
}
