package hdfsbridge_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/hdfsbridge"
)

// Benchmarks of the bridge through the real colinmarc/hdfs client, each
// beside its baseline measured in the same run:
//
//	go test ./hdfsbridge/ -run '^$' -bench . -benchtime 3x
//
// MARVEL_HDFS_BENCH_MIB sets the file size (default 1024).

func benchBytes() int64 {
	if v, err := strconv.Atoi(os.Getenv("MARVEL_HDFS_BENCH_MIB")); err == nil && v > 0 {
		return int64(v) << 20
	}
	return 1 << 30
}

func benchBridge(b *testing.B) (*hdfsbridge.Bridge, *hdfs.Client) {
	b.Helper()
	br, err := hdfsbridge.Start(hdfsbridge.Config{
		Root: b.TempDir(), NameNodeAddr: "127.0.0.1:0", DataNodeAddr: "127.0.0.1:0", WebHDFSAddr: "-",
		Superuser: "root",
	})
	require.NoError(b, err)
	b.Cleanup(func() { br.Close() })
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{br.NameNodeAddr().String()}, User: "root"})
	require.NoError(b, err)
	b.Cleanup(func() { c.Close() })
	return br, c
}

// loopback streams n bytes over a loopback TCP connection from one
// buffer: the ceiling any network protocol on this machine works under.
func loopback(b *testing.B, n int64, write bool) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	buf := make([]byte, 64<<10)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if write {
			_, err = io.Copy(io.Discard, c)
		} else {
			_, err = io.CopyBuffer(c, io.LimitReader(zeros{}, n), buf)
		}
		done <- err
	}()
	start := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	if write {
		_, err = io.CopyBuffer(c, io.LimitReader(zeros{}, n), buf)
		require.NoError(b, err)
		c.Close()
		require.NoError(b, <-done)
	} else {
		_, err = drain(c, buf)
		require.NoError(b, err)
		require.NoError(b, <-done)
		c.Close()
	}
	return time.Since(start)
}

// drain reads r to its end into buf, as a reader with a large buffer does
// (io.Copy to io.Discard would read 8 KiB at a time).
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func gbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e9 }

// BenchmarkSequentialRead reads a file through the client's FileReader
// (getBlockLocations, then READ_BLOCK per block, every CRC verified by the
// client) and a raw loopback stream of the same size. Metrics: GB/s of each,
// and their ratio.
func BenchmarkSequentialRead(b *testing.B) {
	n := benchBytes()
	br, c := benchBridge(b)
	// The file is written straight into the tree, as an action would.
	host := filepath.Join(br.Root(), "guest", "big")
	require.NoError(b, os.MkdirAll(filepath.Dir(host), 0o755))
	f, err := os.Create(host)
	require.NoError(b, err)
	_, err = io.Copy(f, io.LimitReader(pattern{}, n))
	require.NoError(b, err)
	require.NoError(b, f.Close())

	buf := make([]byte, 1<<20)
	var hdfsT, tcpT time.Duration
	b.SetBytes(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tcpT += loopback(b, n, false)
		start := time.Now()
		r, err := c.Open("/guest/big")
		require.NoError(b, err)
		got, err := drain(r, buf)
		require.NoError(b, err)
		require.Equal(b, n, got)
		r.Close()
		hdfsT += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(gbps(n*int64(b.N), hdfsT), "hdfs_GB/s")
	b.ReportMetric(gbps(n*int64(b.N), tcpT), "loopback_GB/s")
	b.ReportMetric(tcpT.Seconds()/hdfsT.Seconds(), "x_loopback")
}

// pattern is a non-zero byte stream (so nothing can shortcut zero pages).
type pattern struct{ off int64 }

func (p pattern) Read(q []byte) (int, error) {
	for i := range q {
		q[i] = byte(i*7 + 13)
	}
	return len(q), nil
}

// BenchmarkSequentialWrite writes a file through the client's FileWriter
// (addBlock, WRITE_BLOCK with CRCs verified by the DataNode, complete) and a
// raw loopback stream of the same size.
func BenchmarkSequentialWrite(b *testing.B) {
	n := benchBytes() / 4
	_, c := benchBridge(b)
	require.NoError(b, c.MkdirAll("/guest", 0o755))
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	var hdfsT, tcpT time.Duration
	b.SetBytes(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tcpT += loopback(b, n, true)
		start := time.Now()
		name := fmt.Sprintf("/guest/w%d", i)
		w, err := c.Create(name)
		require.NoError(b, err)
		for left := n; left > 0; left -= int64(len(buf)) {
			_, err := w.Write(buf[:min(int64(len(buf)), left)])
			require.NoError(b, err)
		}
		require.NoError(b, w.Close())
		hdfsT += time.Since(start)
		require.NoError(b, c.Remove(name))
	}
	b.StopTimer()
	b.ReportMetric(gbps(n*int64(b.N), hdfsT), "hdfs_GB/s")
	b.ReportMetric(gbps(n*int64(b.N), tcpT), "loopback_GB/s")
	b.ReportMetric(tcpT.Seconds()/hdfsT.Seconds(), "x_loopback")
}

// BenchmarkGetFileInfo is Stat (one getFileInfo RPC) from 16 clients at
// once, each with its connection (colinmarc sends one call at a time).
func BenchmarkGetFileInfo(b *testing.B) {
	br, c := benchBridge(b)
	require.NoError(b, c.MkdirAll("/guest/dir", 0o755))
	require.NoError(b, c.CreateEmptyFile("/guest/dir/f"))
	const clients = 16
	pool := make(chan *hdfs.Client, clients)
	for i := 0; i < clients; i++ {
		cc, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{br.NameNodeAddr().String()}, User: "root"})
		require.NoError(b, err)
		b.Cleanup(func() { cc.Close() })
		pool <- cc
	}
	var ops atomic.Int64
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		cc := <-pool
		defer func() { pool <- cc }()
		for pb.Next() {
			if _, err := cc.Stat("/guest/dir/f"); err != nil {
				b.Error(err)
				return
			}
			ops.Add(1)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(ops.Load())/time.Since(start).Seconds(), "ops/s")
}
