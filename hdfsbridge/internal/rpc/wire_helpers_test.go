package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// The byte-level tests speak the protocol by hand, with their own encoder and
// decoder (not the server's), so that a bug shared by both cannot hide.

var testClientID = []byte("0123456789abcdef")

func preamble(auth byte) []byte { return []byte{'h', 'r', 'p', 'c', 9, 0, auth} }

func rpcHeader(callID int32) *pb.RpcRequestHeaderProto {
	return &pb.RpcRequestHeaderProto{
		RpcKind:  pb.RpcKindProto_RPC_PROTOCOL_BUFFER.Enum(),
		RpcOp:    pb.RpcRequestHeaderProto_RPC_FINAL_PACKET.Enum(),
		CallId:   proto.Int32(callID),
		ClientId: testClientID,
	}
}

func requestHeader(method string) *pb.RequestHeaderProto {
	return &pb.RequestHeaderProto{
		MethodName:                 proto.String(method),
		DeclaringClassProtocolName: proto.String(ClientProtocol),
		ClientProtocolVersion:      proto.Uint64(1),
	}
}

// mustMarshal allows unset required fields: tests send broken messages.
func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// delimited is a varint length and b.
func delimited(b []byte) []byte { return protowire.AppendBytes(nil, b) }

// frameOf prefixes the concatenated parts with their uint32 BE length.
func frameOf(parts ...[]byte) []byte {
	out := make([]byte, 4)
	for _, p := range parts {
		out = append(out, p...)
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// packet is a request frame of varint-delimited messages.
func packet(t testing.TB, msgs ...proto.Message) []byte {
	t.Helper()
	parts := make([][]byte, len(msgs))
	for i, m := range msgs {
		parts[i] = delimited(mustMarshal(t, m))
	}
	return frameOf(parts...)
}

func contextPacket(t testing.TB, user, protocol string) []byte {
	return packet(t, rpcHeader(-3), &pb.IpcConnectionContextProto{
		UserInfo: &pb.UserInformationProto{EffectiveUser: proto.String(user)},
		Protocol: proto.String(protocol),
	})
}

func callPacket(t testing.TB, callID int32, method string, req proto.Message) []byte {
	return packet(t, rpcHeader(callID), requestHeader(method), req)
}

type wireClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialWire(t *testing.T, addr string) *wireClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { _ = conn.Close() })
	return &wireClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (w *wireClient) write(bs ...[]byte) {
	w.t.Helper()
	for _, b := range bs {
		_, err := w.conn.Write(b)
		require.NoError(w.t, err)
	}
}

// handshake sends the preamble (no auth) and a connection context for alice.
func (w *wireClient) handshake() {
	w.t.Helper()
	w.write(preamble(0), contextPacket(w.t, "alice", ClientProtocol))
}

// readTestReply reads one reply frame and splits it into its header and (if
// present) the raw response message, refusing anything else in the frame.
func readTestReply(br *bufio.Reader) (*pb.RpcResponseHeaderProto, []byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(br, lb[:]); err != nil {
		return nil, nil, fmt.Errorf("reading a reply length: %w", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(lb[:]))
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, nil, fmt.Errorf("reading a reply body: %w", err)
	}
	hb, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, nil, fmt.Errorf("reply header length: %w", protowire.ParseError(n))
	}
	b = b[n:]
	h := new(pb.RpcResponseHeaderProto)
	if err := proto.Unmarshal(hb, h); err != nil {
		return nil, nil, err
	}
	if len(b) == 0 {
		return h, nil, nil
	}
	mb, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, nil, fmt.Errorf("reply message length: %w", protowire.ParseError(n))
	}
	if len(b[n:]) != 0 {
		return nil, nil, fmt.Errorf("%d bytes after the reply message", len(b[n:]))
	}
	return h, mb, nil
}

func (w *wireClient) readReply() (*pb.RpcResponseHeaderProto, []byte) {
	w.t.Helper()
	h, mb, err := readTestReply(w.br)
	require.NoError(w.t, err)
	return h, mb
}

// call sends a call and reads its reply, requiring SUCCESS and unmarshalling
// the response into resp.
func (w *wireClient) call(callID int32, method string, req, resp proto.Message) *pb.RpcResponseHeaderProto {
	w.t.Helper()
	w.write(callPacket(w.t, callID, method, req))
	h, mb := w.readReply()
	require.Equal(w.t, pb.RpcResponseHeaderProto_SUCCESS, h.GetStatus(), "%s: %s %s", method, h.GetExceptionClassName(), h.GetErrorMsg())
	require.Equal(w.t, uint32(callID), h.GetCallId())
	require.NoError(w.t, proto.Unmarshal(mb, resp))
	return h
}

// expectClosed requires the server to close the connection: EOF (or a
// reset) with no further bytes.
func (w *wireClient) expectClosed() {
	w.t.Helper()
	b, err := io.ReadAll(w.br)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne *net.OpError
		require.True(w.t, errors.As(err, &ne) && !ne.Timeout(), "waiting for close: %v", err)
	}
	require.Empty(w.t, b, "bytes before close")
}

// expectFatal reads a FATAL reply and then the close.
func (w *wireClient) expectFatal(callID uint32, code pb.RpcResponseHeaderProto_RpcErrorCodeProto, class string) *pb.RpcResponseHeaderProto {
	w.t.Helper()
	h, mb := w.readReply()
	require.Nil(w.t, mb)
	require.Equal(w.t, pb.RpcResponseHeaderProto_FATAL, h.GetStatus(), "%s: %s", h.GetExceptionClassName(), h.GetErrorMsg())
	require.Equal(w.t, callID, h.GetCallId())
	require.Equal(w.t, code, h.GetErrorDetail())
	require.Equal(w.t, class, h.GetExceptionClassName())
	require.Equal(w.t, uint32(9), h.GetServerIpcVersionNum())
	w.expectClosed()
	return h
}

// expectError reads an ERROR reply to callID.
func (w *wireClient) expectError(callID int32, code pb.RpcResponseHeaderProto_RpcErrorCodeProto, class string) *pb.RpcResponseHeaderProto {
	w.t.Helper()
	h, mb := w.readReply()
	require.Nil(w.t, mb, "an ERROR reply carries no message")
	require.Equal(w.t, pb.RpcResponseHeaderProto_ERROR, h.GetStatus(), "%s: %s", h.GetExceptionClassName(), h.GetErrorMsg())
	require.Equal(w.t, uint32(callID), h.GetCallId())
	require.Equal(w.t, code, h.GetErrorDetail())
	require.Equal(w.t, class, h.GetExceptionClassName())
	return h
}
