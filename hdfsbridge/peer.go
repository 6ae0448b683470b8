package hdfsbridge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/peer"
)

// peers binds connections from isolated actions on this host to their
// namespace's user, for the three servers (docs/hdfs.md, *Users and
// permissions*).
type peers struct {
	r  *peer.Resolver
	fs *namesys.FS
	lg *slog.Logger
}

// identify finds who is at the other end of nc. An error refuses the
// connection.
func (p *peers) identify(what string, nc net.Conn) (peer.Peer, error) {
	who, err := p.r.Identify(nc.LocalAddr(), nc.RemoteAddr())
	if err == nil && who.User != "" && p.fs.IsSuperuser(p.fs.UserOf(who.User)) {
		// A namespace named like the superuser (or a member of the
		// supergroup) would make its actions superusers.
		err = fmt.Errorf("hdfsbridge: the peer, %v, is an action of a namespace named like an HDFS superuser; it is refused", who)
	}
	if err != nil {
		p.lg.Info("hdfs peer refused", "server", what, "remote", nc.RemoteAddr().String(), "err", err)
		return who, fmt.Errorf("connection refused: %w", err)
	}
	if who.User != "" {
		p.lg.Debug("hdfs peer bound", "server", what, "remote", nc.RemoteAddr().String(), "uid", who.UID, "user", who.User)
	}
	return who, nil
}

// rpcAuthorize is rpc.Options.Authorize.
func (p *peers) rpcAuthorize(nc net.Conn, user, realUser string) error {
	who, err := p.identify("NameNode", nc)
	if err != nil {
		return err
	}
	return who.Authorize(user, realUser)
}

// dataNodeUser is datanode.Options.PeerUser.
func (p *peers) dataNodeUser(nc net.Conn) (string, error) {
	who, err := p.identify("DataNode", nc)
	return who.User, err
}

// webConn is the peer of one WebHDFS connection, found on its first
// request (not in the accept loop) and kept for the others.
type webConn struct {
	nc   net.Conn
	once sync.Once
	user string
	err  error
}

type webConnKey struct{}

// webConnContext is http.Server.ConnContext.
func (p *peers) webConnContext(ctx context.Context, nc net.Conn) context.Context {
	return context.WithValue(ctx, webConnKey{}, &webConn{nc: nc})
}

// webUser is webhdfs.Options.PeerUser.
func (p *peers) webUser(r *http.Request) (string, error) {
	wc, ok := r.Context().Value(webConnKey{}).(*webConn)
	if !ok {
		return "", fmt.Errorf("hdfsbridge: request without its connection")
	}
	wc.once.Do(func() {
		var who peer.Peer
		who, wc.err = p.identify("WebHDFS", wc.nc)
		wc.user = who.User
	})
	return wc.user, wc.err
}
