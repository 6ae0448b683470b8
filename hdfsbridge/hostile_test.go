package hdfsbridge_test

// Hostile input against the whole bridge (NameNode, DataNode and WebHDFS
// as hdfsbridge.Start wires them for `marvel standalone`): paths built to
// leave the tree, a user reaching another's 0700 data, and lengths on the
// wire that claim far more than is sent. After each, the bridge must still
// serve.
//
// Already covered elsewhere, not repeated: ParsePath's refusals over
// WebHDFS for "/a/../b", "//", reserved names and long components
// (webhdfs TestErrors); READ refused on a 0600 file and EXECUTE on a 0700
// home through the colinmarc client (namenode TestClientPermissions);
// WebHDFS OPEN of an unreadable file, 403 (webhdfs TestOpen); frames over
// MaxFrameBytes against the RPC server alone (rpc TestOversizedFrame);
// op and packet lengths over their bounds in the decoders (transfer
// TestReadOpErrors, TestDecodePacketDoesNotAllocateClaimedLength, and the
// fuzz targets FuzzReadOp, FuzzDecodePacket, FuzzReceiveBlock, FuzzConn).

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/hdfsbridge"
)

const guestSecret = "guest-secret-bytes-4f1c"

// hostileBridge starts a bridge over a tree laid out as `marvel runtime
// --isolate` leaves it: fs/guest is guest's (0700) with a file an action
// wrote, fs/other is other's. It returns the bridge and the tree's root.
func hostileBridge(t *testing.T) (*hdfsbridge.Bridge, string) {
	t.Helper()
	data := t.TempDir()
	root := filepath.Join(data, "fs")
	for _, ns := range []string{"guest", "other"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, ns), 0o700))
		require.NoError(t, os.Chmod(filepath.Join(root, ns), 0o700))
	}
	require.NoError(t, os.Chmod(root, 0o711))
	require.NoError(t, os.WriteFile(filepath.Join(root, "guest", "secret"), []byte(guestSecret), 0o600))
	b, err := hdfsbridge.Start(hdfsbridge.Config{
		Data: data, NameNodeAddr: "127.0.0.1:0", DataNodeAddr: "127.0.0.1:0", WebHDFSAddr: "127.0.0.1:0",
		Superuser: "root", BlockSize: 64 << 10,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b, root
}

func hdfsClient(t *testing.T, b *hdfsbridge.Bridge, user string) *hdfs.Client {
	t.Helper()
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{b.NameNodeAddr().String()}, User: user})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// javaClass is the exception class of a NameNode error, "" if none.
func javaClass(err error) string {
	var he hdfs.Error
	if errors.As(err, &he) {
		return he.Exception()
	}
	return ""
}

// wantBridgeServes writes and reads back a file through RPC and the
// DataNode, and stats the root over WebHDFS.
func wantBridgeServes(t *testing.T, b *hdfsbridge.Bridge) {
	t.Helper()
	c := hdfsClient(t, b, "other")
	name := "/other/alive-" + time.Now().Format("150405.000000000")
	w, err := c.Create(name)
	require.NoError(t, err)
	_, err = w.Write([]byte("still here"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err := c.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, "still here", string(got))
	resp, err := http.Get("http://" + b.WebHDFSAddr().String() + "/webhdfs/v1/?op=GETFILESTATUS&user.name=other")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestHostileHDFSPaths: NameNode paths that climb, hide dots, hold NUL or
// name the bridge's own temporaries are refused with
// InvalidPathException; none creates anything outside the tree.
func TestHostileHDFSPaths(t *testing.T) {
	b, root := hostileBridge(t)
	c := hdfsClient(t, b, "root") // the superuser: only the path rules stand in the way
	escape := "escape-" + time.Now().Format("150405.000000000")
	for _, p := range []string{
		"/guest/../other", "/other/../guest/secret", "/..", "/../" + escape, "/guest/./secret", "//guest/secret",
		"/guest/secret/..", "guest/secret", "", "/guest/secret\x00.txt", "/guest\x00/../" + escape,
		"/.marvel-trash", "/other/.marvel-tmp-x", "/guest/a:b", "/" + strings.Repeat("d", 256),
		"/" + strings.Repeat("a/", 4001),
	} {
		_, err := c.Stat(p)
		require.Error(t, err, "stat %q", p)
		require.Contains(t, javaClass(err), "InvalidPathException", "stat %q: %v", p, err)
		_, err = c.ReadDir(p)
		require.Error(t, err, "readdir %q", p)
		_, err = c.ReadFile(p)
		require.Error(t, err, "read %q", p)
		if w, err := c.CreateFile(p, 1, 64<<10, 0o644); err == nil {
			w.Close()
			t.Errorf("create %q succeeded", p)
		}
		require.Error(t, c.Rename("/guest/secret", p), "rename to %q", p)
		require.Error(t, c.Rename(p, "/other/stolen"), "rename from %q", p)
	}
	for _, dir := range []string{filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
		_, err := os.Lstat(filepath.Join(dir, escape))
		require.ErrorIs(t, err, os.ErrNotExist, "a hostile path created %s", filepath.Join(dir, escape))
	}
	_, err := os.Stat(filepath.Join(root, "other", "stolen"))
	require.ErrorIs(t, err, os.ErrNotExist)
	got, err := c.ReadFile("/guest/secret")
	require.NoError(t, err, "the superuser reads guest's file by its plain path")
	require.Equal(t, guestSecret, string(got))
	wantBridgeServes(t, b)
}

// TestHostileWebHDFSPaths: the same over WebHDFS, with the dots and
// slashes percent-encoded, in the path and in "destination": 400 naming
// the invalid path, nothing created outside the tree.
func TestHostileWebHDFSPaths(t *testing.T) {
	b, root := hostileBridge(t)
	base := "http://" + b.WebHDFSAddr().String() + "/webhdfs/v1"
	escape := "escape-" + time.Now().Format("150405.000000000")
	for _, c := range []struct{ method, url string }{
		{"GET", "/guest/%2e%2e/other?op=LISTSTATUS"},
		{"GET", "/%2E%2E/%2E%2E/etc/passwd?op=OPEN"},
		{"GET", "/..%2F..%2Fetc%2Fpasswd?op=OPEN"},
		{"GET", "/other%2F..%2Fguest%2Fsecret?op=OPEN"},
		{"GET", "/guest/secret%00?op=OPEN"},
		{"GET", "/guest/%00/../secret?op=GETFILESTATUS"},
		{"GET", "/guest/.%2Fsecret?op=GETFILESTATUS"},
		{"GET", "/%2e?op=LISTSTATUS"},
		{"GET", "/other/.marvel-tmp-x?op=GETFILESTATUS"},
		{"PUT", "/%2e%2e/" + escape + "?op=CREATE"},
		{"PUT", "/other/%2e%2e/%2e%2e/" + escape + "?op=MKDIRS"},
		{"PUT", "/other/x?op=RENAME&destination=/../" + escape},
		{"PUT", "/guest/secret?op=RENAME&destination=%2Fother%2F%2e%2e%2F" + escape},
		{"POST", "/%2e%2e/" + escape + "?op=APPEND"},
		{"DELETE", "/other/%2e%2e?op=DELETE&recursive=true"},
	} {
		req, err := http.NewRequest(c.method, base+c.url+"&user.name=root", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, "%s %s", c.method, c.url)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", c.method, c.url, body)
		// InvalidPathException for the path; a bad "destination" is a bad
		// parameter, IllegalArgumentException, as Hadoop has it.
		require.Contains(t, string(body), "Invalid path name", "%s %s", c.method, c.url)
		require.NotContains(t, string(body), guestSecret)
	}
	for _, dir := range []string{filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
		_, err := os.Lstat(filepath.Join(dir, escape))
		require.ErrorIs(t, err, os.ErrNotExist, "a hostile path created %s", filepath.Join(dir, escape))
	}
	_, err := os.Stat(filepath.Join(root, "guest", "secret"))
	require.NoError(t, err, "guest's file is still there")
	wantBridgeServes(t, b)
}

// TestHostileOtherUsersFile: "other" cannot stat, list or read guest's
// 0700 tree — an action's files, with no HDFS attributes — through RPC
// (AccessControlException) or WebHDFS (403), and no refusal carries the
// bytes; guest can. (The user is whatever the client claims: see
// docs/threat-model.md.)
func TestHostileOtherUsersFile(t *testing.T) {
	b, _ := hostileBridge(t)
	other := hdfsClient(t, b, "other")
	_, err := other.Stat("/guest/secret")
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = other.ReadDir("/guest")
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = other.ReadFile("/guest/secret")
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = other.GetContentSummary("/guest")
	require.Error(t, err)
	require.Error(t, other.Rename("/guest/secret", "/other/stolen"))
	require.Error(t, other.Remove("/guest/secret"))
	require.Error(t, other.Chmod("/guest", 0o777))
	_, err = other.Create("/guest/planted")
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = other.ReadDir("/")
	require.ErrorIs(t, err, os.ErrPermission, "a non-superuser cannot list the root (0711)")

	// A 0700 file in a directory other may search: READ on the file is
	// what stops it.
	guest := hdfsClient(t, b, "guest")
	require.NoError(t, guest.Chmod("/guest", 0o711))
	_, err = other.ReadFile("/guest/secret")
	require.Error(t, err)
	require.Equal(t, "org.apache.hadoop.security.AccessControlException", javaClass(err), "%v", err)
	got, err := guest.ReadFile("/guest/secret")
	require.NoError(t, err)
	require.Equal(t, guestSecret, string(got))
	require.NoError(t, guest.Chmod("/guest", 0o700))

	base := "http://" + b.WebHDFSAddr().String() + "/webhdfs/v1"
	for _, q := range []string{
		"/guest/secret?op=OPEN&user.name=other", "/guest?op=LISTSTATUS&user.name=other",
		"/guest/secret?op=GETFILESTATUS&user.name=other", "/guest/secret?op=GETFILECHECKSUM&user.name=other",
		"/guest/secret?op=OPEN", // no user.name: dr.who
		"/guest/secret?op=OPEN&user.name=other&doas=guest",
	} {
		resp, err := http.Get(base + q)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", q, body)
		var re struct{ RemoteException struct{ Exception string } }
		require.NoError(t, json.Unmarshal(body, &re), "%s: %s", q, body)
		require.Contains(t, []string{"AccessControlException", "AuthorizationException"}, re.RemoteException.Exception, "%s: %s", q, body)
		require.NotContains(t, string(body), guestSecret)
	}
	resp, err := http.Get(base + "/guest/secret?op=OPEN&user.name=guest")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, guestSecret, string(body))
	wantBridgeServes(t, b)
}

// TestHostileLengths: an RPC frame and DataTransferProtocol requests whose
// length prefixes claim up to 4 GiB close the connection without the
// bridge allocating what they claim, and the bridge goes on serving.
func TestHostileLengths(t *testing.T) {
	b, _ := hostileBridge(t)
	preamble := []byte{'h', 'r', 'p', 'c', 9, 0, 0} // IPC version 9, service class 0, SIMPLE
	be32 := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	dtp := func(op byte, varint ...byte) []byte { return append([]byte{0, 28, op}, varint...) } // version 28
	cases := []struct {
		name string
		addr net.Addr
		send []byte
	}{
		{"rpc frame of 4 GiB", b.NameNodeAddr(), append(preamble, be32(0xffffffff)...)},
		{"rpc frame of 2 GiB", b.NameNodeAddr(), append(preamble, be32(0x80000000)...)},
		{"rpc frame just over 64 MiB", b.NameNodeAddr(), append(preamble, be32(64<<20+1)...)},
		{"rpc bad preamble", b.NameNodeAddr(), []byte("GET / HTTP/1.1\r\n\r\n")},
		{"READ_BLOCK request of 4 GiB", b.DataNodeAddr(), dtp(81, 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"WRITE_BLOCK request of 2 GiB", b.DataNodeAddr(), dtp(80, 0x80, 0x80, 0x80, 0x80, 0x08)},
		{"BLOCK_CHECKSUM request over 64 KiB", b.DataNodeAddr(), dtp(85, 0x81, 0x80, 0x04)},
		{"REPLACE_BLOCK request of 4 GiB", b.DataNodeAddr(), dtp(83, 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"a varint over 32 bits", b.DataNodeAddr(), dtp(81, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"data transfer version 1", b.DataNodeAddr(), []byte{0, 1, 81, 1, 0}},
	}
	for _, c := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		conn, err := net.Dial("tcp", c.addr.String())
		require.NoError(t, err)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Write(c.send)
		require.NoError(t, err, c.name)
		// The bridge may answer with an error before it closes; it must
		// close, well before the deadline.
		n, err := io.Copy(io.Discard, bufio.NewReader(conn))
		conn.Close()
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "%s: the connection was left open (%d bytes read)", c.name, n)
		runtime.ReadMemStats(&after)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "%s: bytes allocated while refusing", c.name)
	}

	wantBridgeServes(t, b)
}
