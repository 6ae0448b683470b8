package namesys

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBlockAccess: a block is readable by whoever could read its file
// through the NameNode (EXECUTE on the ancestors, READ on the file), for
// files written through HDFS and files an action wrote alike, and
// writable only by the user whose file is under construction.
func TestBlockAccess(t *testing.T) {
	fs := openTest(t)
	root, guest, other := User{Name: "root"}, User{Name: "guest"}, User{Name: "other"}
	require.NoError(t, fs.Mkdirs(root, mustPath(t, "/guest"), 0o700, false))
	require.NoError(t, fs.SetOwner(root, mustPath(t, "/guest"), "guest", ""))
	_, err := fs.WriteFile(guest, mustPath(t, "/guest/secret"), CreateOptions{Perm: 0o644, Holder: "c0"}, strings.NewReader("guest's"))
	require.NoError(t, err)
	loc, err := fs.Locations(guest, mustPath(t, "/guest/secret"), 0, 100)
	require.NoError(t, err)
	secret := loc.Blocks[0].ID

	// A file an action wrote: no path hint, found by a search of the tree.
	require.NoError(t, os.WriteFile(fs.HostPath(mustPath(t, "/guest/raw")), []byte("raw"), 0o600))
	st, err := os.Stat(fs.HostPath(mustPath(t, "/guest/raw")))
	require.NoError(t, err)
	raw := BlockID(st.Sys().(*syscall.Stat_t).Ino, 0)

	for _, id := range []int64{secret, raw} {
		require.NoError(t, fs.BlockAccess(guest, id, false))
		require.NoError(t, fs.BlockAccess(root, id, false))
		err := fs.BlockAccess(other, id, false)
		require.Equal(t, ClassAccessControl, ClassOf(err), "%v", err)
		require.Contains(t, err.Error(), "access=EXECUTE")
	}
	// Searchable directory: the file's own bits decide.
	require.NoError(t, fs.SetPermission(guest, mustPath(t, "/guest"), 0o711))
	require.NoError(t, fs.BlockAccess(other, secret, false), "0644")
	err = fs.BlockAccess(other, raw, false)
	require.Equal(t, ClassAccessControl, ClassOf(err), "0600: %v", err)
	require.Contains(t, err.Error(), "access=READ")
	require.Error(t, fs.BlockAccess(guest, BlockID(1<<30, 0), false), "no such inode")

	// Writing: the creating user, with the lease holder's client name.
	_, err = fs.Create(guest, mustPath(t, "/guest/out"), CreateOptions{Perm: 0o644, Holder: "c1"})
	require.NoError(t, err)
	b, err := fs.AddBlock(mustPath(t, "/guest/out"), "c1", 0, nil)
	require.NoError(t, err)
	require.NoError(t, fs.BlockAccess(guest, b.ID, true))
	require.NoError(t, fs.BlockAccess(root, b.ID, true))
	err = fs.BlockAccess(other, b.ID, true)
	require.Equal(t, ClassAccessControl, ClassOf(err), "%v", err)
	require.Error(t, fs.BlockAccess(guest, secret, true), "a closed file")
	for _, holder := range []string{"", "c2"} {
		_, err = fs.WriteBlock(b.ID, holder, false, 0)
		require.Equal(t, ClassLeaseExpired, ClassOf(err), "client %q: %v", holder, err)
		require.Contains(t, err.Error(), "does not hold the lease")
	}
	bw, err := fs.WriteBlock(b.ID, "c1", false, 0)
	require.NoError(t, err)
	_, err = bw.WriteAt([]byte("x"), 0)
	require.NoError(t, err)
}
