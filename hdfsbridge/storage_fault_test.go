package hdfsbridge_test

// A full namespace under the whole bridge: its tree on an 8 MiB tmpfs, an
// HDFS write that overflows it through the colinmarc client. The client
// must get an error (not hang, not a success), the NameNode and DataNode
// must stay up, the files committed before must be intact, and once the
// failed file is deleted the space serves new writes. (namesys maps ENOSPC
// to an IOException that says the PMEM namespace is full: ioErr.)

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/marvel-serverless/marvel/hdfsbridge"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

// fullBridge starts a bridge whose tree is a tmpfs mounted with opts
// (root only); its log goes to the returned buffer.
func fullBridge(t *testing.T, opts string) (*hdfsbridge.Bridge, string, *testbin.SyncBuffer) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	data := t.TempDir()
	root := filepath.Join(data, "fs")
	logs := &testbin.SyncBuffer{}
	require.NoError(t, os.Mkdir(root, 0o755))
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(root, 0); err != nil {
			unix.Unmount(root, unix.MNT_DETACH)
		}
	})
	b, err := hdfsbridge.Start(hdfsbridge.Config{
		Data: data, NameNodeAddr: "127.0.0.1:0", DataNodeAddr: "127.0.0.1:0", WebHDFSAddr: "127.0.0.1:0",
		Superuser: "root", BlockSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	require.NoError(t, os.MkdirAll(filepath.Join(root, "other"), 0o755)) // for wantBridgeServes
	return b, root, logs
}

func TestFullNamespaceWrite(t *testing.T) {
	b, root, logs := fullBridge(t, "size=8m")
	c := hdfsClient(t, b, "root")
	require.NoError(t, c.MkdirAll("/guest/out", 0o755))

	// Committed before the file system fills: 3 MiB over three blocks.
	kept := bytes.Repeat([]byte("committed before the disk filled\n"), (3<<20)/33)
	w, err := c.Create("/guest/out/kept")
	require.NoError(t, err)
	_, err = w.Write(kept)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	// 16 MiB do not fit the 5 MiB left. The failure may come from a Write
	// (the DataNode refuses a packet) or from Close (the last packet, or
	// complete); it must come, and within a bound.
	done := make(chan error, 1)
	go func() {
		w, err := c.Create("/guest/out/overflow")
		if err != nil {
			done <- err
			return
		}
		chunk := make([]byte, 256<<10)
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				t.Logf("after the failed write, Close: %v", w.Close())
				done <- err
				return
			}
		}
		done <- w.Close()
	}()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(time.Minute):
		t.Fatal("an HDFS write into a full namespace neither failed nor finished within a minute")
	}
	require.Error(t, werr, "16 MiB written into an 8 MiB namespace")
	t.Logf("the client's error: %v (java class %q)", werr, javaClass(werr))
	// The DataTransferProtocol's acks carry a status, not a message: the
	// client sees the DataNode's ERROR ack ("Ack error from datanode:
	// ERROR"), or the NameNode's exception if addBlock or complete fails
	// first. The DataNode lingers after the failure, so its close does not
	// reset the connection under the client's writes and lose the ack. The
	// cause is in the bridge's log.
	require.Contains(t, logs.String(), "no space left on device", "the bridge's log must say why the block write failed")
	if javaClass(werr) != "" { // from the NameNode (addBlock, complete)
		wantNoSpace(t, werr)
	} else {
		require.Contains(t, werr.Error(), "Ack error from datanode: ERROR", "the client must get the DataNode's ERROR ack, not a reset connection")
	}

	// Both servers are up; the committed file is whole.
	got, err := c.ReadFile("/guest/out/kept")
	require.NoError(t, err)
	require.True(t, bytes.Equal(kept, got), "the committed file changed")
	onDisk, err := os.ReadFile(filepath.Join(root, "guest", "out", "kept"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(kept, onDisk))
	// The failed file holds at most what was acknowledged: a prefix of
	// zeros, as written.
	if fi, err := c.Stat("/guest/out/overflow"); err == nil {
		r, err := c.Open("/guest/out/overflow")
		require.NoError(t, err)
		head, err := io.ReadAll(r)
		r.Close()
		require.NoError(t, err)
		require.LessOrEqual(t, int64(len(head)), fi.Size())
		require.True(t, bytes.Equal(make([]byte, len(head)), head), "the failed file holds bytes that were never written")
		t.Logf("the failed file keeps %d bytes", len(head))
	}

	// Deleting the failed file gives the space back; new writes work.
	require.NoError(t, c.Remove("/guest/out/overflow"))
	w, err = c.Create("/guest/out/after")
	require.NoError(t, err)
	_, err = w.Write(kept)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err = c.ReadFile("/guest/out/after")
	require.NoError(t, err)
	require.True(t, bytes.Equal(kept, got))
	wantBridgeServes(t, b)
}

// TestFullNamespaceInodes: a namespace whose file system has no inode left
// refuses create and mkdirs with an IOException that says the PMEM
// namespace is full (namesys ioErr), not a bare errno; deleting a file
// makes room again.
func TestFullNamespaceInodes(t *testing.T) {
	b, _, _ := fullBridge(t, "size=8m,nr_inodes=24")
	c := hdfsClient(t, b, "root")
	require.NoError(t, c.MkdirAll("/guest/many", 0o755))
	var err error
	var made []string
	for i := range 64 {
		name := fmt.Sprintf("/guest/many/f%d", i)
		if err = putFile(c, name, []byte("x")); err != nil {
			break
		}
		made = append(made, name)
	}
	require.Error(t, err, "64 files in a tmpfs of 24 inodes")
	t.Logf("%d files made, then: %v", len(made), err)
	wantNoSpace(t, err)
	t.Logf("the exception's message: %s", remoteMessage(err))
	wantNoSpace(t, c.Mkdir("/guest/dir", 0o755))

	for _, name := range made {
		got, err := c.ReadFile(name)
		require.NoError(t, err)
		require.Equal(t, "x", string(got))
	}
	require.NoError(t, c.Remove(made[0]))
	require.NoError(t, putFile(c, made[0], []byte("y")))
}

// putFile writes a whole file through the client.
func putFile(c *hdfs.Client, name string, b []byte) error {
	w, err := c.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// remoteMessage is the message of a NameNode exception ("" if none).
func remoteMessage(err error) string {
	var he hdfs.Error
	if errors.As(err, &he) {
		return he.Message()
	}
	return ""
}

// wantNoSpace checks that err is the bridge's IOException for a full
// namespace.
func wantNoSpace(t *testing.T, err error) {
	t.Helper()
	require.Equal(t, "java.io.IOException", javaClass(err), "got %v", err)
	require.Contains(t, remoteMessage(err), "no space left in the PMEM namespace", "got %v", err)
}
