package rpc

import (
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// TestAuthorize: Options.Authorize sees the connection and both claimed
// users once, at the connection context; a refusal answers the next frame
// (the first call, so that every client reports it) with FATAL
// FATAL_UNAUTHORIZED AuthorizationException carrying its text, and the
// connection closes before any call is served.
func TestAuthorize(t *testing.T) {
	type seen struct{ user, real, remote string }
	var mu sync.Mutex
	var got []seen
	opts := DefaultOptions()
	opts.Authorize = func(nc net.Conn, user, real string) error {
		mu.Lock()
		got = append(got, seen{user, real, nc.RemoteAddr().String()})
		mu.Unlock()
		if user != "alice" || (real != "" && real != "alice") {
			return errors.New("the peer may act only as user alice")
		}
		return nil
	}
	_, nn, addr := startServer(t, opts)
	calls := func() int {
		nn.mu.Lock()
		defer nn.mu.Unlock()
		return len(nn.mu.calls)
	}
	last := func() seen {
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1]
	}

	w := dialWire(t, addr)
	w.handshake() // alice
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
	require.Equal(t, seen{"alice", "", w.conn.LocalAddr().String()}, last())

	for _, c := range []struct{ user, real string }{{"root", ""}, {"alice", "root"}, {"bob", "alice"}} {
		before := calls()
		w := dialWire(t, addr)
		w.write(preamble(0xDF), packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: saslNegotiate.Enum()}))
		h, _ := w.readReply()
		require.Equal(t, pb.RpcResponseHeaderProto_SUCCESS, h.GetStatus())
		w.write(packet(t, rpcHeader(-3), &pb.IpcConnectionContextProto{
			UserInfo: &pb.UserInformationProto{EffectiveUser: proto.String(c.user), RealUser: proto.String(c.real)},
			Protocol: proto.String(ClientProtocol),
		}), callPacket(t, 1, "getFileInfo", getFileInfo("/x")))
		h = w.expectFatal(1, pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "org.apache.hadoop.security.authorize.AuthorizationException")
		require.Equal(t, "the peer may act only as user alice", h.GetErrorMsg())
		require.Equal(t, seen{c.user, c.real, w.conn.LocalAddr().String()}, last())
		require.Equal(t, before, calls(), "a refused connection served a call")
	}
}
