// Package datanode is the bridge's DataNode: a DataTransferProtocol server
// whose blocks are ranges of the namespace's files. READ_BLOCK maps the
// block and sends it with the transfer package (writev from the mapping, no
// copy); WRITE_BLOCK writes packets through to the file of a file under
// construction (a pipeline of one); BLOCK_CHECKSUM is the MD5 of the block's
// CRC32Cs. One goroutine per connection; Java clients' several ops per
// connection are served in turn.
package datanode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/transfer"
)

// Options configure a Server.
type Options struct {
	FS *namesys.FS
	// IdleTimeout closes a connection that sends nothing for this long
	// between ops, and bounds each blocked read or write; default 10 min
	// (past Java's 60 s socket timeouts and 30 s heartbeats).
	IdleTimeout time.Duration
	// PeerUser, if set, names the one user a connection's peer may act as
	// ("" when it is not known), or refuses the peer with an error. It is
	// asked once, when the connection is accepted. A peer bound to a user
	// may READ_BLOCK and BLOCK_CHECKSUM only blocks of files that user may
	// read, and WRITE_BLOCK only files that user is writing
	// (namesys.FS.BlockAccess); other ops and refused peers get
	// ERROR_ACCESS_TOKEN, as a DataNode answers a bad block token. Peers
	// of no known user are not checked: there are no block tokens.
	PeerUser func(nc net.Conn) (string, error)
	Logger   *slog.Logger
}

// Server serves DataTransferProtocol connections.
type Server struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("datanode: server closed")

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.FS == nil {
		return nil, errors.New("datanode: no namespace")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, ctx: ctx, cancel: cancel, lns: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}, nil
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	// A mapped file cut shorter by someone else faults when touched: turn
	// that into an error of this connection, not a crash of the bridge.
	debug.SetPanicOnFault(true)
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Warn("datanode: connection aborted by a fault", "remote", c.RemoteAddr().String(), "fault", fmt.Sprint(r))
		}
	}()
	who := s.identify(c)
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		op, msg, err := transfer.ReadOp(r, transfer.DefaultMaxOpSize)
		if err == io.EOF {
			return
		}
		var unsup *transfer.UnsupportedOpError
		if errors.As(err, &unsup) {
			if unsup.Consumed {
				s.reply(c, transfer.ErrorOpResponse(pb.Status_ERROR_UNSUPPORTED, fmt.Sprintf("the Marvel DataNode does not serve %v (it serves READ_BLOCK, WRITE_BLOCK and BLOCK_CHECKSUM)", unsup.Op)))
				continue
			}
			return
		}
		if err != nil {
			s.opts.Logger.Debug("datanode: bad request", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
		c.SetReadDeadline(time.Time{})
		var keep bool
		switch op {
		case transfer.OpReadBlock:
			keep = s.readBlock(c, who, r, msg)
		case transfer.OpWriteBlock:
			keep = s.writeBlock(c, who, r, msg)
		case transfer.OpBlockChecksum:
			keep = s.blockChecksum(c, who, msg)
		}
		if !keep {
			return
		}
	}
}

func (s *Server) reply(c net.Conn, m *pb.BlockOpResponseProto) bool {
	c.SetWriteDeadline(time.Now().Add(s.opts.IdleTimeout))
	defer c.SetWriteDeadline(time.Time{})
	return transfer.WriteDelimited(c, m) == nil
}

func (s *Server) fail(c net.Conn, status pb.Status, format string, args ...any) bool {
	msg := fmt.Sprintf(format, args...)
	s.opts.Logger.Debug("datanode: op refused", "remote", c.RemoteAddr().String(), "reason", msg)
	return s.reply(c, transfer.ErrorOpResponse(status, msg))
}

func (s *Server) readBlock(c net.Conn, who peerUser, r *bufio.Reader, msg []byte) bool {
	req, err := transfer.DecodeReadBlock(msg)
	if err != nil {
		return s.fail(c, pb.Status_ERROR_INVALID, "READ_BLOCK: %v", err)
	}
	b := req.GetHeader().GetBaseHeader().GetBlock()
	if b.GetPoolId() != s.opts.FS.PoolID() {
		return s.fail(c, pb.Status_ERROR_INVALID, "READ_BLOCK: block pool %q is not this DataNode's (%s)", b.GetPoolId(), s.opts.FS.PoolID())
	}
	if err := who.access(s.opts.FS, int64(b.GetBlockId()), false); err != nil {
		return s.fail(c, pb.Status_ERROR_ACCESS_TOKEN, "READ_BLOCK: %v", err)
	}
	v, err := s.opts.FS.ReadBlock(int64(b.GetBlockId()), b.GetGenerationStamp())
	if err != nil {
		return s.fail(c, pb.Status_ERROR, "READ_BLOCK: %v", err)
	}
	defer v.Close()
	off, n := int64(req.GetOffset()), int64(req.GetLen())
	blen := int64(len(v.Data))
	if off < 0 || n < 0 || off > blen || (off == blen && n > 0 && blen > 0) {
		return s.fail(c, pb.Status_ERROR, "READ_BLOCK: offset %d and length %d don't match block %d (block length %d)", off, n, b.GetBlockId(), blen)
	}
	v.Prefault(off&^(transfer.ChunkSize-1), n+transfer.ChunkSize)
	if !s.reply(c, transfer.ReadOpResponse(off)) {
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.IdleTimeout)
	defer cancel()
	if err := transfer.SendBlock(ctx, c, v.Data, off, n, transfer.DefaultSendOptions()); err != nil {
		s.opts.Logger.Debug("datanode: read block aborted", "block", b.GetBlockId(), "err", err)
		return false
	}
	c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
	if _, err := transfer.ReadClientStatus(r); err != nil {
		return false
	}
	return true
}

func (s *Server) writeBlock(c net.Conn, who peerUser, r *bufio.Reader, msg []byte) bool {
	req, err := transfer.DecodeWriteBlock(msg)
	if err != nil {
		return s.fail(c, pb.Status_ERROR_INVALID, "WRITE_BLOCK: %v", err)
	}
	b := req.GetHeader().GetBaseHeader().GetBlock()
	if b.GetPoolId() != s.opts.FS.PoolID() {
		return s.fail(c, pb.Status_ERROR_INVALID, "WRITE_BLOCK: block pool %q is not this DataNode's (%s)", b.GetPoolId(), s.opts.FS.PoolID())
	}
	if len(req.GetTargets()) > 0 {
		return s.fail(c, pb.Status_ERROR_UNSUPPORTED, "WRITE_BLOCK: a pipeline of %d more DataNodes was asked for; the bridge keeps one replica", len(req.GetTargets()))
	}
	ck := req.GetRequestedChecksum()
	if ck.GetType() != pb.ChecksumTypeProto_CHECKSUM_CRC32C || ck.GetBytesPerChecksum() != transfer.ChunkSize {
		return s.fail(c, pb.Status_ERROR_UNSUPPORTED, "WRITE_BLOCK: checksum %v per %d bytes was asked for; the bridge speaks CRC32C per 512 bytes (dfs.checksum.type=CRC32C)", ck.GetType(), ck.GetBytesPerChecksum())
	}
	var appendStage bool
	switch req.GetStage() {
	case pb.OpWriteBlockProto_PIPELINE_SETUP_CREATE:
	case pb.OpWriteBlockProto_PIPELINE_SETUP_APPEND:
		appendStage = true
	default:
		return s.fail(c, pb.Status_ERROR_UNSUPPORTED, "WRITE_BLOCK: stage %v is not served (pipeline recovery needs a second DataNode)", req.GetStage())
	}
	if err := who.access(s.opts.FS, int64(b.GetBlockId()), true); err != nil {
		return s.fail(c, pb.Status_ERROR_ACCESS_TOKEN, "WRITE_BLOCK: %v", err)
	}
	minBytes := int64(req.GetMinBytesRcvd())
	bw, err := s.opts.FS.WriteBlock(int64(b.GetBlockId()), req.GetHeader().GetClientName(), appendStage, minBytes)
	if err != nil {
		return s.fail(c, pb.Status_ERROR, "WRITE_BLOCK: %v", err)
	}
	if !s.reply(c, transfer.WriteOpResponse()) {
		return false
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	opts := transfer.DefaultReceiveOptions()
	opts.StartOffset = minBytes
	opts.MaxBlockLen = bw.Limit
	n, err := transfer.ReceiveBlock(ctx, r, c, idleSink{bw, c, s.opts.IdleTimeout}, opts)
	if err != nil {
		s.opts.Logger.Info("datanode: write block failed", "block", b.GetBlockId(), "client", req.GetHeader().GetClientName(), "err", err)
		if s.ctx.Err() == nil {
			s.linger(c, r)
		}
		return false
	}
	s.opts.Logger.Debug("datanode: block written", "block", b.GetBlockId(), "bytes", n)
	return true
}

// Bounds of linger: how long and how much of a failed writer's data in
// flight is read and dropped before the connection is closed.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 64 << 20
)

// linger half-closes c after a failed WRITE_BLOCK and reads what the
// client still sends, up to lingerTime and lingerBytes or until it closes.
// Closing with the client's packets unread would reset the connection,
// and the client, still writing, would see "connection reset" instead of
// the ERROR ack that says the DataNode refused the block.
func (s *Server) linger(c net.Conn, r *bufio.Reader) {
	hc, ok := c.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, r, lingerBytes)
}

// idleSink pushes the connection's read deadline forward as data arrives,
// so a slow but live writer is not cut off while a dead one is.
type idleSink struct {
	bw   *namesys.BlockWriter
	c    net.Conn
	idle time.Duration
}

func (s idleSink) WriteAt(p []byte, off int64) (int, error) {
	s.c.SetReadDeadline(time.Now().Add(s.idle))
	return s.bw.WriteAt(p, off)
}

func (s idleSink) Sync() error { return s.bw.Sync() }

func (s *Server) blockChecksum(c net.Conn, who peerUser, msg []byte) bool {
	req, err := transfer.DecodeBlockChecksum(msg)
	if err != nil {
		return s.fail(c, pb.Status_ERROR_INVALID, "BLOCK_CHECKSUM: %v", err)
	}
	b := req.GetHeader().GetBlock()
	if t := req.GetBlockChecksumOptions().GetBlockChecksumType(); t != pb.BlockChecksumTypeProto_MD5CRC {
		return s.fail(c, pb.Status_ERROR_UNSUPPORTED, "BLOCK_CHECKSUM: checksum type %v is not served (MD5CRC is)", t)
	}
	if err := who.access(s.opts.FS, int64(b.GetBlockId()), false); err != nil {
		return s.fail(c, pb.Status_ERROR_ACCESS_TOKEN, "BLOCK_CHECKSUM: %v", err)
	}
	v, err := s.opts.FS.ReadBlock(int64(b.GetBlockId()), b.GetGenerationStamp())
	if err != nil {
		return s.fail(c, pb.Status_ERROR, "BLOCK_CHECKSUM: %v", err)
	}
	defer v.Close()
	data := v.Data
	if nb := int64(b.GetNumBytes()); nb > 0 && nb < int64(len(data)) {
		data = data[:nb]
	}
	md5sum, crcs := transfer.BlockChecksum(data)
	return s.reply(c, transfer.ChecksumOpResponse(md5sum, crcs))
}

// peerUser is who a connection's peer may act as (Options.PeerUser).
type peerUser struct {
	bound bool         // the peer is bound to user
	user  namesys.User // with its groups
	err   error        // the peer is refused
}

func (s *Server) identify(c net.Conn) peerUser {
	if s.opts.PeerUser == nil {
		return peerUser{}
	}
	name, err := s.opts.PeerUser(c)
	switch {
	case err != nil:
		s.opts.Logger.Info("datanode: peer refused", "remote", c.RemoteAddr().String(), "err", err)
		return peerUser{err: err}
	case name == "":
		return peerUser{}
	}
	return peerUser{bound: true, user: s.opts.FS.UserOf(name)}
}

// access checks the peer's access to block id.
func (p peerUser) access(fs *namesys.FS, id int64, write bool) error {
	switch {
	case p.err != nil:
		return p.err
	case !p.bound:
		return nil
	}
	return fs.BlockAccess(p.user, id, write)
}
