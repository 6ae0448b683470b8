package namenode_test

// Integration tests: the real github.com/colinmarc/hdfs/v2 client against the
// bridge's NameNode and DataNode on loopback, one test (or more) for every
// public operation of that client, plus the namespace rules clients rely on
// (permissions, the sticky bit, leases, files actions write into the tree).

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

// testBlock is the namespace's default block size in these tests: small, so
// that files of a few KiB span several blocks.
const testBlock = 4096

// Java exception classes, as colinmarc's errors name them.
const (
	exAlreadyBeingCreated = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	exAccessControl       = "org.apache.hadoop.security.AccessControlException"
	exSnapshot            = "org.apache.hadoop.hdfs.protocol.SnapshotException"
	exParentNotDirectory  = "org.apache.hadoop.fs.ParentNotDirectoryException"
)

// testGroups is the group mapping of the tests' users.
func testGroups(user string) []string {
	switch user {
	case "alice":
		return []string{"alice", "staff"}
	case "bob":
		return []string{"bob", "staff"}
	case "admin":
		return []string{"admin", namesys.DefaultSupergroup}
	}
	return []string{user}
}

// startTest serves a namespace with the tests' block size and groups; mod
// changes the configuration further.
func startTest(t *testing.T, mod ...func(*namesys.Config)) (*namesys.FS, string) {
	t.Helper()
	cfg := namesys.Config{BlockSize: testBlock, Groups: testGroups}
	for _, m := range mod {
		m(&cfg)
	}
	return start(t, cfg)
}

// connTracker records the connections a client dials, so a test can drop
// them as a dying process would.
type connTracker struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (ct *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		ct.mu.Lock()
		ct.conns = append(ct.conns, c)
		ct.mu.Unlock()
	}
	return c, err
}

func (ct *connTracker) dropAll() {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, c := range ct.conns {
		c.Close()
	}
	ct.conns = nil
}

// dial connects a client the test closes (or drops) itself.
func dial(t *testing.T, addr, user string, dn *connTracker) *hdfs.Client {
	t.Helper()
	o := hdfs.ClientOptions{Addresses: []string{addr}, User: user}
	if dn != nil {
		o.DatanodeDialFunc = dn.dial
	}
	c, err := hdfs.NewClient(o)
	require.NoError(t, err)
	return c
}

// pattern is n deterministic pseudo-random bytes.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6d617276656c))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// writeFile creates name with data through HDFS, in writes of at most chunk
// bytes (all at once if chunk is 0).
func writeFile(t *testing.T, c *hdfs.Client, name string, data []byte, chunk int) {
	t.Helper()
	w, err := c.Create(name)
	require.NoError(t, err)
	writeChunks(t, w, data, chunk)
	require.NoError(t, w.Close())
}

func writeChunks(t *testing.T, w *hdfs.FileWriter, data []byte, chunk int) {
	t.Helper()
	if chunk <= 0 {
		chunk = max(len(data), 1)
	}
	for off := 0; off < len(data); off += chunk {
		n, err := w.Write(data[off:min(off+chunk, len(data))])
		require.NoError(t, err)
		require.Equal(t, min(chunk, len(data)-off), n)
	}
}

func mustPath(t *testing.T, s string) namesys.Path {
	t.Helper()
	p, err := namesys.ParsePath(s)
	require.NoError(t, err)
	return p
}

func hostPath(t *testing.T, fs *namesys.FS, s string) string {
	t.Helper()
	return fs.HostPath(mustPath(t, s))
}

// javaClass is the exception class of a NameNode error colinmarc did not
// translate ("" if err carries none).
func javaClass(err error) string {
	var re hdfs.Error
	if errors.As(err, &re) {
		return re.Exception()
	}
	return ""
}

func status(t *testing.T, fi os.FileInfo) *hdfs.FileStatus {
	t.Helper()
	st, ok := fi.Sys().(*hdfs.FileStatus)
	require.True(t, ok, "Sys() is %T", fi.Sys())
	return st
}

// fileChecksum is HDFS's MD5-of-MD5-of-CRC32C of data stored in blocks of
// bs bytes, as colinmarc's FileReader.Checksum computes it from the
// DataNode's block checksums.
func fileChecksum(data []byte, bs int) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	h := md5.New()
	padded, total := 32, 0
	for off := 0; off < len(data); off += bs {
		blk := data[off:min(off+bs, len(data))]
		var crcs []byte
		for c := 0; c < len(blk); c += 512 {
			crcs = binary.BigEndian.AppendUint32(crcs, crc32.Checksum(blk[c:min(c+512, len(blk))], tab))
		}
		sum := md5.Sum(crcs)
		h.Write(sum[:])
		total += len(sum)
		if padded < total {
			padded *= 2
		}
	}
	h.Write(make([]byte, padded-total))
	return h.Sum(nil)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func names(list []os.FileInfo) []string {
	var out []string
	for _, fi := range list {
		out = append(out, fi.Name())
	}
	return out
}

func TestClientStatAndReadDir(t *testing.T) {
	_, addr := startTest(t, func(c *namesys.Config) { c.ListLimit = 3 }) // listings take several pages
	c := client(t, addr, "root")
	require.NoError(t, c.MkdirAll("/guest/dir", 0o750))
	files := []string{"b", "a", "c d", "ü", "e", "f", "g"}
	for i, n := range files {
		writeFile(t, c, "/guest/dir/"+n, pattern(uint64(i), i*100), 0)
	}
	require.NoError(t, c.Mkdir("/guest/dir/sub", 0o700))

	fi, err := c.Stat("/guest/dir")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, "dir", fi.Name())
	require.Equal(t, os.ModeDir|0o750, fi.Mode())
	require.Equal(t, "root", fi.(*hdfs.FileInfo).Owner())
	require.Equal(t, namesys.DefaultSupergroup, fi.(*hdfs.FileInfo).OwnerGroup())
	require.WithinDuration(t, time.Now(), fi.ModTime(), time.Minute)
	require.EqualValues(t, 8, status(t, fi).GetChildrenNum())
	require.NotZero(t, status(t, fi).GetFileId())

	fi, err = c.Stat("/guest/dir/e")
	require.NoError(t, err)
	require.False(t, fi.IsDir())
	require.Equal(t, "e", fi.Name())
	require.EqualValues(t, 400, fi.Size())
	require.Equal(t, os.FileMode(0o644), fi.Mode())
	require.WithinDuration(t, time.Now(), fi.ModTime(), time.Minute)
	require.WithinDuration(t, time.Now(), fi.(*hdfs.FileInfo).AccessTime(), time.Minute)
	require.EqualValues(t, testBlock, status(t, fi).GetBlocksize())
	require.EqualValues(t, 1, status(t, fi).GetBlockReplication())

	fi, err = c.Stat("/")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, "root", fi.(*hdfs.FileInfo).Owner())

	for _, missing := range []string{"/nope", "/guest/nope/x", "/guest/dir/e/under-a-file"} {
		_, err = c.Stat(missing)
		require.ErrorIs(t, err, os.ErrNotExist, missing)
	}

	list, err := c.ReadDir("/guest/dir")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c d", "e", "f", "g", "sub", "ü"}, names(list))
	for _, fi := range list {
		if fi.Name() == "sub" {
			require.True(t, fi.IsDir())
			require.Equal(t, os.ModeDir|0o700, fi.Mode())
			continue
		}
		require.False(t, fi.IsDir(), fi.Name())
		require.EqualValues(t, 100*slices.Index(files, fi.Name()), fi.Size(), fi.Name())
	}
	list, err = c.ReadDir("/guest/dir/sub")
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = c.ReadDir("/nope")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestClientFileReader(t *testing.T) {
	_, addr := startTest(t, func(c *namesys.Config) { c.ListLimit = 2 })
	c := client(t, addr, "root")
	data := pattern(1, 3*testBlock+1234)
	writeFile(t, c, "/f", data, 0)

	r, err := c.Open("/f")
	require.NoError(t, err)
	require.Equal(t, "f", r.Name())
	require.EqualValues(t, len(data), r.Stat().Size())

	// Read in pieces that straddle the block boundaries.
	var got []byte
	buf := make([]byte, 1000)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	require.Equal(t, data, got)
	n, err := r.Read(buf)
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err)

	// Seek, from every origin.
	pos, err := r.Seek(5000, io.SeekStart)
	require.NoError(t, err)
	require.EqualValues(t, 5000, pos)
	part := make([]byte, 100)
	_, err = io.ReadFull(r, part)
	require.NoError(t, err)
	require.Equal(t, data[5000:5100], part)
	pos, err = r.Seek(2*testBlock-100-5100, io.SeekCurrent)
	require.NoError(t, err)
	require.EqualValues(t, 2*testBlock-100, pos)
	part = make([]byte, 200)
	_, err = io.ReadFull(r, part)
	require.NoError(t, err)
	require.Equal(t, data[2*testBlock-100:2*testBlock+100], part)
	pos, err = r.Seek(-10, io.SeekEnd)
	require.NoError(t, err)
	require.EqualValues(t, len(data)-10, pos)
	got, err = io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, data[len(data)-10:], got)
	_, err = r.Seek(int64(len(data))+1, io.SeekStart)
	require.Error(t, err)
	_, err = r.Seek(-1, io.SeekStart)
	require.Error(t, err)

	// ReadAt across two block boundaries, and past the end.
	part = make([]byte, testBlock+300)
	n, err = r.ReadAt(part, testBlock-100)
	require.NoError(t, err)
	require.Equal(t, len(part), n)
	require.Equal(t, data[testBlock-100:2*testBlock+200], part)
	part = make([]byte, 500)
	n, err = r.ReadAt(part, int64(len(data)-200))
	require.Equal(t, io.EOF, err)
	require.Equal(t, 200, n)
	require.Equal(t, data[len(data)-200:], part[:200])

	sum, err := r.Checksum()
	require.NoError(t, err)
	require.Equal(t, fileChecksum(data, testBlock), sum)
	require.NoError(t, r.Close())
	_, err = r.Read(buf)
	require.ErrorIs(t, err, io.ErrClosedPipe)

	// The checksum of HDFS's own test file ("bar\n"), and of an empty file.
	writeFile(t, c, "/foo.txt", []byte("bar\n"), 0)
	r, err = c.Open("/foo.txt")
	require.NoError(t, err)
	sum, err = r.Checksum()
	require.NoError(t, err)
	require.Equal(t, "27c076e4987344253650d3335a5d08ce", hex.EncodeToString(sum))
	require.NoError(t, r.Close())
	require.NoError(t, c.CreateEmptyFile("/empty"))
	r, err = c.Open("/empty")
	require.NoError(t, err)
	sum, err = r.Checksum()
	require.NoError(t, err)
	require.Equal(t, fileChecksum(nil, testBlock), sum)
	n, err = r.Read(buf)
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err)
	require.NoError(t, r.Close())

	// A directory: Readdir in pages (the listing limit is 2), Readdirnames.
	require.NoError(t, c.Mkdir("/d", 0o755))
	for _, n := range []string{"e", "d", "c", "b", "a"} {
		require.NoError(t, c.CreateEmptyFile("/d/"+n))
	}
	d, err := c.Open("/d")
	require.NoError(t, err)
	require.True(t, d.Stat().IsDir())
	var seen []string
	for {
		page, err := d.Readdir(2)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.NotEmpty(t, page)
		require.LessOrEqual(t, len(page), 2)
		seen = append(seen, names(page)...)
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, seen)
	all, err := d.Readdirnames(0)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, all)
	_, err = d.Read(buf)
	require.Error(t, err)
	_, err = d.Checksum()
	require.Error(t, err)
	require.NoError(t, d.Close())
	_, err = c.Open("/nope")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestClientMisc: the rest of the client's surface: New (the current OS
// user), User, Name, and the readers' and writers' deadlines.
func TestClientMisc(t *testing.T) {
	_, addr := startTest(t)
	t.Setenv("HADOOP_CONF_DIR", t.TempDir())
	t.Setenv("HADOOP_HOME", "")
	c, err := hdfs.New(addr)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, "root", c.User(), "the tests run as root")
	require.True(t, strings.HasPrefix(c.Name(), "go-hdfs-"), c.Name())
	require.NoError(t, c.Mkdir("/m", 0o755))
	fi, err := c.Stat("/m")
	require.NoError(t, err)
	require.Equal(t, c.User(), fi.(*hdfs.FileInfo).Owner())

	w, err := c.Create("/m/f")
	require.NoError(t, err)
	require.NoError(t, w.SetDeadline(time.Now().Add(time.Minute)))
	data := pattern(1, 2*testBlock+1)
	writeChunks(t, w, data, 0)
	require.NoError(t, w.Close())

	r, err := c.Open("/m/f")
	require.NoError(t, err)
	require.NoError(t, r.SetDeadline(time.Now().Add(-time.Second)))
	_, err = r.Read(make([]byte, 10))
	require.Error(t, err, "a deadline in the past fails the read")
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	require.NoError(t, r.SetDeadline(time.Time{}))
	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.NoError(t, r.Close())
}

// TestClientFileSizes writes files around and across block boundaries, in one
// write and in writes that end exactly on block boundaries, and reads them
// back through HDFS and from the host.
func TestClientFileSizes(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	require.NoError(t, c.Mkdir("/s", 0o755))
	sizes := []int{0, 1, 511, 512, 513, testBlock - 1, testBlock, testBlock + 1, 3 * testBlock, 3*testBlock + 777, 5*testBlock - 1}
	for _, size := range sizes {
		for _, chunk := range []int{0, 1024} {
			name := fmt.Sprintf("/s/%d-%d", size, chunk)
			data := pattern(uint64(size), size)
			writeFile(t, c, name, data, chunk)

			fi, err := c.Stat(name)
			require.NoError(t, err)
			require.EqualValues(t, size, fi.Size(), name)
			got, err := c.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, data, got, name)
			host, err := os.ReadFile(hostPath(t, fs, name))
			require.NoError(t, err)
			require.Equal(t, data, host, name)

			l, err := fs.Locations(fs.UserOf("root"), mustPath(t, name), 0, int64(size))
			require.NoError(t, err)
			require.Len(t, l.Blocks, (size+testBlock-1)/testBlock, name)
			for i, b := range l.Blocks {
				require.EqualValues(t, i*testBlock, b.Offset)
				require.EqualValues(t, min(testBlock, size-i*testBlock), b.NumBytes)
			}
			require.False(t, l.UnderConstruction)

			r, err := c.Open(name)
			require.NoError(t, err)
			sum, err := r.Checksum()
			require.NoError(t, err)
			require.Equal(t, fileChecksum(data, testBlock), sum, name)
			r.Close()
		}
	}
}

func TestClientCreateFileOptions(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	for _, tc := range []struct {
		name string
		bs   int64
		perm os.FileMode
		size int
	}{
		{"/bs1536", 1536, 0o600, 5000},
		{"/bs1000", 1000, 0o640, 3500}, // not a multiple of 512
		{"/bs64k", 64 << 10, 0o755, 200 << 10},
	} {
		w, err := c.CreateFile(tc.name, 3, tc.bs, tc.perm)
		require.NoError(t, err)
		data := pattern(uint64(tc.bs), tc.size)
		writeChunks(t, w, data, 700)
		require.NoError(t, w.Close())
		fi, err := c.Stat(tc.name)
		require.NoError(t, err)
		require.Equal(t, tc.perm, fi.Mode(), tc.name)
		require.EqualValues(t, tc.bs, status(t, fi).GetBlocksize(), tc.name)
		require.EqualValues(t, 1, status(t, fi).GetBlockReplication(), "one copy, whatever was asked")
		hfi, err := os.Stat(hostPath(t, fs, tc.name))
		require.NoError(t, err)
		require.Equal(t, tc.perm, hfi.Mode().Perm(), "the permission bits are the host file's")
		got, err := c.ReadFile(tc.name)
		require.NoError(t, err)
		require.Equal(t, data, got, tc.name)
		l, err := fs.Locations(fs.UserOf("root"), mustPath(t, tc.name), 0, int64(tc.size))
		require.NoError(t, err)
		require.Len(t, l.Blocks, int((int64(tc.size)+tc.bs-1)/tc.bs), tc.name)
		r, err := c.Open(tc.name)
		require.NoError(t, err)
		sum, err := r.Checksum()
		require.NoError(t, err)
		require.Equal(t, fileChecksum(data, int(tc.bs)), sum, tc.name)
		r.Close()
	}
	_, err := c.CreateFile("/tiny", 1, 100, 0o644)
	require.Error(t, err, "a block size under 512 bytes is refused")
}

func TestClientCreateEmptyFile(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	require.NoError(t, c.CreateEmptyFile("/e"))
	fi, err := c.Stat("/e")
	require.NoError(t, err)
	require.Zero(t, fi.Size())
	require.Equal(t, os.FileMode(0o644), fi.Mode())
	got, err := c.ReadFile("/e")
	require.NoError(t, err)
	require.Empty(t, got)
	hfi, err := os.Stat(hostPath(t, fs, "/e"))
	require.NoError(t, err)
	require.Zero(t, hfi.Size())
	closed, err := fs.IsFileClosed(fs.UserOf("root"), mustPath(t, "/e"))
	require.NoError(t, err)
	require.True(t, closed)

	require.ErrorIs(t, c.CreateEmptyFile("/e"), os.ErrExist)
	require.ErrorIs(t, c.CreateEmptyFile("/missing/e"), os.ErrNotExist)
	require.NoError(t, c.Mkdir("/dir", 0o755))
	require.ErrorIs(t, c.CreateEmptyFile("/dir"), os.ErrExist)
	_, err = c.CreateFile("/dir", 1, testBlock, 0o644)
	require.ErrorIs(t, err, os.ErrExist)
	err = c.CreateEmptyFile("/e/under-a-file")
	require.Error(t, err)
	require.Equal(t, exParentNotDirectory, javaClass(err))
}

func TestClientCreateExisting(t *testing.T) {
	_, addr := startTest(t)
	a := client(t, addr, "root")
	b := client(t, addr, "root")
	writeFile(t, a, "/done", []byte("closed"), 0)
	_, err := b.Create("/done")
	require.ErrorIs(t, err, os.ErrExist)
	_, err = b.CreateFile("/done", 1, testBlock, 0o644) // no getFileInfo first: the NameNode says so
	require.ErrorIs(t, err, os.ErrExist)

	// A file another client is writing: create is refused
	// (AlreadyBeingCreated), and so is append, which names the class.
	w, err := a.Create("/open")
	require.NoError(t, err)
	_, err = w.Write([]byte("first half"))
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	_, err = b.Create("/open")
	require.ErrorIs(t, err, os.ErrExist)
	_, err = b.CreateFile("/open", 1, testBlock, 0o644)
	require.ErrorIs(t, err, os.ErrExist)
	_, err = a.CreateFile("/open", 1, testBlock, 0o644)
	require.ErrorIs(t, err, os.ErrExist, "the holder itself cannot create it again")
	_, err = b.Append("/open")
	require.Error(t, err)
	require.Equal(t, exAlreadyBeingCreated, javaClass(err), "%v", err)
	_, err = b.Truncate("/open", 0)
	require.Error(t, err)

	_, err = w.Write([]byte(", second half"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err := b.ReadFile("/open")
	require.NoError(t, err)
	require.Equal(t, "first half, second half", string(got))
	w2, err := b.Append("/open")
	require.NoError(t, err, "closed: another client may append")
	require.NoError(t, w2.Close())
}

func TestClientDeleteOpenFile(t *testing.T) {
	fs, addr := startTest(t)
	a := client(t, addr, "root")
	b := client(t, addr, "root")
	w, err := a.Create("/open")
	require.NoError(t, err)
	writeChunks(t, w, pattern(3, 2*testBlock+10), 0)
	require.NoError(t, w.Flush())
	require.NoError(t, b.Remove("/open"))
	_, err = b.Stat("/open")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = w.Write(pattern(4, testBlock))
	if err == nil {
		err = w.Close()
	}
	require.Error(t, err, "the writer of a deleted file learns it")
	_, err = os.Stat(hostPath(t, fs, "/open"))
	require.ErrorIs(t, err, os.ErrNotExist)
	// The name is free again.
	writeFile(t, b, "/open", []byte("new"), 0)
	got, err := a.ReadFile("/open")
	require.NoError(t, err)
	require.Equal(t, "new", string(got))

	// An open file whose directory was renamed, then deleted under its new
	// name: its writer learns it too, and cannot complete the file.
	require.NoError(t, a.Mkdir("/d", 0o755))
	w, err = a.Create("/d/f")
	require.NoError(t, err)
	writeChunks(t, w, pattern(5, testBlock+10), 0)
	require.NoError(t, w.Flush())
	require.NoError(t, b.Rename("/d", "/e"))
	require.NoError(t, b.RemoveAll("/e"))
	_, err = w.Write(pattern(6, testBlock))
	if err == nil {
		err = w.Close()
	}
	require.Error(t, err, "the writer of a file deleted with its renamed directory learns it")
	_, err = b.Stat("/e")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestClientAppend(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	appendTo := func(name string, chunk int, parts ...[]byte) {
		t.Helper()
		for _, p := range parts {
			w, err := c.Append(name)
			require.NoError(t, err)
			writeChunks(t, w, p, chunk)
			require.NoError(t, w.Close())
		}
	}
	check := func(name string, want []byte) {
		t.Helper()
		got, err := c.ReadFile(name)
		require.NoError(t, err)
		require.Equal(t, want, got, name)
		fi, err := c.Stat(name)
		require.NoError(t, err)
		require.EqualValues(t, len(want), fi.Size())
		r, err := c.Open(name)
		require.NoError(t, err)
		sum, err := r.Checksum()
		require.NoError(t, err)
		require.Equal(t, fileChecksum(want, testBlock), sum, name)
		r.Close()
		l, err := fs.Locations(fs.UserOf("root"), mustPath(t, name), 0, int64(len(want)))
		require.NoError(t, err)
		require.Len(t, l.Blocks, (len(want)+testBlock-1)/testBlock)
	}

	// Ending mid-block (and mid-chunk): the appender continues the
	// partial block, then goes on into new ones.
	base := pattern(10, 2*testBlock+100)
	more := pattern(11, 5000)
	writeFile(t, c, "/mid", base, 0)
	appendTo("/mid", 0, more)
	check("/mid", cat(base, more))

	// Ending on a block boundary: the appender starts a new block.
	base = pattern(12, 2*testBlock)
	more = pattern(13, 300)
	writeFile(t, c, "/edge", base, 0)
	appendTo("/edge", 0, more)
	check("/edge", cat(base, more))

	// Empty, then many small appends (each rewrites a partial chunk's CRC),
	// one of which fills a block exactly.
	require.NoError(t, c.CreateEmptyFile("/small"))
	var want []byte
	var parts [][]byte
	for i, n := range []int{7, 500, 5, 3584, 1, 0, 1000} {
		p := pattern(uint64(20+i), n)
		parts = append(parts, p)
		want = append(want, p...)
	}
	appendTo("/small", 100, parts...)
	check("/small", want)

	// A block size that is not a multiple of 512: the last chunk of each
	// block is short, and the append starts inside one.
	w, err := c.CreateFile("/odd", 1, 1000, 0o644)
	require.NoError(t, err)
	base = pattern(14, 1500)
	writeChunks(t, w, base, 0)
	require.NoError(t, w.Close())
	more = pattern(15, 2000)
	appendTo("/odd", 300, more)
	got, err := c.ReadFile("/odd")
	require.NoError(t, err)
	require.Equal(t, cat(base, more), got)
	r, err := c.Open("/odd")
	require.NoError(t, err)
	sum, err := r.Checksum()
	require.NoError(t, err)
	require.Equal(t, fileChecksum(cat(base, more), 1000), sum)
	r.Close()

	// An append that writes nothing leaves the file as it was.
	appendTo("/mid", 0, nil)
	check("/mid", cat(pattern(10, 2*testBlock+100), pattern(11, 5000)))

	_, err = c.Append("/nope")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, c.Mkdir("/dir", 0o755))
	_, err = c.Append("/dir")
	require.Error(t, err)
}

func TestClientMkdir(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	require.NoError(t, c.Mkdir("/m", 0o751))
	fi, err := c.Stat("/m")
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|0o751, fi.Mode())
	hfi, err := os.Stat(hostPath(t, fs, "/m"))
	require.NoError(t, err)
	require.True(t, hfi.IsDir())
	require.Equal(t, os.FileMode(0o751), hfi.Mode().Perm())

	require.ErrorIs(t, c.Mkdir("/m", 0o755), os.ErrExist)
	require.ErrorIs(t, c.Mkdir("/x/y", 0o755), os.ErrNotExist)
	_, err = c.Stat("/x")
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, c.MkdirAll("/p/q/r", 0o500))
	for p, mode := range map[string]os.FileMode{"/p": 0o700, "/p/q": 0o700, "/p/q/r": 0o500} {
		fi, err := c.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.ModeDir|mode, fi.Mode(), "%s: missing parents get u+wx", p)
	}
	require.NoError(t, c.MkdirAll("/p/q/r", 0o755), "an existing directory is fine")
	require.NoError(t, c.MkdirAll("/p", 0o755))

	writeFile(t, c, "/file", []byte("x"), 0)
	require.ErrorIs(t, c.Mkdir("/file", 0o755), os.ErrExist)
	require.ErrorIs(t, c.MkdirAll("/file", 0o755), os.ErrExist)
	err = c.MkdirAll("/file/sub", 0o755)
	require.Error(t, err)
	require.Equal(t, exParentNotDirectory, javaClass(err))
}

func TestClientRename(t *testing.T) {
	_, addr := startTest(t)
	c := client(t, addr, "root")
	read := func(name string) string {
		t.Helper()
		b, err := c.ReadFile(name)
		require.NoError(t, err)
		return string(b)
	}
	require.NoError(t, c.Mkdir("/r", 0o755))
	writeFile(t, c, "/r/a", []byte("A"), 0)
	writeFile(t, c, "/r/b", []byte("B"), 0)

	// Over an existing file: it is replaced.
	require.NoError(t, c.Rename("/r/a", "/r/b"))
	require.Equal(t, "A", read("/r/b"))
	_, err := c.Stat("/r/a")
	require.ErrorIs(t, err, os.ErrNotExist)

	// Into a missing directory: refused, nothing moves.
	require.ErrorIs(t, c.Rename("/r/b", "/nope/b"), os.ErrNotExist)
	require.Equal(t, "A", read("/r/b"))

	// Onto itself: FileAlreadyExists, as HDFS's rename2; nothing changes.
	require.ErrorIs(t, c.Rename("/r/b", "/r/b"), os.ErrExist)
	require.Equal(t, "A", read("/r/b"))

	// A missing source.
	require.ErrorIs(t, c.Rename("/r/nope", "/r/c"), os.ErrNotExist)

	// Directories: moved whole; over an empty directory; not over a
	// non-empty one, a file, or into themselves.
	require.NoError(t, c.Rename("/r", "/r2"))
	require.Equal(t, "A", read("/r2/b"))
	require.NoError(t, c.Mkdir("/empty", 0o755))
	require.NoError(t, c.Mkdir("/r2/sub", 0o755))
	require.NoError(t, c.Rename("/r2/sub", "/empty"))
	fi, err := c.Stat("/empty")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.NoError(t, c.Mkdir("/full", 0o755))
	writeFile(t, c, "/full/x", []byte("x"), 0)
	require.Error(t, c.Rename("/empty", "/full"))
	require.Equal(t, "x", read("/full/x"))
	require.Error(t, c.Rename("/r2/b", "/full"), "a file over a directory")
	require.Error(t, c.Rename("/full", "/r2/b"), "a directory over a file")
	require.NoError(t, c.Mkdir("/r2/inner", 0o755))
	require.Error(t, c.Rename("/r2", "/r2/inner/r2"), "into its own subtree")
	require.Equal(t, "A", read("/r2/b"))

	// An open file renamed under its writer: the writer finishes at the new
	// name (the NameNode follows it by file ID).
	w, err := c.Create("/r2/open")
	require.NoError(t, err)
	data := pattern(5, 3*testBlock+10)
	writeChunks(t, w, data[:testBlock+5], 0)
	require.NoError(t, w.Flush())
	require.NoError(t, c.Rename("/r2/open", "/moved"))
	writeChunks(t, w, data[testBlock+5:], 0)
	require.NoError(t, w.Close())
	got, err := c.ReadFile("/moved")
	require.NoError(t, err)
	require.Equal(t, data, got)
}

func TestClientRemove(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	writeFile(t, c, "/f", []byte("x"), 0)
	require.NoError(t, c.Remove("/f"))
	_, err := c.Stat("/f")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorIs(t, c.Remove("/f"), os.ErrNotExist)

	require.NoError(t, c.Mkdir("/empty", 0o755))
	require.NoError(t, c.Remove("/empty"))

	require.NoError(t, c.MkdirAll("/tree/a/b", 0o755))
	writeFile(t, c, "/tree/a/b/f", pattern(1, 3*testBlock), 0)
	writeFile(t, c, "/tree/g", []byte("g"), 0)
	err = c.Remove("/tree")
	require.ErrorIs(t, err, syscall.ENOTEMPTY)
	_, err = c.Stat("/tree/a/b/f")
	require.NoError(t, err, "a refused delete leaves everything")
	require.NoError(t, c.RemoveAll("/tree"))
	_, err = c.Stat("/tree")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(hostPath(t, fs, "/tree"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, c.RemoveAll("/tree"), "RemoveAll of a missing path is no error")

	// The root is never deleted (HDFS answers false).
	writeFile(t, c, "/keep", []byte("k"), 0)
	require.NoError(t, c.RemoveAll("/"))
	got, err := c.ReadFile("/keep")
	require.NoError(t, err)
	require.Equal(t, "k", string(got))
}

func TestClientChmodChownChtimes(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	writeFile(t, c, "/f", []byte("x"), 0)
	require.NoError(t, c.Mkdir("/d", 0o755))

	require.NoError(t, c.Chmod("/f", 0o600))
	fi, err := c.Stat("/f")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode())
	hfi, err := os.Stat(hostPath(t, fs, "/f"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), hfi.Mode().Perm(), "chmod is a real chmod")

	require.NoError(t, c.Chmod("/d", 0o1777)) // HDFS's sticky bit is 01000
	fi, err = c.Stat("/d")
	require.NoError(t, err)
	require.EqualValues(t, 0o1777, status(t, fi).GetPermission().GetPerm())
	hfi, err = os.Stat(hostPath(t, fs, "/d"))
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|os.ModeSticky|0o777, hfi.Mode())

	owner := func(name string) (string, string) {
		t.Helper()
		fi, err := c.Stat(name)
		require.NoError(t, err)
		return fi.(*hdfs.FileInfo).Owner(), fi.(*hdfs.FileInfo).OwnerGroup()
	}
	require.NoError(t, c.Chown("/f", "alice", "staff"))
	o, g := owner("/f")
	require.Equal(t, []string{"alice", "staff"}, []string{o, g})
	require.NoError(t, c.Chown("/f", "", "bob"))
	o, g = owner("/f")
	require.Equal(t, []string{"alice", "bob"}, []string{o, g})
	require.NoError(t, c.Chown("/f", "carol", ""))
	o, g = owner("/f")
	require.Equal(t, []string{"carol", "bob"}, []string{o, g})
	require.NoError(t, c.Chown("/d", "alice", ""))
	o, _ = owner("/d")
	require.Equal(t, "alice", o)

	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	atime := time.Date(2022, 8, 9, 10, 11, 12, 0, time.UTC)
	require.NoError(t, c.Chtimes("/f", atime, mtime))
	fi, err = c.Stat("/f")
	require.NoError(t, err)
	require.True(t, mtime.Equal(fi.ModTime()), "mtime %v", fi.ModTime())
	require.True(t, atime.Equal(fi.(*hdfs.FileInfo).AccessTime()), "atime %v", fi.(*hdfs.FileInfo).AccessTime())
	hfi, err = os.Stat(hostPath(t, fs, "/f"))
	require.NoError(t, err)
	require.True(t, mtime.Equal(hfi.ModTime()), "setTimes is a real utimens")
	require.NoError(t, c.Chtimes("/d", atime, mtime))
	fi, err = c.Stat("/d")
	require.NoError(t, err)
	require.True(t, mtime.Equal(fi.ModTime()))

	for _, err := range []error{c.Chmod("/nope", 0o644), c.Chown("/nope", "a", "b"), c.Chtimes("/nope", atime, mtime)} {
		require.ErrorIs(t, err, os.ErrNotExist)
	}
}

func TestClientContentSummary(t *testing.T) {
	_, addr := startTest(t)
	c := client(t, addr, "root")
	require.NoError(t, c.MkdirAll("/cs/sub/empty", 0o755))
	writeFile(t, c, "/cs/a", pattern(1, 100), 0)
	writeFile(t, c, "/cs/b", pattern(2, 5000), 0)
	require.NoError(t, c.CreateEmptyFile("/cs/c"))
	writeFile(t, c, "/cs/sub/d", pattern(3, testBlock), 0)

	cs, err := c.GetContentSummary("/cs")
	require.NoError(t, err)
	require.EqualValues(t, 100+5000+testBlock, cs.Size())
	require.EqualValues(t, 100+5000+testBlock, cs.SizeAfterReplication())
	require.Equal(t, 4, cs.FileCount())
	require.Equal(t, 3, cs.DirectoryCount(), "cs, sub and empty")
	require.Equal(t, -1, cs.NameQuota())
	require.EqualValues(t, -1, cs.SpaceQuota())

	cs, err = c.GetContentSummary("/cs/b")
	require.NoError(t, err)
	require.EqualValues(t, 5000, cs.Size())
	require.Equal(t, 1, cs.FileCount())
	require.Equal(t, 0, cs.DirectoryCount())

	cs, err = c.GetContentSummary("/cs/sub/empty")
	require.NoError(t, err)
	require.Zero(t, cs.Size())
	require.Equal(t, 0, cs.FileCount())
	require.Equal(t, 1, cs.DirectoryCount())

	_, err = c.GetContentSummary("/nope")
	require.ErrorIs(t, err, os.ErrNotExist)

	// A subtree alice cannot read.
	require.NoError(t, c.Chmod("/cs/sub", 0o700))
	alice := client(t, addr, "alice")
	_, err = alice.GetContentSummary("/cs")
	require.ErrorIs(t, err, os.ErrPermission)
}

func TestClientStatFsAndServerDefaults(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "alice")
	info, err := c.StatFs()
	require.NoError(t, err)
	require.Positive(t, info.Capacity)
	require.Positive(t, info.Remaining)
	require.LessOrEqual(t, info.Used, info.Capacity)
	require.LessOrEqual(t, info.Remaining, info.Capacity)
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(fs.Root(), &st))
	require.EqualValues(t, st.Blocks*uint64(st.Bsize), info.Capacity, "the capacity of the namespace's file system")

	d, err := c.ServerDefaults()
	require.NoError(t, err)
	require.EqualValues(t, testBlock, d.BlockSize)
	require.Equal(t, 512, d.BytesPerChecksum)
	require.Equal(t, 1, d.Replication)
	require.Equal(t, 64<<10, d.WritePacketSize)
	require.False(t, d.EncryptDataTransfer)
}

func TestClientTruncate(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	data := pattern(7, 3*testBlock+100)
	writeFile(t, c, "/t", data, 0)

	done, err := c.Truncate("/t", 2*testBlock+5)
	require.NoError(t, err)
	require.True(t, done, "truncation is immediate")
	data = data[:2*testBlock+5]
	got, err := c.ReadFile("/t")
	require.NoError(t, err)
	require.Equal(t, data, got)
	hfi, err := os.Stat(hostPath(t, fs, "/t"))
	require.NoError(t, err)
	require.EqualValues(t, len(data), hfi.Size())
	r, err := c.Open("/t")
	require.NoError(t, err)
	sum, err := r.Checksum()
	require.NoError(t, err)
	require.Equal(t, fileChecksum(data, testBlock), sum)
	r.Close()

	done, err = c.Truncate("/t", int64(len(data)))
	require.NoError(t, err)
	require.True(t, done)
	_, err = c.Truncate("/t", int64(len(data))+1)
	require.ErrorIs(t, err, os.ErrInvalid)
	_, err = c.Truncate("/t", -1)
	require.ErrorIs(t, err, os.ErrInvalid)
	_, err = c.Truncate("/nope", 0)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, c.Mkdir("/dir", 0o755))
	_, err = c.Truncate("/dir", 0)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Appending after a truncation to mid-block continues that block.
	w, err := c.Append("/t")
	require.NoError(t, err)
	more := pattern(8, testBlock)
	writeChunks(t, w, more, 0)
	require.NoError(t, w.Close())
	got, err = c.ReadFile("/t")
	require.NoError(t, err)
	require.Equal(t, cat(data, more), got)

	done, err = c.Truncate("/t", 0)
	require.NoError(t, err)
	require.True(t, done)
	got, err = c.ReadFile("/t")
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestClientCopyToLocalAndRemote(t *testing.T) {
	fs, addr := startTest(t)
	c := client(t, addr, "root")
	dir := t.TempDir()
	data := pattern(9, 3*testBlock+5)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in"), data, 0o644))

	require.NoError(t, c.CopyToRemote(filepath.Join(dir, "in"), "/cp"))
	got, err := c.ReadFile("/cp")
	require.NoError(t, err)
	require.Equal(t, data, got)
	host, err := os.ReadFile(hostPath(t, fs, "/cp"))
	require.NoError(t, err)
	require.Equal(t, data, host)
	require.ErrorIs(t, c.CopyToRemote(filepath.Join(dir, "in"), "/cp"), os.ErrExist)

	require.NoError(t, c.CopyToLocal("/cp", filepath.Join(dir, "out")))
	got, err = os.ReadFile(filepath.Join(dir, "out"))
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.ErrorIs(t, c.CopyToLocal("/nope", filepath.Join(dir, "out2")), os.ErrNotExist)
}

func TestClientWalk(t *testing.T) {
	_, addr := startTest(t)
	c := client(t, addr, "root")
	require.NoError(t, c.MkdirAll("/w/b/d", 0o755))
	for _, f := range []string{"/w/a", "/w/b/c", "/w/b/d/e", "/w/z"} {
		require.NoError(t, c.CreateEmptyFile(f))
	}
	var seen []string
	require.NoError(t, c.Walk("/w", func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		seen = append(seen, fmt.Sprintf("%s %t", p, fi.IsDir()))
		return nil
	}))
	require.Equal(t, []string{"/w true", "/w/a false", "/w/b true", "/w/b/c false", "/w/b/d true", "/w/b/d/e false", "/w/z false"}, seen)

	seen = nil
	require.NoError(t, c.Walk("/w", func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		seen = append(seen, p)
		if p == "/w/b" {
			return filepath.SkipDir
		}
		return nil
	}))
	require.Equal(t, []string{"/w", "/w/a", "/w/b", "/w/z"}, seen)

	var walkErr error
	require.NoError(t, c.Walk("/nope", func(p string, fi os.FileInfo, err error) error {
		walkErr = err
		return nil
	}))
	require.ErrorIs(t, walkErr, os.ErrNotExist)
}

func TestClientXAttrs(t *testing.T) {
	_, addr := startTest(t)
	root := client(t, addr, "root")
	alice := client(t, addr, "alice")
	bob := client(t, addr, "bob")
	require.NoError(t, root.MkdirAll("/home/alice", 0o755))
	require.NoError(t, root.Chown("/home/alice", "alice", ""))
	require.NoError(t, alice.CreateEmptyFile("/home/alice/f"))
	const f = "/home/alice/f"

	keys := func(m map[string]string) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}

	list, err := alice.ListXAttrs(f)
	require.NoError(t, err)
	require.Empty(t, list, "the bridge's own attribute is not an HDFS one")

	require.NoError(t, alice.SetXAttr(f, "user.color", "blue"))
	require.NoError(t, alice.SetXAttr(f, "user.size", "L"))
	require.NoError(t, alice.SetXAttr(f, "user.empty", ""))
	got, err := alice.GetXAttrs(f, "user.color")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.color": "blue"}, got)
	got, err = alice.GetXAttrs(f, "user.color", "user.size", "user.empty")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.color": "blue", "user.size": "L", "user.empty": ""}, got)
	require.NoError(t, alice.SetXAttr(f, "user.color", "red")) // CREATE|REPLACE
	got, err = bob.GetXAttrs(f, "user.color")
	require.NoError(t, err, "READ is enough to get")
	require.Equal(t, map[string]string{"user.color": "red"}, got)
	list, err = bob.ListXAttrs(f)
	require.NoError(t, err)
	require.Equal(t, []string{"user.color", "user.empty", "user.size"}, keys(list))

	require.NoError(t, alice.RemoveXAttr(f, "user.size"))
	require.Error(t, alice.RemoveXAttr(f, "user.size"), "removing a missing attribute fails")
	_, err = alice.GetXAttrs(f, "user.size")
	require.Error(t, err, "getting a missing attribute fails")
	list, err = alice.ListXAttrs(f)
	require.NoError(t, err)
	require.Equal(t, []string{"user.color", "user.empty"}, keys(list))

	// Writing needs WRITE on the inode.
	require.ErrorIs(t, bob.SetXAttr(f, "user.x", "y"), os.ErrPermission)
	require.ErrorIs(t, bob.RemoveXAttr(f, "user.color"), os.ErrPermission)

	// trusted.* is the superuser's; security.* is not served.
	require.ErrorIs(t, alice.SetXAttr(f, "trusted.t", "x"), os.ErrPermission)
	require.NoError(t, root.SetXAttr(f, "trusted.t", "x"))
	list, err = root.ListXAttrs(f)
	require.NoError(t, err)
	require.Equal(t, []string{"trusted.t", "user.color", "user.empty"}, keys(list))
	list, err = alice.ListXAttrs(f)
	require.NoError(t, err)
	require.Equal(t, []string{"user.color", "user.empty"}, keys(list), "trusted.* is hidden from others")
	_, err = alice.GetXAttrs(f, "trusted.t")
	require.ErrorIs(t, err, os.ErrPermission)
	got, err = root.GetXAttrs(f, "trusted.t")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"trusted.t": "x"}, got)
	require.ErrorIs(t, alice.SetXAttr(f, "security.s", "x"), os.ErrPermission)

	// Directories have them too; a missing path has none.
	require.NoError(t, alice.SetXAttr("/home/alice", "user.d", "dir"))
	got, err = root.GetXAttrs("/home/alice", "user.d")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.d": "dir"}, got)
	_, err = alice.ListXAttrs("/nope")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorIs(t, alice.SetXAttr("/nope", "user.a", "b"), os.ErrNotExist)
}

func TestClientSnapshots(t *testing.T) {
	_, addr := startTest(t)
	root := client(t, addr, "root")
	alice := client(t, addr, "alice")
	require.NoError(t, root.Mkdir("/snap", 0o777))
	writeFile(t, root, "/file", []byte("x"), 0)

	// Snapshots are deliberately unsupported: a SnapshotException that says
	// so.
	err := root.AllowSnapshots("/snap")
	require.Error(t, err)
	require.Equal(t, exSnapshot, javaClass(err))
	require.Contains(t, err.(hdfs.Error).Message(), "does not support snapshots")
	_, err = root.CreateSnapshot("/snap", "s1")
	require.Error(t, err)
	require.Equal(t, exSnapshot, javaClass(err))
	require.Contains(t, err.(hdfs.Error).Message(), "not a snapshottable directory")
	err = root.DeleteSnapshot("/snap", "s1")
	require.Error(t, err)
	require.Equal(t, exSnapshot, javaClass(err))

	// No directory is snapshottable, so disallowing is a no-op success.
	require.NoError(t, root.DisallowSnapshots("/snap"))
	require.Error(t, root.DisallowSnapshots("/file"), "not a directory")
	require.ErrorIs(t, root.DisallowSnapshots("/nope"), os.ErrNotExist)
	require.ErrorIs(t, root.AllowSnapshots("/nope"), os.ErrNotExist)
	_, err = root.CreateSnapshot("/nope", "s")
	require.ErrorIs(t, err, os.ErrNotExist)

	// Allowing and disallowing are the superuser's, as in HDFS.
	require.ErrorIs(t, alice.AllowSnapshots("/snap"), os.ErrPermission)
	require.ErrorIs(t, alice.DisallowSnapshots("/snap"), os.ErrPermission)

	// The directory is untouched.
	fi, err := root.Stat("/snap")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
}

func TestClientPermissions(t *testing.T) {
	fs, addr := startTest(t)
	root := client(t, addr, "root")
	alice := client(t, addr, "alice")
	bob := client(t, addr, "bob")

	require.NoError(t, root.Mkdir("/data", 0o755))
	writeFile(t, root, "/data/public", []byte("public"), 0)
	w, err := root.CreateFile("/data/secret", 1, testBlock, 0o600)
	require.NoError(t, err)
	_, err = w.Write([]byte("secret"))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	// WRITE on the parent: alice cannot add, remove or rename in root's
	// 0755 directory, nor create under it with missing parents.
	_, err = alice.Create("/data/x")
	require.ErrorIs(t, err, os.ErrPermission)
	require.ErrorIs(t, alice.CreateEmptyFile("/data/x"), os.ErrPermission)
	_, err = alice.CreateFile("/data/public", 1, testBlock, 0o644)
	require.ErrorIs(t, err, os.ErrPermission, "WRITE on the parent is checked before existence")
	require.ErrorIs(t, alice.Mkdir("/data/d", 0o755), os.ErrPermission)
	require.ErrorIs(t, alice.MkdirAll("/data/a/b/c", 0o755), os.ErrPermission, "WRITE on the deepest existing ancestor comes first")
	require.ErrorIs(t, alice.Remove("/data/public"), os.ErrPermission)
	require.ErrorIs(t, alice.Rename("/data/public", "/data/p2"), os.ErrPermission)
	_, err = os.Stat(hostPath(t, fs, "/data/x"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// READ on the file: public yes, root's 0600 secret no.
	got, err := alice.ReadFile("/data/public")
	require.NoError(t, err)
	require.Equal(t, "public", string(got))
	_, err = alice.ReadFile("/data/secret")
	require.Error(t, err)
	require.Equal(t, exAccessControl, javaClass(err), "%v", err)
	require.Equal(t, `Permission denied: user=alice, access=READ, inode="/data/secret":root:supergroup:-rw-------`, err.(hdfs.Error).Message())
	r, err := alice.Open("/data/secret")
	require.NoError(t, err, "opening is a getFileInfo, which needs no READ")
	_, err = r.Checksum()
	require.Error(t, err)
	r.Close()

	// WRITE on the file: setTimes, truncate, append, xattrs.
	require.ErrorIs(t, alice.Chtimes("/data/public", time.Now(), time.Now()), os.ErrPermission)
	_, err = alice.Truncate("/data/public", 0)
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = alice.Append("/data/public")
	require.ErrorIs(t, err, os.ErrPermission)
	require.ErrorIs(t, alice.SetXAttr("/data/public", "user.a", "b"), os.ErrPermission)

	// chmod: the owner or the superuser; chown: the superuser (the owner
	// may only change the group to one of its own).
	require.ErrorIs(t, alice.Chmod("/data/public", 0o666), os.ErrPermission)
	require.ErrorIs(t, alice.Chown("/data/public", "alice", ""), os.ErrPermission)
	require.NoError(t, root.Mkdir("/home", 0o755))
	require.NoError(t, root.Mkdir("/home/alice", 0o700))
	require.NoError(t, root.Chown("/home/alice", "alice", "alice"))
	require.NoError(t, alice.CreateEmptyFile("/home/alice/mine"))
	fi, err := alice.Stat("/home/alice/mine")
	require.NoError(t, err)
	require.Equal(t, "alice", fi.(*hdfs.FileInfo).Owner())
	require.Equal(t, "alice", fi.(*hdfs.FileInfo).OwnerGroup(), "a new inode takes its parent's group")
	require.NoError(t, alice.Chmod("/home/alice/mine", 0o640))
	require.ErrorIs(t, alice.Chown("/home/alice/mine", "bob", ""), os.ErrPermission, "a non-superuser cannot give files away")
	require.ErrorIs(t, alice.Chown("/home/alice/mine", "", "supergroup"), os.ErrPermission, "nor pick a group it is not in")
	require.NoError(t, alice.Chown("/home/alice/mine", "", "staff"))
	require.NoError(t, alice.Chown("/home/alice/mine", "alice", ""), "naming oneself is no change")
	fi, err = alice.Stat("/home/alice/mine")
	require.NoError(t, err)
	require.Equal(t, "staff", fi.(*hdfs.FileInfo).OwnerGroup())

	// EXECUTE on every ancestor: bob cannot even stat inside alice's 0700
	// home, nor list it.
	_, err = bob.Stat("/home/alice/mine")
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = bob.ReadDir("/home/alice")
	require.ErrorIs(t, err, os.ErrPermission)
	_, err = bob.Create("/home/alice/intruder")
	require.ErrorIs(t, err, os.ErrPermission)

	// Group class: staff may read the 0640 file once the home is 0750.
	require.NoError(t, alice.Chmod("/home/alice", 0o750))
	require.NoError(t, root.Chown("/home/alice", "", "staff"))
	list, err := bob.ReadDir("/home/alice")
	require.NoError(t, err)
	require.Equal(t, []string{"mine"}, names(list))
	_, err = bob.ReadFile("/home/alice/mine")
	require.NoError(t, err)

	// The superuser can do all of it.
	require.NoError(t, root.Chmod("/home/alice/mine", 0o600))
	_, err = root.ReadFile("/home/alice/mine")
	require.NoError(t, err)
	require.NoError(t, alice.Chmod("/home/alice", 0o700))
	writeFile(t, root, "/home/alice/from-root", []byte("r"), 0)
	require.NoError(t, root.Chown("/home/alice/from-root", "bob", "bob"))
	fi, err = root.Stat("/home/alice/from-root")
	require.NoError(t, err)
	require.Equal(t, "bob", fi.(*hdfs.FileInfo).Owner())
	require.NoError(t, root.Chmod("/data/public", 0o666))
	require.NoError(t, root.Remove("/home/alice/mine"))

	// So can a member of the supergroup.
	admin := client(t, addr, "admin")
	require.NoError(t, admin.Chown("/home/alice/from-root", "alice", "alice"))
	_, err = admin.ReadFile("/data/secret")
	require.NoError(t, err)

	// A recursive delete needs ALL on every directory inside.
	require.NoError(t, root.MkdirAll("/shared/alice/locked", 0o755))
	require.NoError(t, root.Chmod("/shared", 0o777))
	require.NoError(t, root.Chown("/shared/alice", "alice", ""))
	require.NoError(t, root.Chmod("/shared/alice", 0o777))
	require.ErrorIs(t, alice.RemoveAll("/shared/alice"), os.ErrPermission, "locked/ is root's 0755")
	require.NoError(t, root.Chmod("/shared/alice/locked", 0o777))
	require.NoError(t, alice.RemoveAll("/shared/alice"))
}

func TestClientStickyBit(t *testing.T) {
	_, addr := startTest(t)
	root := client(t, addr, "root")
	alice := client(t, addr, "alice")
	bob := client(t, addr, "bob")
	require.NoError(t, root.Mkdir("/tmp", 0o1777))
	require.NoError(t, alice.CreateEmptyFile("/tmp/a"))
	require.NoError(t, bob.CreateEmptyFile("/tmp/b"))

	// In a sticky directory only the file's owner, the directory's owner
	// and the superuser may remove or rename an entry.
	require.ErrorIs(t, bob.Remove("/tmp/a"), os.ErrPermission)
	require.ErrorIs(t, bob.Rename("/tmp/a", "/tmp/a2"), os.ErrPermission)
	require.ErrorIs(t, bob.Rename("/tmp/b", "/tmp/a"), os.ErrPermission, "nor replace another's file")
	require.NoError(t, alice.Rename("/tmp/a", "/tmp/a2"))
	require.NoError(t, alice.Remove("/tmp/a2"))
	require.NoError(t, root.Remove("/tmp/b"))

	require.NoError(t, root.Mkdir("/bobs", 0o1777))
	require.NoError(t, root.Chown("/bobs", "bob", ""))
	require.NoError(t, alice.CreateEmptyFile("/bobs/a"))
	require.NoError(t, bob.Remove("/bobs/a"), "the directory's owner may")

	// Without the bit, WRITE on the directory is enough.
	require.NoError(t, root.Mkdir("/open", 0o777))
	require.NoError(t, alice.CreateEmptyFile("/open/a"))
	require.NoError(t, bob.Remove("/open/a"))
}

func TestClientConcurrentReaders(t *testing.T) {
	_, addr := startTest(t)
	w := client(t, addr, "root")
	data := pattern(42, 37*testBlock+333)
	writeFile(t, w, "/big", data, 0)
	clients := []*hdfs.Client{client(t, addr, "root"), client(t, addr, "alice")}
	for _, c := range clients {
		// colinmarc caches the server defaults without a lock: fetch them
		// before the client is shared.
		_, err := c.ServerDefaults()
		require.NoError(t, err)
	}

	const readers, reads = 8, 40
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = func() error {
				r, err := clients[g%len(clients)].Open("/big")
				if err != nil {
					return err
				}
				defer r.Close()
				rnd := rand.New(rand.NewPCG(uint64(g), 1))
				for i := 0; i < reads; i++ {
					off := rnd.IntN(len(data))
					n := 1 + rnd.IntN(3*testBlock)
					buf := make([]byte, n)
					got, err := r.ReadAt(buf, int64(off))
					want := data[off:min(off+n, len(data))]
					if off+n > len(data) && err == io.EOF {
						err = nil
					}
					if err != nil {
						return fmt.Errorf("reader %d: ReadAt(%d, %d): %w", g, off, n, err)
					}
					if got != len(want) || string(buf[:got]) != string(want) {
						return fmt.Errorf("reader %d: ReadAt(%d, %d) returned %d bytes that differ from the file's", g, off, n, got)
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// TestClientConcurrentWriters: several clients write multi-block files at
// once, with flushes mid-chunk, while another lists and totals the tree.
func TestClientConcurrentWriters(t *testing.T) {
	_, addr := startTest(t)
	reader := client(t, addr, "root")
	const writers = 6
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		c := client(t, addr, "root")
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = func() error {
				name := fmt.Sprintf("/w%d", g)
				w, err := c.Create(name)
				if err != nil {
					return err
				}
				data := pattern(uint64(g), 20*testBlock+g*100)
				for off, i := 0, 0; off < len(data); off, i = off+777, i+1 {
					if _, err := w.Write(data[off:min(off+777, len(data))]); err != nil {
						return fmt.Errorf("%s: write at %d: %w", name, off, err)
					}
					if i%5 == 0 {
						if err := w.Flush(); err != nil {
							return fmt.Errorf("%s: flush at %d: %w", name, off, err)
						}
					}
				}
				if err := w.Close(); err != nil {
					return fmt.Errorf("%s: close: %w", name, err)
				}
				got, err := c.ReadFile(name)
				if err != nil {
					return err
				}
				if string(got) != string(data) {
					return fmt.Errorf("%s: %d bytes read back differ from the %d written", name, len(got), len(data))
				}
				return nil
			}()
		}()
	}
	stop := make(chan struct{})
	listed := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				listed <- nil
				return
			default:
			}
			if _, err := reader.ReadDir("/"); err != nil {
				listed <- err
				return
			}
			if _, err := reader.GetContentSummary("/"); err != nil {
				listed <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	require.NoError(t, <-listed)
	for _, err := range errs {
		require.NoError(t, err)
	}
	cs, err := reader.GetContentSummary("/")
	require.NoError(t, err)
	require.Equal(t, writers, cs.FileCount())
}

// TestClientRestartWithOpenFile: a bridge stops while a client is writing a
// file. The next bridge on the same tree treats the file as closed with the
// bytes it has: readable, appendable, deletable.
func TestClientRestartWithOpenFile(t *testing.T) {
	cfg := namesys.Config{Root: t.TempDir(), BlockSize: testBlock, Groups: testGroups}
	_, addr, stop := serve(t, cfg)
	var dn connTracker
	c := dial(t, addr, "root", &dn)
	w, err := c.Create("/f")
	require.NoError(t, err)
	data := pattern(1, testBlock+100)
	writeChunks(t, w, data, 0)
	require.NoError(t, w.Flush())
	waitFor(t, 10*time.Second, "the DataNode to store the flushed bytes", func() bool {
		fi, err := c.Stat("/f")
		return err == nil && fi.Size() == int64(len(data))
	})
	require.NoError(t, c.Close())
	dn.dropAll()
	stop()

	fs, addr := start(t, cfg)
	c2 := client(t, addr, "root")
	closed, err := fs.IsFileClosed(fs.UserOf("root"), mustPath(t, "/f"))
	require.NoError(t, err)
	require.True(t, closed, "no lease survives the bridge")
	got, err := c2.ReadFile("/f")
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = c2.Create("/f")
	require.ErrorIs(t, err, os.ErrExist)
	a, err := c2.Append("/f")
	require.NoError(t, err)
	_, err = a.Write([]byte("xyz"))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	got, err = c2.ReadFile("/f")
	require.NoError(t, err)
	require.Equal(t, cat(data, []byte("xyz")), got)
	require.NoError(t, c2.Remove("/f"))
}

// TestClientWriterDisappears: a client writes half a file, then vanishes
// (its connections dropped, no Close). The file stays under construction
// with what the DataNode acknowledged; past the soft limit another client
// takes it over by appending, and past the hard limit the bridge closes it
// itself.
func TestClientWriterDisappears(t *testing.T) {
	fs, addr := startTest(t, func(c *namesys.Config) {
		c.SoftLimit = 300 * time.Millisecond
		c.HardLimit = 2 * time.Second // past colinmarc's 1 s renewals
	})
	c := client(t, addr, "root")
	rootUser := fs.UserOf("root")

	half := func(name string, seed uint64) []byte {
		t.Helper()
		var dn connTracker
		gone := dial(t, addr, "root", &dn)
		w, err := gone.Create(name)
		require.NoError(t, err)
		data := pattern(seed, testBlock+testBlock/2)
		writeChunks(t, w, data, 1000)
		require.NoError(t, w.Flush())
		waitFor(t, 10*time.Second, "the DataNode to store the flushed bytes", func() bool {
			fi, err := c.Stat(name)
			return err == nil && fi.Size() == int64(len(data))
		})
		require.NoError(t, gone.Close())
		dn.dropAll()
		closed, err := fs.IsFileClosed(rootUser, mustPath(t, name))
		require.NoError(t, err)
		require.False(t, closed, "the file stays under construction")
		return data
	}

	t.Run("takeover", func(t *testing.T) {
		data := half("/a", 1)
		_, err := c.Create("/a")
		require.ErrorIs(t, err, os.ErrExist)
		_, err = c.CreateFile("/a", 1, testBlock, 0o644)
		require.ErrorIs(t, err, os.ErrExist)
		var w *hdfs.FileWriter
		waitFor(t, 10*time.Second, "the soft limit to let another client append", func() bool {
			w, err = c.Append("/a")
			return err == nil
		})
		more := pattern(2, testBlock)
		writeChunks(t, w, more, 0)
		require.NoError(t, w.Close())
		got, err := c.ReadFile("/a")
		require.NoError(t, err)
		require.Equal(t, cat(data, more), got)
	})

	t.Run("hard limit", func(t *testing.T) {
		data := half("/b", 3)
		waitFor(t, 10*time.Second, "the hard limit to close the file", func() bool {
			closed, err := fs.IsFileClosed(rootUser, mustPath(t, "/b"))
			return err == nil && closed
		})
		got, err := c.ReadFile("/b")
		require.NoError(t, err)
		require.Equal(t, data, got)
		r, err := c.Open("/b")
		require.NoError(t, err)
		sum, err := r.Checksum()
		require.NoError(t, err)
		require.Equal(t, fileChecksum(data, testBlock), sum)
		r.Close()
		w, err := c.Append("/b")
		require.NoError(t, err)
		require.NoError(t, w.Close())
	})
}

// TestClientActionFiles: the tree is shared with functions. A file an action
// writes straight into it is an HDFS file owned by the namespace it lies
// under, and a file written through HDFS is a plain file on the host.
func TestClientActionFiles(t *testing.T) {
	fs, addr := startTest(t)
	root := client(t, addr, "root")
	guest := client(t, addr, "guest")
	alice := client(t, addr, "alice")

	big := pattern(77, 2*testBlock+99)
	require.NoError(t, os.MkdirAll(hostPath(t, fs, "/guest/sub"), 0o755))
	require.NoError(t, os.WriteFile(hostPath(t, fs, "/guest/x"), []byte("from an action"), 0o644))
	require.NoError(t, os.WriteFile(hostPath(t, fs, "/guest/sub/big"), big, 0o644))
	// What HDFS must not see: pmem's temporaries, symlinks, FIFOs.
	require.NoError(t, os.WriteFile(filepath.Join(fs.Root(), "guest", ".x.tmp-0123abcd"), []byte("tmp"), 0o644))
	require.NoError(t, os.Symlink("/etc/passwd", hostPath(t, fs, "/guest/link")))
	require.NoError(t, syscall.Mkfifo(hostPath(t, fs, "/guest/fifo"), 0o644))

	for _, p := range []string{"/guest", "/guest/x", "/guest/sub", "/guest/sub/big"} {
		fi, err := alice.Stat(p)
		require.NoError(t, err, p)
		require.Equal(t, "guest", fi.(*hdfs.FileInfo).Owner(), p)
		require.Equal(t, namesys.DefaultSupergroup, fi.(*hdfs.FileInfo).OwnerGroup(), p)
	}
	// A top-level file is in no namespace: it is the superuser's, as "/".
	require.NoError(t, os.WriteFile(hostPath(t, fs, "/alice"), []byte("t"), 0o644))
	fi, err := alice.Stat("/alice")
	require.NoError(t, err)
	require.Equal(t, "root", fi.(*hdfs.FileInfo).Owner())
	require.ErrorIs(t, alice.Chmod("/alice", 0o666), os.ErrPermission, "a top-level file named like a user is not that user's")
	fi, err = alice.Stat("/guest/x")
	require.NoError(t, err)
	require.EqualValues(t, len("from an action"), fi.Size())
	require.Equal(t, os.FileMode(0o644), fi.Mode())
	require.EqualValues(t, testBlock, status(t, fi).GetBlocksize())
	list, err := alice.ReadDir("/guest")
	require.NoError(t, err)
	require.Equal(t, []string{"sub", "x"}, names(list))
	for _, p := range []string{"/guest/link", "/guest/fifo"} {
		_, err := alice.Stat(p)
		require.ErrorIs(t, err, os.ErrNotExist, p)
	}
	_, err = alice.Stat("/guest/.x.tmp-0123abcd")
	require.Error(t, err, "the names of pmem's temporaries are reserved")

	got, err := alice.ReadFile("/guest/x")
	require.NoError(t, err)
	require.Equal(t, "from an action", string(got))
	got, err = alice.ReadFile("/guest/sub/big")
	require.NoError(t, err)
	require.Equal(t, big, got)
	r, err := alice.Open("/guest/sub/big")
	require.NoError(t, err)
	part := make([]byte, 300)
	_, err = r.ReadAt(part, testBlock-150)
	require.NoError(t, err)
	require.Equal(t, big[testBlock-150:testBlock+150], part)
	sum, err := r.Checksum()
	require.NoError(t, err)
	require.Equal(t, fileChecksum(big, testBlock), sum)
	r.Close()

	// The namespace's owner writes into it; others may not.
	require.NoError(t, guest.MkdirAll("/guest/out", 0o755))
	writeFile(t, guest, "/guest/out/part-0", nil, 0)
	_, err = alice.Create("/guest/y")
	require.ErrorIs(t, err, os.ErrPermission)
	require.ErrorIs(t, guest.Mkdir("/elsewhere", 0o755), os.ErrPermission, "/ is the superuser's")

	// Written through HDFS, read on the host; appended to through HDFS.
	data := pattern(78, 3*testBlock+1)
	writeFile(t, guest, "/guest/out/part-1", data, 0)
	host, err := os.ReadFile(hostPath(t, fs, "/guest/out/part-1"))
	require.NoError(t, err)
	require.Equal(t, data, host)
	w, err := guest.Append("/guest/x")
	require.NoError(t, err)
	_, err = w.Write([]byte(", and HDFS"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	host, err = os.ReadFile(hostPath(t, fs, "/guest/x"))
	require.NoError(t, err)
	require.Equal(t, "from an action, and HDFS", string(host))

	// Names with spaces and non-ASCII letters are the same names on the host.
	writeFile(t, root, "/guest/a b ünï.txt", []byte("u"), 0)
	host, err = os.ReadFile(filepath.Join(fs.Root(), "guest", "a b ünï.txt"))
	require.NoError(t, err)
	require.Equal(t, "u", string(host))

	// An action's change is seen at once: a longer file, a removed one.
	require.NoError(t, os.WriteFile(hostPath(t, fs, "/guest/sub/big"), big[:100], 0o644))
	got, err = alice.ReadFile("/guest/sub/big")
	require.NoError(t, err)
	require.Equal(t, big[:100], got)
	require.NoError(t, os.Remove(hostPath(t, fs, "/guest/sub/big")))
	_, err = alice.Stat("/guest/sub/big")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// lockedBuffer collects a child's stderr, safe to read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (lb *lockedBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

func (lb *lockedBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

// Environment of TestHelperWriter, the child process of TestClientKillWriter.
const (
	helperAddrEnv = "MARVEL_HDFS_TEST_WRITER_ADDR"
	helperPathEnv = "MARVEL_HDFS_TEST_WRITER_PATH"
	helperSeed    = 99
)

// helperSizes are the sizes of the child's flushed writes: across block
// boundaries, ending mid-chunk, on a chunk boundary and on a block boundary.
var helperSizes = []int{1000, 3500, 12, 96, 404, 3000, 1, 179, 2000, 700}

// TestHelperWriter is not a test: run by TestClientKillWriter as a child
// process, it writes a file through HDFS and reports on stdout ("acked N")
// every length the DataNode has stored, then writes more without flushing
// and waits to be killed.
func TestHelperWriter(t *testing.T) {
	addr, name := os.Getenv(helperAddrEnv), os.Getenv(helperPathEnv)
	if addr == "" {
		t.Skip("the child process of TestClientKillWriter")
	}
	// An orphan never outlives its parent's test by long.
	time.AfterFunc(time.Minute, func() { os.Exit(3) })
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{addr}, User: "root"})
	require.NoError(t, err)
	w, err := c.Create(name)
	require.NoError(t, err)
	total := 0
	for _, n := range helperSizes {
		total += n
	}
	data := pattern(helperSeed, total+testBlock)
	off := 0
	for _, n := range helperSizes {
		_, err := w.Write(data[off : off+n])
		require.NoError(t, err)
		off += n
		require.NoError(t, w.Flush())
		// colinmarc's Flush sends the packets but does not wait for their
		// acknowledgements: wait until the DataNode has stored them.
		deadline := time.Now().Add(10 * time.Second)
		for {
			fi, err := c.Stat(name)
			require.NoError(t, err)
			if fi.Size() >= int64(off) {
				break
			}
			require.True(t, time.Now().Before(deadline), "the DataNode never stored %d bytes", off)
			time.Sleep(5 * time.Millisecond)
		}
		fmt.Printf("acked %d\n", off)
	}
	// Buffered, never flushed (it stays within the current block, whose
	// end would send it): lost with the process.
	require.Less(t, off%testBlock+testBlock/8, testBlock)
	_, err = w.Write(data[off : off+testBlock/8])
	require.NoError(t, err)
	fmt.Println("done")
	select {}
}

// TestClientKillWriter: a writer process is killed with SIGKILL while it
// writes a file. The file stays under construction until its lease is
// recovered; then it holds at least every byte the writer had acknowledged,
// byte-exact, and nothing that it did not write.
func TestClientKillWriter(t *testing.T) {
	fs, addr := startTest(t)
	const name = "/killed"
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperAddrEnv+"="+addr, helperPathEnv+"="+name)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	acked := -1
	lines := bufio.NewScanner(out)
	done := make(chan error, 1)
	go func() {
		var other []string // the child's test output, should it fail
		for lines.Scan() {
			line := lines.Text()
			if n, ok := strings.CutPrefix(line, "acked "); ok {
				v, err := strconv.Atoi(n)
				if err != nil {
					done <- fmt.Errorf("child printed %q", line)
					return
				}
				acked = v
			}
			if line == "done" {
				done <- nil
				return
			}
			other = append(other, line)
		}
		done <- fmt.Errorf("the child ended before it was done (%v); its output:\n%s", lines.Err(), strings.Join(other, "\n"))
	}()
	select {
	case err := <-done:
		require.NoError(t, err, "child stderr: %s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the child wrote nothing for 30 s; stderr: %s", stderr.String())
	}
	total := 0
	for _, n := range helperSizes {
		total += n
	}
	require.Equal(t, total, acked)

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	waited = true
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal())

	root := fs.UserOf("root")
	closed, err := fs.IsFileClosed(root, mustPath(t, name))
	require.NoError(t, err)
	require.False(t, closed, "the killed writer's lease is still live")

	ok, err := fs.RecoverLease(root, mustPath(t, name), "")
	require.NoError(t, err)
	require.True(t, ok)
	closed, err = fs.IsFileClosed(root, mustPath(t, name))
	require.NoError(t, err)
	require.True(t, closed)

	c := client(t, addr, "root")
	got, err := c.ReadFile(name)
	require.NoError(t, err)
	want := pattern(helperSeed, total+testBlock)
	t.Logf("the file holds %d bytes; the writer had %d acknowledged", len(got), acked)
	require.GreaterOrEqual(t, len(got), acked, "every acknowledged byte survives")
	require.Equal(t, want[:len(got)], got, "byte-exact")
	r, err := c.Open(name)
	require.NoError(t, err)
	sum, err := r.Checksum()
	require.NoError(t, err)
	require.Equal(t, fileChecksum(got, testBlock), sum)
	r.Close()

	// The file is an ordinary closed file again.
	w, err := c.Append(name)
	require.NoError(t, err)
	_, err = w.Write([]byte("after"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got2, err := c.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, cat(got, []byte("after")), got2)
}
