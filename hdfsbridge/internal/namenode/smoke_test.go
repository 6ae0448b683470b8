package namenode_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"testing"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/datanode"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namenode"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/rpc"
)

// start serves a namespace on loopback: NameNode and DataNode, as the bridge
// wires them. An empty cfg.Root is a fresh temporary directory, an empty
// cfg.Superuser is "root".
func start(t *testing.T, cfg namesys.Config) (*namesys.FS, string) {
	t.Helper()
	fs, addr, stop := serve(t, cfg)
	t.Cleanup(stop)
	return fs, addr
}

// serve is start with the stop left to the caller (to restart a namespace);
// stop may be called more than once.
func serve(t *testing.T, cfg namesys.Config) (fs *namesys.FS, addr string, stop func()) {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	if cfg.Superuser == "" {
		cfg.Superuser = "root"
	}
	fs, err := namesys.Open(cfg)
	require.NoError(t, err)
	dnLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	nnLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dn, err := datanode.New(datanode.Options{FS: fs})
	require.NoError(t, err)
	opts := rpc.DefaultOptions()
	opts.Methods = namenode.Methods(namenode.Options{FS: fs, DataNode: namenode.DataNode{
		IP: "127.0.0.1", Hostname: "localhost", UUID: "test-dn", XferPort: uint32(dnLn.Addr().(*net.TCPAddr).Port)}})
	nn, err := rpc.New(opts)
	require.NoError(t, err)
	go dn.Serve(dnLn)
	go nn.Serve(nnLn)
	var once sync.Once
	return fs, nnLn.Addr().String(), func() {
		once.Do(func() {
			nn.Close()
			dn.Close()
			fs.Close()
		})
	}
}

func client(t *testing.T, addr, user string) *hdfs.Client {
	t.Helper()
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{addr}, User: user})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSmokeWriteReadAcrossBlocks(t *testing.T) {
	_, addr := start(t, namesys.Config{BlockSize: 64 << 10})
	c := client(t, addr, "root")
	require.NoError(t, c.MkdirAll("/guest/out", 0o755))
	data := bytes.Repeat([]byte("marvel pmem "), 30000) // ~360 KiB: 6 blocks
	w, err := c.Create("/guest/out/part-0")
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	fi, err := c.Stat("/guest/out/part-0")
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), fi.Size())
	r, err := c.Open("/guest/out/part-0")
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = r.Seek(100000, io.SeekStart)
	require.NoError(t, err)
	part := make([]byte, 5000)
	_, err = io.ReadFull(r, part)
	require.NoError(t, err)
	require.Equal(t, data[100000:105000], part)
	sum, err := r.Checksum()
	require.NoError(t, err)
	require.Len(t, sum, 16)
	r.Close()

	// append, rename, list, delete
	a, err := c.Append("/guest/out/part-0")
	require.NoError(t, err)
	_, err = a.Write([]byte("tail"))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	got, err = c.ReadFile("/guest/out/part-0")
	require.NoError(t, err)
	require.Equal(t, append(append([]byte(nil), data...), "tail"...), got)
	require.NoError(t, c.Rename("/guest/out/part-0", "/guest/out/part-1"))
	list, err := c.ReadDir("/guest/out")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "part-1", list[0].Name())
	require.NoError(t, c.Remove("/guest/out/part-1"))
	_, err = c.Stat("/guest/out/part-1")
	require.True(t, os.IsNotExist(err), "%v", err)
}
