package hdfsbridge_test

// Peer credentials against the whole bridge: an isolated action on this
// host (a child process of this test, run as namespace other's isolation
// uid) is other's user on all three ports whatever it claims, and reads no
// block of guest's; an unbound action (nobody) is refused outright; root
// keeps SIMPLE authentication. Root only: the children are setuid.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/transfer"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

// Isolation uids as `marvel runtime --isolate` gives them out.
const (
	guestUID  = 200000
	otherUID  = 200001
	nobodyUID = 65534
)

const ownBytes = "other's own bytes"

// peerEnv carries the parent's bridge and guest's blocks to a child.
const peerEnv = "MARVEL_HDFS_PEER_CHILD"

type childSpec struct {
	Mode               string // "other" or "unbound"
	NameNode, DataNode string
	WebHDFS            string
	Pool               string
	SecretID, SecretGS uint64 // guest's 0600 file, written by an action
	OpenID             uint64 // guest's file under construction
}

// blockOf is the first block of a file of the tree, as the NameNode would
// hand it out: inode << 24, and for a file an action wrote its birth time
// in microseconds as its generation stamp (1001 without one).
func blockOf(t *testing.T, path string) (id, gs uint64) {
	t.Helper()
	var stx unix.Statx_t
	require.NoError(t, unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BTIME|unix.STATX_INO, &stx))
	gs = 1001
	if stx.Mask&unix.STATX_BTIME != 0 {
		gs = uint64(stx.Btime.Sec)*1e6 + uint64(stx.Btime.Nsec)/1e3
	}
	return stx.Ino << 24, gs
}

func poolOf(t *testing.T, root string) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(root, &st))
	return fmt.Sprintf("BP-%d-127.0.0.1-%d", st.Dev, st.Ino)
}

// blockOp sends one DataTransferProtocol op and returns the DataNode's
// answer.
func blockOp(t *testing.T, addr string, op transfer.Op, m proto.Message) *pb.BlockOpResponseProto {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Write([]byte{0, 28, byte(op)})
	require.NoError(t, err)
	require.NoError(t, transfer.WriteDelimited(c, m))
	resp := new(pb.BlockOpResponseProto)
	require.NoError(t, transfer.ReadDelimited(bufio.NewReader(c), 1<<20, resp))
	return resp
}

func extBlock(pool string, id, gs uint64) *pb.ExtendedBlockProto {
	return &pb.ExtendedBlockProto{PoolId: proto.String(pool), BlockId: proto.Uint64(id), GenerationStamp: proto.Uint64(gs), NumBytes: proto.Uint64(0)}
}

func readBlockOp(pool string, id, gs uint64) *pb.OpReadBlockProto {
	return &pb.OpReadBlockProto{
		Header: &pb.ClientOperationHeaderProto{
			BaseHeader: &pb.BaseHeaderProto{Block: extBlock(pool, id, gs)},
			ClientName: proto.String("peer-test"),
		},
		Offset: proto.Uint64(0), Len: proto.Uint64(uint64(len(guestSecret))),
	}
}

func checksumOp(pool string, id, gs uint64) *pb.OpBlockChecksumProto {
	return &pb.OpBlockChecksumProto{Header: &pb.BaseHeaderProto{Block: extBlock(pool, id, gs)}}
}

func writeBlockOp(pool string, id uint64, client string) *pb.OpWriteBlockProto {
	return &pb.OpWriteBlockProto{
		Header: &pb.ClientOperationHeaderProto{
			BaseHeader: &pb.BaseHeaderProto{Block: extBlock(pool, id, 0)},
			ClientName: proto.String(client),
		},
		Stage:        pb.OpWriteBlockProto_PIPELINE_SETUP_CREATE.Enum(),
		PipelineSize: proto.Uint32(1), MinBytesRcvd: proto.Uint64(0), MaxBytesRcvd: proto.Uint64(0),
		LatestGenerationStamp: proto.Uint64(0),
		RequestedChecksum:     &pb.ChecksumProto{Type: pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(), BytesPerChecksum: proto.Uint32(512)},
	}
}

func writeFile(c *hdfs.Client, name, data string) error {
	w, err := c.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// webGet returns the status and body of a WebHDFS GET (following the
// redirect of OPEN).
func webGet(t *testing.T, base, q string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + q)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestPeerIsolatedAction runs TestPeerChild as other's action and as an
// unbound one, and checks what root still may do.
func TestPeerIsolatedAction(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the actions run as other users")
	}
	b, root := hostileBridge(t)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(root), ".uids"),
		[]byte("200000 guest\n200001 other\n"), 0o600))
	// Root on loopback is no isolated action: it claims whom it likes.
	require.NoError(t, writeFile(hdfsClient(t, b, "other"), "/other/own", ownBytes))
	guest := hdfsClient(t, b, "guest")
	open, err := guest.Create("/guest/open")
	require.NoError(t, err)
	defer open.Close()

	spec := childSpec{
		NameNode: b.NameNodeAddr().String(), DataNode: b.DataNodeAddr().String(), WebHDFS: b.WebHDFSAddr().String(),
		Pool: poolOf(t, root),
	}
	spec.SecretID, spec.SecretGS = blockOf(t, filepath.Join(root, "guest", "secret"))
	spec.OpenID, _ = blockOf(t, filepath.Join(root, "guest", "open"))

	// What the children are refused, root may do: the same READ_BLOCK
	// succeeds, so theirs fail on who they are.
	resp := blockOp(t, spec.DataNode, transfer.OpReadBlock, readBlockOp(spec.Pool, spec.SecretID, spec.SecretGS))
	require.Equal(t, pb.Status_SUCCESS, resp.GetStatus(), resp.GetMessage())
	// An empty client name is no lease holder (for root too).
	resp = blockOp(t, spec.DataNode, transfer.OpWriteBlock, writeBlockOp(spec.Pool, spec.OpenID, ""))
	require.Equal(t, pb.Status_ERROR, resp.GetStatus())
	require.Contains(t, resp.GetMessage(), "does not hold the lease")

	exe := testbin.WorldExecutable(t, "hdfsbridge.test")
	for _, c := range []struct {
		mode string
		uid  uint32
	}{{"other", otherUID}, {"unbound", nobodyUID}} {
		t.Run(c.mode, func(t *testing.T) {
			s := spec
			s.Mode = c.mode
			js, err := json.Marshal(s)
			require.NoError(t, err)
			cmd := exec.Command(exe, "-test.run=^TestPeerChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), peerEnv+"="+string(js), "HOME=/")
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.uid, Gid: c.uid, Groups: []uint32{}}}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "the child as uid %d:\n%s", c.uid, out)
			require.Contains(t, string(out), "--- PASS: TestPeerChild", "%s", out)
		})
	}
	got, err := guest.ReadFile("/guest/secret")
	require.NoError(t, err)
	require.Equal(t, guestSecret, string(got))
	wantBridgeServes(t, b)
}

// TestPeerChild is the action's side of TestPeerIsolatedAction; it runs
// only as its child.
func TestPeerChild(t *testing.T) {
	js := os.Getenv(peerEnv)
	if js == "" {
		t.Skip("run by TestPeerIsolatedAction")
	}
	var s childSpec
	require.NoError(t, json.Unmarshal([]byte(js), &s))
	switch s.Mode {
	case "other":
		otherChild(t, s)
	case "unbound":
		unboundChild(t, s)
	default:
		t.Fatalf("mode %q", s.Mode)
	}
}

// remoteText is the exception class and message of a NameNode error.
func remoteText(err error) string {
	var he hdfs.Error
	if errors.As(err, &he) {
		return he.Exception() + ": " + he.Message()
	}
	return err.Error()
}

// rpcAs connects as user and stats path.
func rpcAs(t *testing.T, s childSpec, user, path string) error {
	t.Helper()
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{s.NameNode}, User: user})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Stat(path)
	return err
}

func otherChild(t *testing.T, s childSpec) {
	require.Equal(t, otherUID, os.Getuid())
	// RPC: claiming root or guest is refused at connection setup.
	for _, user := range []string{"root", "guest", "Other"} {
		err := rpcAs(t, s, user, "/guest/secret")
		require.Error(t, err, "as %s", user)
		require.Equal(t, "org.apache.hadoop.security.authorize.AuthorizationException", javaClass(err), "as %s: %v", user, err)
		require.Contains(t, remoteText(err), "may act only as user other", "as %s", user)
	}
	// As itself: its own files, and HDFS's rules for guest's.
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{s.NameNode}, User: "other"})
	require.NoError(t, err)
	defer c.Close()
	got, err := c.ReadFile("/other/own")
	require.NoError(t, err, "READ_BLOCK of its own file")
	require.Equal(t, ownBytes, string(got))
	require.NoError(t, writeFile(c, "/other/from-action", "written"), "WRITE_BLOCK of its own file")
	got, err = c.ReadFile("/other/from-action")
	require.NoError(t, err)
	require.Equal(t, "written", string(got))
	_, err = c.ReadFile("/guest/secret")
	require.ErrorIs(t, err, os.ErrPermission)

	// WebHDFS: user.name or doas naming anyone else is 403; no user.name
	// is other.
	base := "http://" + s.WebHDFS + "/webhdfs/v1"
	for _, q := range []string{
		"/guest/secret?op=OPEN&user.name=root",
		"/guest/secret?op=OPEN&user.name=guest",
		"/guest/secret?op=OPEN&user.name=other&doas=root",
		"/guest/secret?op=OPEN&user.name=root&doas=root",
		"/other/own?op=OPEN&user.name=dr.who",
	} {
		status, body := webGet(t, base, q)
		require.Equal(t, http.StatusForbidden, status, "%s: %s", q, body)
		require.Contains(t, body, `"AuthorizationException"`, q)
		require.NotContains(t, body, guestSecret)
	}
	status, body := webGet(t, base, "/other/own?op=OPEN")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, ownBytes, body)
	status, body = webGet(t, base, "/other/own?op=OPEN&user.name=other")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, ownBytes, body)
	status, body = webGet(t, base, "/guest/secret?op=OPEN")
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, `"AccessControlException"`)

	// DataNode: guest's blocks, guessed or learnt, are not other's.
	resp := blockOp(t, s.DataNode, transfer.OpReadBlock, readBlockOp(s.Pool, s.SecretID, s.SecretGS))
	require.Equal(t, pb.Status_ERROR_ACCESS_TOKEN, resp.GetStatus(), resp.GetMessage())
	require.Contains(t, resp.GetMessage(), "user=other")
	resp = blockOp(t, s.DataNode, transfer.OpBlockChecksum, checksumOp(s.Pool, s.SecretID, s.SecretGS))
	require.Equal(t, pb.Status_ERROR_ACCESS_TOKEN, resp.GetStatus(), resp.GetMessage())
	for _, client := range []string{"", "peer-test"} {
		resp = blockOp(t, s.DataNode, transfer.OpWriteBlock, writeBlockOp(s.Pool, s.OpenID, client))
		require.Equal(t, pb.Status_ERROR_ACCESS_TOKEN, resp.GetStatus(), resp.GetMessage())
	}
}

func unboundChild(t *testing.T, s childSpec) {
	require.Equal(t, nobodyUID, os.Getuid())
	for _, user := range []string{"nobody", "other", "root"} {
		err := rpcAs(t, s, user, "/other/own")
		require.Error(t, err, "as %s", user)
		require.Equal(t, "org.apache.hadoop.security.authorize.AuthorizationException", javaClass(err), "as %s: %v", user, err)
		require.Contains(t, remoteText(err), "not bound to a namespace", "as %s", user)
	}
	for _, q := range []string{"/other/own?op=OPEN", "/other/own?op=OPEN&user.name=other", "/?op=GETFILESTATUS&user.name=root"} {
		status, body := webGet(t, "http://"+s.WebHDFS+"/webhdfs/v1", q)
		require.Equal(t, http.StatusForbidden, status, "%s: %s", q, body)
		require.Contains(t, body, "not bound to a namespace", q)
	}
	resp := blockOp(t, s.DataNode, transfer.OpReadBlock, readBlockOp(s.Pool, s.SecretID, s.SecretGS))
	require.Equal(t, pb.Status_ERROR_ACCESS_TOKEN, resp.GetStatus(), resp.GetMessage())
}
