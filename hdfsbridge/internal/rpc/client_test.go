package rpc

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
)

// TestRealClient drives the server with github.com/colinmarc/hdfs/v2 over a
// loopback TCP connection: handshake, calls, empty-success for missing paths,
// error replies mapped to Go errors, the lease renewer, and Close.
func TestRealClient(t *testing.T) {
	_, nn, addr := startServer(t, Options{})

	client, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{addr}, User: "alice"})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = client.Close()
		}
	})

	// Stat of a file: every field the fixture set comes back.
	fi, err := client.Stat("/x")
	require.NoError(t, err)
	require.Equal(t, "x", fi.Name())
	require.False(t, fi.IsDir())
	require.EqualValues(t, fixtureLength, fi.Size())
	require.Equal(t, os.FileMode(0o640), fi.Mode())
	require.Equal(t, time.UnixMilli(fixtureMtime), fi.ModTime())
	hfi := fi.(*hdfs.FileInfo)
	require.Equal(t, "alice", hfi.Owner())
	require.Equal(t, "analysts", hfi.OwnerGroup())
	require.Equal(t, time.Unix(fixtureAtime/1000, 0), hfi.AccessTime())
	require.EqualValues(t, fixtureBlockSize, hfi.Sys().(*hdfs.FileStatus).GetBlocksize())
	require.EqualValues(t, 16386, hfi.Sys().(*hdfs.FileStatus).GetFileId())

	// A missing path is an empty success, which the client reports as
	// not-exist.
	_, err = client.Stat("/missing")
	require.True(t, os.IsNotExist(err), "Stat(/missing): %v", err)

	// ReadDir: getFileInfo("/") then getListing.
	entries, err := client.ReadDir("/")
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, "a", entries[0].Name())
	require.False(t, entries[0].IsDir())
	require.Equal(t, "b", entries[1].Name())
	require.True(t, entries[1].IsDir())

	// getServerDefaults, with CRC32C and every required field.
	defaults, err := client.ServerDefaults()
	require.NoError(t, err)
	require.EqualValues(t, fixtureBlockSize, defaults.BlockSize)
	require.Equal(t, 512, defaults.BytesPerChecksum)
	require.Equal(t, 1, defaults.Replication)
	require.False(t, defaults.EncryptDataTransfer)

	// An error naming AccessControlException becomes os.ErrPermission.
	err = client.Mkdir("/newdir", 0o755)
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrPermission), "Mkdir: %v", err)

	// A plain error becomes a java.io.IOException carrying the message.
	err = client.Remove("/x")
	require.Error(t, err)
	var remote hdfs.Error
	require.True(t, errors.As(err, &remote), "Remove: %T %v", err, err)
	require.Equal(t, "java.io.IOException", remote.Exception())
	require.Equal(t, "ERROR_APPLICATION", remote.Desc())
	require.Equal(t, deleteMessage, remote.Message())
	require.Equal(t, "delete", remote.Method())

	// The connection survived every error: another call still works.
	_, err = client.Stat("/x")
	require.NoError(t, err)

	// The lease renewer calls renewLease every second on the same connection.
	require.Eventually(t, func() bool { return nn.renewals() > 0 }, 10*time.Second, 10*time.Millisecond)

	nn.mu.Lock()
	wantID := []byte(strings.TrimPrefix(client.Name(), "go-hdfs-"))
	require.Len(t, wantID, 16)
	for i, u := range nn.mu.users {
		require.Equal(t, "alice", u, "call %d (%s)", i, nn.mu.calls[i])
		require.Equal(t, wantID, nn.mu.clientIDs[i], "call %d (%s)", i, nn.mu.calls[i])
		ta, ok := nn.mu.remotes[i].(*net.TCPAddr)
		require.True(t, ok)
		require.True(t, ta.IP.IsLoopback())
	}
	require.Subset(t, nn.mu.calls, []string{"getFileInfo", "getListing", "getServerDefaults", "mkdirs", "delete", "renewLease"})
	nn.mu.Unlock()

	require.NoError(t, client.Close())
	closed = true
}
