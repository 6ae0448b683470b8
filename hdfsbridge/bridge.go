// Package hdfsbridge is Marvel's HDFS-compatible bridge: a NameNode (Hadoop
// RPC, ClientNamenodeProtocol), a DataNode (DataTransferProtocol) and
// WebHDFS, all over one PMEM namespace, so that an unmodified HDFS client
// lists, reads, writes and manages the files functions keep in persistent
// memory. See docs/hdfs.md.
//
//	b, err := hdfsbridge.Start(hdfsbridge.Config{Data: "/var/lib/marvel"})
//	defer b.Close()
//	// hdfs://<b.NameNodeAddr()>/guest/...  and  http://<b.WebHDFSAddr()>/webhdfs/v1/...
package hdfsbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/datanode"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namenode"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/peer"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/rpc"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/webhdfs"
)

// Default listen addresses (Hadoop 3's ports), on loopback.
const (
	DefaultNameNodeAddr = "127.0.0.1:8020"
	DefaultDataNodeAddr = "127.0.0.1:9866"
	DefaultWebHDFSAddr  = "127.0.0.1:9870"
)

// Config describes a bridge.
type Config struct {
	// Data is Marvel's data directory; the HDFS namespace is Data/fs, the
	// same tree actions' files live in (fs/<namespace>/...).
	Data string
	// Root, if set, replaces Data/fs as the namespace's directory.
	Root string
	// NameNodeAddr, DataNodeAddr and WebHDFSAddr are where to listen
	// (defaults above; ":0" picks a free port). WebHDFSAddr "-" serves no
	// WebHDFS.
	NameNodeAddr, DataNodeAddr, WebHDFSAddr string
	// AdvertiseHost is the address clients are told to dial for the
	// DataNode; default the DataNode listener's host (127.0.0.1 for a
	// wildcard listener).
	AdvertiseHost string
	// BlockSize, Superuser, Supergroup, SoftLimit, HardLimit: see
	// namesys.Config.
	BlockSize            int64
	Superuser            string
	Supergroup           string
	SoftLimit, HardLimit time.Duration
	// MaxFrameBytes bounds an RPC request (default 64 MiB).
	MaxFrameBytes int
	// TrustClaimedUsers turns peer credentials off: every client is the
	// user it claims (Hadoop's SIMPLE authentication), isolated actions on
	// this host included. By default a client on this host that runs as a
	// namespace's isolation uid is that namespace's user whatever it
	// claims (docs/hdfs.md, *Users and permissions*).
	TrustClaimedUsers bool
	// UIDFile is where `marvel runtime --isolate` records each namespace's
	// uid; default Data/.uids (with only Root set, the .uids beside Root).
	UIDFile string
	Logger  *slog.Logger
}

// Bridge is a running bridge.
type Bridge struct {
	fs   *namesys.FS
	nn   *rpc.Server
	dn   *datanode.Server
	web  *http.Server
	lns  []net.Listener
	wg   sync.WaitGroup
	errs chan error

	nnAddr, dnAddr, webAddr net.Addr
	closeOnce               sync.Once
}

// Start opens the namespace and starts the three servers.
func Start(cfg Config) (*Bridge, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	root := cfg.Root
	if root == "" {
		if cfg.Data == "" {
			return nil, errors.New("hdfsbridge: no data directory (--data)")
		}
		root = filepath.Join(cfg.Data, "fs")
	}
	if cfg.NameNodeAddr == "" {
		cfg.NameNodeAddr = DefaultNameNodeAddr
	}
	if cfg.DataNodeAddr == "" {
		cfg.DataNodeAddr = DefaultDataNodeAddr
	}
	if cfg.WebHDFSAddr == "" {
		cfg.WebHDFSAddr = DefaultWebHDFSAddr
	}
	fs, err := namesys.Open(namesys.Config{
		Root: root, Superuser: cfg.Superuser, Supergroup: cfg.Supergroup, BlockSize: cfg.BlockSize,
		SoftLimit: cfg.SoftLimit, HardLimit: cfg.HardLimit, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	b := &Bridge{fs: fs, errs: make(chan error, 3)}
	var auth *peers
	if !cfg.TrustClaimedUsers {
		uids := cfg.UIDFile
		switch {
		case uids != "":
		case cfg.Data != "":
			uids = filepath.Join(cfg.Data, peer.UIDFileName)
		default:
			uids = filepath.Join(filepath.Dir(root), peer.UIDFileName)
		}
		r, err := peer.New(peer.Options{UIDFile: uids})
		if err != nil {
			fs.Close()
			return nil, fmt.Errorf("hdfsbridge: %w", err)
		}
		auth = &peers{r: r, fs: fs, lg: cfg.Logger}
	}
	fail := func(err error) (*Bridge, error) {
		b.Close()
		return nil, err
	}
	listen := func(what, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("hdfsbridge: %s: listen on %s: %w (is another HDFS or bridge running? choose another address)", what, addr, err)
		}
		b.lns = append(b.lns, ln)
		return ln, nil
	}
	nnLn, err := listen("NameNode", cfg.NameNodeAddr)
	if err != nil {
		return fail(err)
	}
	dnLn, err := listen("DataNode", cfg.DataNodeAddr)
	if err != nil {
		return fail(err)
	}
	var webLn net.Listener
	if cfg.WebHDFSAddr != "-" {
		if webLn, err = listen("WebHDFS", cfg.WebHDFSAddr); err != nil {
			return fail(err)
		}
		b.webAddr = webLn.Addr()
	}
	b.nnAddr, b.dnAddr = nnLn.Addr(), dnLn.Addr()

	host := cfg.AdvertiseHost
	if host == "" {
		h, _, _ := net.SplitHostPort(dnLn.Addr().String())
		if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
			h = "127.0.0.1"
		}
		host = h
	}
	dnInfo := namenode.DataNode{
		IP: host, Hostname: host, UUID: datanodeUUID(fs.PoolID()),
		XferPort: port(dnLn.Addr()),
	}
	if webLn != nil {
		dnInfo.InfoPort = port(webLn.Addr())
	}
	opts := rpc.DefaultOptions()
	opts.Methods = namenode.Methods(namenode.Options{FS: fs, DataNode: dnInfo})
	opts.Logger = cfg.Logger
	if cfg.MaxFrameBytes > 0 {
		opts.MaxFrameBytes = cfg.MaxFrameBytes
	}
	dnOpts := datanode.Options{FS: fs, Logger: cfg.Logger}
	webOpts := webhdfs.Options{Logger: cfg.Logger}
	if auth != nil {
		opts.Authorize, dnOpts.PeerUser, webOpts.PeerUser = auth.rpcAuthorize, auth.dataNodeUser, auth.webUser
	}
	if b.nn, err = rpc.New(opts); err != nil {
		return fail(err)
	}
	if b.dn, err = datanode.New(dnOpts); err != nil {
		return fail(err)
	}
	b.serve("NameNode", func() error { return b.nn.Serve(nnLn) }, rpc.ErrServerClosed)
	b.serve("DataNode", func() error { return b.dn.Serve(dnLn) }, datanode.ErrServerClosed)
	if webLn != nil {
		b.web = &http.Server{
			Handler:           webhdfs.New(fs, webOpts),
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       5 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		}
		if auth != nil {
			b.web.ConnContext = auth.webConnContext
		}
		b.serve("WebHDFS", func() error { return b.web.Serve(webLn) }, http.ErrServerClosed)
	}
	cfg.Logger.Info("hdfs bridge started", "root", fs.Root(), "namenode", b.nnAddr.String(), "datanode", b.dnAddr.String(), "webhdfs", addrString(b.webAddr), "peer_credentials", auth != nil)
	return b, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func (b *Bridge) serve(what string, run func() error, closed error) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := run(); err != nil && !errors.Is(err, closed) {
			b.errs <- fmt.Errorf("hdfsbridge: %s stopped: %w", what, err)
		}
	}()
}

func port(a net.Addr) uint32 {
	_, p, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(p)
	return uint32(n)
}

func datanodeUUID(pool string) string {
	h := sha256.Sum256([]byte("marvel-datanode/" + pool))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// NameNodeAddr, DataNodeAddr and WebHDFSAddr are where the servers listen
// (WebHDFSAddr is nil without WebHDFS).
func (b *Bridge) NameNodeAddr() net.Addr { return b.nnAddr }
func (b *Bridge) DataNodeAddr() net.Addr { return b.dnAddr }
func (b *Bridge) WebHDFSAddr() net.Addr  { return b.webAddr }

// Root is the namespace's directory.
func (b *Bridge) Root() string { return b.fs.Root() }

// Err delivers the first failure of a server that stopped on its own.
func (b *Bridge) Err() <-chan error { return b.errs }

// Close stops the servers (open connections are closed) and the namespace.
func (b *Bridge) Close() error {
	var err error
	b.closeOnce.Do(func() {
		for _, ln := range b.lns {
			ln.Close()
		}
		if b.nn != nil {
			b.nn.Close()
		}
		if b.dn != nil {
			b.dn.Close()
		}
		if b.web != nil {
			b.web.Close()
		}
		b.wg.Wait()
		err = b.fs.Close()
	})
	return err
}
