package pmem_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

func TestFileWriteCommitMap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shuffle", "job1", "part-0")
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 300<<10+7) // outgrows the first mapping, odd length
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	w, err := pmem.CreateFile(path, pmem.FileOptions{})
	require.NoError(t, err)
	// Small writes (buffered) and one large write (direct).
	_, err = w.Write(want[:10])
	require.NoError(t, err)
	_, err = w.Write(want[10 : 100<<10])
	require.NoError(t, err)
	n, err := w.ReadFrom(bytes.NewReader(want[100<<10:]))
	require.NoError(t, err)
	require.EqualValues(t, len(want)-100<<10, n)
	require.EqualValues(t, len(want), w.Len())

	_, err = os.Stat(path)
	require.True(t, os.IsNotExist(err), "nothing visible under the name before Commit")
	require.NoError(t, w.Commit())
	require.NoError(t, w.Abort(), "Abort after Commit does nothing")

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, len(want), fi.Size(), "file cut to its exact length")
	m, err := pmem.MapFile(path, pmem.ModeAuto)
	require.NoError(t, err)
	require.Equal(t, want, m.Bytes())
	require.NoError(t, m.Close())

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary left behind")
}

func TestFileNoOverwriteAbortAndLimits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")

	w, err := pmem.CreateFile(path, pmem.FileOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("first"))
	require.NoError(t, err)
	require.NoError(t, w.Commit())

	_, err = pmem.CreateFile(path, pmem.FileOptions{})
	require.ErrorIs(t, err, pmem.ErrExist)

	w, err = pmem.CreateFile(path, pmem.FileOptions{Overwrite: true})
	require.NoError(t, err)
	_, err = w.Write([]byte("second"))
	require.NoError(t, err)
	require.NoError(t, w.Commit())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "second", string(got))

	w, err = pmem.CreateFile(filepath.Join(dir, "dropped"), pmem.FileOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("never seen"))
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	_, err = w.Write([]byte("x"))
	require.ErrorIs(t, err, pmem.ErrClosed)

	w, err = pmem.CreateFile(filepath.Join(dir, "small"), pmem.FileOptions{MaxSize: 8})
	require.NoError(t, err)
	_, err = w.Write([]byte("12345678"))
	require.NoError(t, err)
	_, err = w.Write([]byte("9"))
	require.ErrorIs(t, err, pmem.ErrTooLarge)
	require.ErrorIs(t, w.Commit(), pmem.ErrTooLarge, "a failed writer cannot be committed")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"out"}, names, "aborted and failed files leave nothing")

	empty := filepath.Join(dir, "empty")
	w, err = pmem.CreateFile(empty, pmem.FileOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Commit())
	m, err := pmem.MapFile(empty, pmem.ModeAuto)
	require.NoError(t, err)
	require.Zero(t, m.Size())
	require.NoError(t, m.Close())

	_, err = pmem.MapFile(filepath.Join(dir, "missing"), pmem.ModeAuto)
	require.ErrorIs(t, err, pmem.ErrNotExist)
	_, err = pmem.CreateFile(dir+"/", pmem.FileOptions{})
	require.ErrorIs(t, err, pmem.ErrInvalid)
}

func TestOpenFileFromDescriptor(t *testing.T) {
	dir := t.TempDir()
	s, err := pmem.Create(dir, "fn", pmem.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Put("k", []byte("v1")))
	require.NoError(t, s.Close())

	path, err := pmem.RegionPath(dir, "fn")
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, pmem.LockFile(f), "the holder of the descriptor takes the lock")

	// Another open of the file is locked out; the holder's description is not.
	_, err = pmem.Open(dir, "fn", pmem.Options{})
	require.ErrorIs(t, err, pmem.ErrLocked)
	s, err = pmem.OpenFile(f, pmem.Options{})
	require.NoError(t, err)
	v, err := s.Get("k")
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))
	require.NoError(t, s.Put("k", []byte("v2")))
	require.NoError(t, s.Close())

	// Closing the store leaves f open and locked: reopen through it again.
	s, err = pmem.OpenFile(f, pmem.Options{})
	require.NoError(t, err)
	v, err = s.Get("k")
	require.NoError(t, err)
	require.Equal(t, "v2", string(v))
	require.NoError(t, s.Close())

	ro, err := os.Open(path)
	require.NoError(t, err)
	defer ro.Close()
	_, err = pmem.OpenFile(ro, pmem.Options{})
	require.ErrorIs(t, err, pmem.ErrInvalid)
	require.True(t, strings.Contains(err.Error(), "read-write"), err.Error())
}
