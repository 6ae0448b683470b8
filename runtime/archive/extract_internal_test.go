package archive

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// zeroReader never ends and never claims a size: the copy must stop on the
// bytes it counts, not on any header.
type zeroReader struct{ reads int }

func (z *zeroReader) Read(p []byte) (int, error) {
	z.reads++
	clear(p)
	return len(p), nil
}

// TestCopyCountsDecompressedBytes drives extractor.file with an entry that
// declares no size (-1) and would never end, checking that the per-file and
// total limits stop it after about one buffer past the limit.
func TestCopyCountsDecompressedBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lim    Limits
		before int64 // bytes already extracted
		msg    string
	}{
		{name: "per file", lim: Limits{MaxFileBytes: 100 << 10, MaxTotalBytes: 1 << 20}, msg: "limit of 102400 bytes for one file"},
		{name: "total", lim: Limits{MaxFileBytes: 1 << 20, MaxTotalBytes: 1 << 20}, before: 1<<20 - 50<<10, msg: "limit of 1048576 uncompressed bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root, err := os.OpenRoot(dir)
			require.NoError(t, err)
			defer root.Close()
			x := newExtractor(root, tc.lim.withDefaults())
			x.total = tc.before
			z := &zeroReader{}
			err = x.file("endless", -1, false, z)
			require.ErrorIs(t, err, ErrTooLarge)
			require.Contains(t, err.Error(), tc.msg)
			require.LessOrEqual(t, z.reads, int(tc.lim.MaxFileBytes/copyBufferSize)+2, "read far past the limit")
			fi, err := root.Stat("endless")
			require.NoError(t, err)
			require.LessOrEqual(t, fi.Size(), tc.lim.MaxFileBytes, "wrote past the limit")
		})
	}
}

// failingReader fails every read with err.
type failingReader struct{ err error }

func (f failingReader) Read(p []byte) (int, error) { return 0, f.err }

func TestCopyReadErrorIsCorrupt(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	require.NoError(t, err)
	defer root.Close()
	x := newExtractor(root, DefaultLimits())
	err = x.file("x", -1, false, failingReader{io.ErrUnexpectedEOF})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	err = x.file("y", -1, false, failingReader{errStreamCap})
	require.ErrorIs(t, err, ErrTooLarge)
	require.False(t, errors.Is(err, ErrCorrupt))
}

func TestRemoveContentsKeepsRoot(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/a/b", 0o755))
	require.NoError(t, os.WriteFile(dir+"/a/b/f", []byte("x"), 0o644))
	require.NoError(t, os.Symlink("/", dir+"/link"))
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()
	require.NoError(t, removeContents(root))
	empty, err := isEmpty(root)
	require.NoError(t, err)
	require.True(t, empty)
	_, err = os.Stat("/")
	require.NoError(t, err)
}

func TestTarStreamCapSaturates(t *testing.T) {
	require.Equal(t, int64(1<<63-1), tarStreamCap(Limits{MaxFiles: 1<<63 - 1, MaxTotalBytes: 1}))
	require.Equal(t, int64(1<<63-1), tarStreamCap(Limits{MaxFiles: 1, MaxTotalBytes: 1<<63 - 1}))
	require.Equal(t, int64(1<<20+1<<20+2*tarHeaderAllowance), tarStreamCap(Limits{MaxFiles: 1, MaxTotalBytes: 1 << 20}))
}
