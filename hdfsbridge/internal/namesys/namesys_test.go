package namesys

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func openTest(t *testing.T) *FS {
	t.Helper()
	fs, err := Open(Config{Root: t.TempDir(), Superuser: "root", BlockSize: 64 << 10})
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	return fs
}

func mustPath(t *testing.T, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	require.NoError(t, err)
	return p
}

func TestMkdirsAndStat(t *testing.T) {
	fs := openTest(t)
	root := User{Name: "root"}
	require.NoError(t, fs.Mkdirs(root, mustPath(t, "/guest/out"), 0o755, true))
	st, err := fs.Stat(root, mustPath(t, "/guest/out"))
	require.NoError(t, err)
	require.True(t, st.IsDir)
	require.Equal(t, "root", st.Owner)
}

// TestStaleBlockOfReusedInode: block IDs name inodes, and a file system
// reuses the inode number of a deleted file; a reader holding the old file's
// locations must be refused, not handed the new file's bytes.
func TestStaleBlockOfReusedInode(t *testing.T) {
	fs := openTest(t)
	su := User{Name: "root"}
	old := mustPath(t, "/d/old")
	require.NoError(t, fs.Mkdirs(su, mustPath(t, "/d"), 0o755, false))
	_, err := fs.WriteFile(su, old, CreateOptions{Perm: 0o644}, strings.NewReader("old bytes"))
	require.NoError(t, err)
	loc, err := fs.Locations(su, old, 0, 100)
	require.NoError(t, err)
	require.Len(t, loc.Blocks, 1)
	stale := loc.Blocks[0]
	ino, _ := SplitBlockID(stale.ID)
	_, err = fs.Delete(su, old, false)
	require.NoError(t, err)
	reused := false
	for i := 0; i < 200 && !reused; i++ {
		p := mustPath(t, fmt.Sprintf("/d/new%d", i))
		st, err := fs.WriteFile(su, p, CreateOptions{Perm: 0o644}, strings.NewReader("new bytes"))
		require.NoError(t, err)
		reused = st.FileID == ino
	}
	if !reused {
		t.Skip("the file system did not reuse the inode number within 200 creations")
	}
	_, err = fs.ReadBlock(stale.ID, stale.GenStamp)
	require.ErrorContains(t, err, "was deleted")
}
