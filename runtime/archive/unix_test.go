//go:build unix

package archive_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/archive"
)

// TestUnpackModesIgnoreUmask unpacks under umask 077, which would turn 0755
// into 0700 and 0644 into 0600 if modes were left to open and mkdir. The
// umask is process-wide, so this test must not run in parallel.
func TestUnpackModesIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	dir := t.TempDir()
	_, err := archive.Unpack(makeZip(t, zfile("d/x", "x", 0o755), zfile("d/y", "y", 0o644), zdir("e/")), dir, archive.Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"d": "dir 755", "d/x": "file 755 x", "d/y": "file 644 y", "e": "dir 755"}, listTree(t, dir))

	single := t.TempDir()
	_, err = archive.Unpack([]byte("package main"), single, archive.Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"exec": "file 755 package main"}, listTree(t, single))
}

// TestIsExecutableFIFO checks that a FIFO is refused rather than blocking
// until a writer appears.
func TestIsExecutableFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	ok, err := archive.IsExecutable(p)
	require.ErrorIs(t, err, archive.ErrInvalid)
	require.Contains(t, err.Error(), "not a regular file")
	require.False(t, ok)
}
