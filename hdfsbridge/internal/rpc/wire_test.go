package rpc

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

const (
	replyIDUnknown = 0xFFFFFFFF // callId -1
	replyIDContext = 0xFFFFFFFD // callId -3
	replyIDSASL    = 0xFFFFFFDF // callId -33
)

func getFileInfo(src string) *pb.GetFileInfoRequestProto {
	return &pb.GetFileInfoRequestProto{Src: proto.String(src)}
}

func TestPreamble(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	for _, tc := range []struct {
		name     string
		send     []byte
		fatal    pb.RpcResponseHeaderProto_RpcErrorCodeProto // 0: no reply, just close
		class    string
		contains string
	}{{
		// Server.java answers a wrong magic as a wrong version when the
		// version byte is one a protobuf client reads.
		name: "bad magic", send: []byte("hrpx\x09\x00\x00"),
		fatal: pb.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH, class: "org.apache.hadoop.ipc.RPC$VersionMismatch",
		contains: "Server IPC version 9 cannot communicate with client version 9",
	}, {
		name: "bad magic old version", send: []byte("xxxx\x03\x00\x00"),
	}, {
		name: "version 8", send: []byte("hrpc\x08\x00\x00"),
	}, {
		name: "version 10", send: []byte("hrpc\x0a\x00\x00"),
		fatal: pb.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH, class: "org.apache.hadoop.ipc.RPC$VersionMismatch",
		contains: "client version 10",
	}, {
		name: "negative version", send: []byte("hrpc\xf0\x00\x00"),
	}, {
		name: "unknown auth protocol", send: []byte("hrpc\x09\x00\x01"),
		fatal: pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, class: "org.apache.hadoop.ipc.IpcException",
		contains: "Unknown auth protocol:1",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.write(tc.send)
			if tc.fatal == 0 {
				w.expectClosed()
				return
			}
			h := w.expectFatal(replyIDUnknown, tc.fatal, tc.class)
			require.Contains(t, h.GetErrorMsg(), tc.contains)
		})
	}

	t.Run("http", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		b, err := io.ReadAll(w.br)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(b), "HTTP/1.1 404 Not Found\r\n"), "%q", b)
		require.Contains(t, string(b), "Hadoop IPC")
	})

	t.Run("short", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write([]byte("hrp"))
		require.NoError(t, w.conn.(*net.TCPConn).CloseWrite())
		w.expectClosed()
	})

	t.Run("nothing", func(t *testing.T) {
		w := dialWire(t, addr)
		require.NoError(t, w.conn.(*net.TCPConn).CloseWrite())
		w.expectClosed()
	})
}

// TestSASLNegotiate pins the exact reply to SASL NEGOTIATE: a SUCCESS reply
// to callId -33 carrying RpcSaslProto{state: SUCCESS}, which makes the client
// switch to SIMPLE.
func TestSASLNegotiate(t *testing.T) {
	_, nn, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.write(preamble(0xDF), packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_NEGOTIATE.Enum()}))

	want, err := hex.DecodeString(strings.Join([]string{
		"00000022",     // frame length 34
		"1e",           // header length 30
		"08dfffffff0f", // callId (uint32) 0xFFFFFFDF = -33
		"1000",         // status SUCCESS
		"1809",         // serverIpcVersionNum 9
		"3a10",         // clientId, 16 bytes:
		hex.EncodeToString(testClientID),
		"4001", // retryCount -1 (zigzag)
		"02",   // message length 2
		"1000", // RpcSaslProto{state: SUCCESS}
	}, ""))
	require.NoError(t, err)
	got := make([]byte, len(want))
	_, err = io.ReadFull(w.br, got)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))

	// Then the connection goes on as SIMPLE.
	w.write(contextPacket(t, "bob", ClientProtocol))
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
	require.NotNil(t, resp.GetFs())
	nn.mu.Lock()
	require.Equal(t, []string{"bob"}, nn.mu.users)
	nn.mu.Unlock()
}

func initiateMsg(method, mech string) *pb.RpcSaslProto {
	return &pb.RpcSaslProto{
		State: pb.RpcSaslProto_INITIATE.Enum(),
		Token: []byte("token"),
		Auths: []*pb.RpcSaslProto_SaslAuth{{Method: proto.String(method), Mechanism: proto.String(mech), Protocol: proto.String("nn"), ServerId: proto.String("localhost")}},
	}
}

func TestSASLInitiate(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	for _, tc := range []struct {
		name, method, mech string
		negotiateFirst     bool
	}{
		{name: "kerberos", method: "KERBEROS", mech: "GSSAPI"},
		{name: "token", method: "TOKEN", mech: "DIGEST-MD5"},
		{name: "kerberos after negotiate", method: "KERBEROS", mech: "GSSAPI", negotiateFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.write(preamble(0xDF))
			if tc.negotiateFirst {
				w.write(packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_NEGOTIATE.Enum()}))
				h, mb := w.readReply()
				require.Equal(t, pb.RpcResponseHeaderProto_SUCCESS, h.GetStatus())
				require.Equal(t, []byte{0x10, 0x00}, mb)
			}
			w.write(packet(t, rpcHeader(-33), initiateMsg(tc.method, tc.mech)))
			h := w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "org.apache.hadoop.security.AccessControlException")
			require.Contains(t, h.GetErrorMsg(), tc.method)
			require.Contains(t, h.GetErrorMsg(), tc.mech)
			require.Contains(t, h.GetErrorMsg(), "only does SIMPLE authentication")
		})
	}

	t.Run("simple", func(t *testing.T) {
		// INITIATE SIMPLE switches without a reply (Server.java).
		w := dialWire(t, addr)
		w.write(preamble(0xDF), packet(t, rpcHeader(-33), initiateMsg("SIMPLE", "")), contextPacket(t, "carol", ClientProtocol))
		var resp pb.GetFileInfoResponseProto
		w.call(7, "getFileInfo", getFileInfo("/x"), &resp)
	})

	t.Run("two auths", func(t *testing.T) {
		w := dialWire(t, addr)
		msg := initiateMsg("SIMPLE", "")
		msg.Auths = append(msg.Auths, msg.Auths[0])
		w.write(preamble(0xDF), packet(t, rpcHeader(-33), msg))
		w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "javax.security.sasl.SaslException")
	})

	t.Run("response state", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0xDF), packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_RESPONSE.Enum()}))
		w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "javax.security.sasl.SaslException")
	})

	t.Run("wrap", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0xDF), packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_WRAP.Enum()}))
		w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "javax.security.sasl.SaslException")
	})

	t.Run("second negotiate", func(t *testing.T) {
		w := dialWire(t, addr)
		neg := packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_NEGOTIATE.Enum()})
		w.write(preamble(0xDF), neg, neg)
		h, _ := w.readReply()
		require.Equal(t, pb.RpcResponseHeaderProto_SUCCESS, h.GetStatus())
		w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "javax.security.sasl.SaslException")
	})

	t.Run("undecodable", func(t *testing.T) {
		w := dialWire(t, addr)
		// RpcSaslProto without its required state.
		w.write(preamble(0xDF), frameOf(delimited(mustMarshal(t, rpcHeader(-33))), delimited(nil)))
		w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "org.apache.hadoop.ipc.RpcServerException")
	})

	t.Run("not requested", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0), packet(t, rpcHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_NEGOTIATE.Enum()}))
		w.expectFatal(replyIDSASL, pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.RpcServerException")
	})

	t.Run("context during negotiation", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0xDF), contextPacket(t, "alice", ClientProtocol))
		w.expectFatal(replyIDContext, pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.RpcServerException")
	})
}

func TestConnectionContext(t *testing.T) {
	_, nn, addr := startServer(t, Options{})

	t.Run("other protocol", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0), contextPacket(t, "alice", "org.apache.hadoop.hdfs.protocol.ClientDatanodeProtocol"))
		h := w.expectFatal(replyIDContext, pb.RpcResponseHeaderProto_ERROR_NO_SUCH_PROTOCOL, "org.apache.hadoop.ipc.RpcNoSuchProtocolException")
		require.Equal(t, "Unknown protocol: org.apache.hadoop.hdfs.protocol.ClientDatanodeProtocol", h.GetErrorMsg())
		require.Equal(t, testClientID, h.GetClientId())
	})

	t.Run("no user", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0), packet(t, rpcHeader(-3), &pb.IpcConnectionContextProto{Protocol: proto.String(ClientProtocol)}))
		w.expectFatal(replyIDContext, pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, "org.apache.hadoop.security.AccessControlException")
	})

	t.Run("real user only", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0), packet(t, rpcHeader(-3), &pb.IpcConnectionContextProto{
			UserInfo: &pb.UserInformationProto{RealUser: proto.String("dave")},
		}))
		var resp pb.GetFileInfoResponseProto
		w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
		nn.mu.Lock()
		require.Equal(t, "dave", nn.mu.users[len(nn.mu.users)-1])
		nn.mu.Unlock()
	})

	t.Run("effective over real", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0), packet(t, rpcHeader(-3), &pb.IpcConnectionContextProto{
			UserInfo: &pb.UserInformationProto{EffectiveUser: proto.String("erin"), RealUser: proto.String("dave")},
			Protocol: proto.String(ClientProtocol),
		}))
		var resp pb.GetFileInfoResponseProto
		w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
		nn.mu.Lock()
		require.Equal(t, "erin", nn.mu.users[len(nn.mu.users)-1])
		nn.mu.Unlock()
	})

	t.Run("twice", func(t *testing.T) {
		w := dialWire(t, addr)
		w.handshake()
		w.write(contextPacket(t, "alice", ClientProtocol))
		w.expectFatal(replyIDContext, pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.RpcServerException")
	})

	t.Run("call before context", func(t *testing.T) {
		w := dialWire(t, addr)
		w.write(preamble(0), callPacket(t, 5, "getFileInfo", getFileInfo("/x")))
		h := w.expectFatal(5, pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.RpcServerException")
		require.Equal(t, "Connection context not established", h.GetErrorMsg())
	})

	t.Run("undecodable", func(t *testing.T) {
		w := dialWire(t, addr)
		// Field 2 (userInfo) declared 5 bytes long with only 1 inside.
		w.write(preamble(0), frameOf(delimited(mustMarshal(t, rpcHeader(-3))), delimited([]byte{0x12, 0x05, 0x0a})))
		w.expectFatal(replyIDContext, pb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "org.apache.hadoop.ipc.RpcServerException")
	})
}

// TestPing: callId -4 packets (header only, as Java sends them) get no reply,
// before and after the connection context.
func TestPing(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	ping := packet(t, rpcHeader(-4))
	w.write(preamble(0), ping, contextPacket(t, "alice", ClientProtocol), ping, ping)
	var resp pb.GetFileInfoResponseProto
	w.call(1, "getFileInfo", getFileInfo("/x"), &resp) // the first reply is the call's
	w.write(ping)
	w.call(2, "getFileInfo", getFileInfo("/x"), &resp)
}

func TestUnknownMethod(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.handshake()
	w.write(callPacket(t, 0, "getBlockLocations", &pb.GetFileInfoRequestProto{Src: proto.String("/x")}))
	h := w.expectError(0, pb.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD, "org.apache.hadoop.ipc.RpcNoSuchMethodException")
	require.Equal(t, "Unknown method getBlockLocations called on "+ClientProtocol+" protocol.", h.GetErrorMsg())

	var resp pb.GetFileInfoResponseProto
	w.call(1, "getFileInfo", getFileInfo("/x"), &resp)
	require.Equal(t, pb.HdfsFileStatusProto_IS_FILE, resp.GetFs().GetFileType())
}

func TestDeclaringProtocolMismatch(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.handshake()
	rh := requestHeader("getFileInfo")
	rh.DeclaringClassProtocolName = proto.String("org.apache.hadoop.ha.HAServiceProtocol")
	w.write(packet(t, rpcHeader(3), rh, getFileInfo("/x")))
	w.expectError(3, pb.RpcResponseHeaderProto_ERROR_NO_SUCH_PROTOCOL, "org.apache.hadoop.ipc.RpcNoSuchProtocolException")
	var resp pb.GetFileInfoResponseProto
	w.call(4, "getFileInfo", getFileInfo("/x"), &resp)
}

// TestUndecodableCall: a call whose RequestHeaderProto or parameters do not
// decode fails alone (ERROR, RpcServerException); the connection goes on.
func TestUndecodableCall(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.handshake()
	hdr := func(id int32) []byte { return delimited(mustMarshal(t, rpcHeader(id))) }
	rh := delimited(mustMarshal(t, requestHeader("getFileInfo")))
	for i, tc := range []struct {
		name  string
		frame func(id int32) []byte
		msg   string
	}{
		{"missing required src", func(id int32) []byte { return frameOf(hdr(id), rh, delimited(nil)) }, "src"},
		{"body past the frame", func(id int32) []byte { return frameOf(hdr(id), rh, []byte{50, 1, 2}) }, "runs past"},
		{"no body", func(id int32) []byte { return frameOf(hdr(id), rh) }, "request missing"},
		{"trailing bytes", func(id int32) []byte {
			return frameOf(hdr(id), rh, delimited(mustMarshal(t, getFileInfo("/x"))), []byte{0})
		}, "after the request"},
		{"bad request header", func(id int32) []byte {
			return frameOf(hdr(id), delimited(mustMarshal(t, &pb.RequestHeaderProto{MethodName: proto.String("getFileInfo")})), delimited(nil))
		}, "RequestHeaderProto"},
		{"no request header", func(id int32) []byte { return frameOf(hdr(id)) }, "RequestHeaderProto missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := int32(10 + 2*i)
			w.write(tc.frame(id))
			h := w.expectError(id, pb.RpcResponseHeaderProto_ERROR_RPC_SERVER, "org.apache.hadoop.ipc.RpcServerException")
			require.Contains(t, h.GetErrorMsg(), "IPC server unable to read call parameters")
			require.Contains(t, h.GetErrorMsg(), tc.msg)
			var resp pb.GetFileInfoResponseProto
			w.call(id+1, "getFileInfo", getFileInfo("/x"), &resp)
		})
	}
}

// TestUndecodableRPCHeader: without a decodable RpcRequestHeaderProto there is
// no callId to answer: FATAL_DESERIALIZING_REQUEST to callId -1, then close.
func TestUndecodableRPCHeader(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"empty frame", frameOf()},
		{"garbage header", frameOf(delimited([]byte{0xff}))},
		{"header past the frame", frameOf([]byte{0x7f, 0x08})},
		{"bad varint", frameOf([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})},
		{"missing callId", frameOf(delimited(mustMarshal(t, &pb.RpcRequestHeaderProto{ClientId: testClientID})))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.handshake()
			w.write(tc.frame)
			w.expectFatal(replyIDUnknown, pb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, "org.apache.hadoop.ipc.RpcServerException")
		})
	}
}

// TestRPCHeaderChecks follows Server.java checkRpcHeaders: a missing or
// unsupported rpcOp or rpcKind, or an unknown out-of-band callId, is FATAL.
func TestRPCHeaderChecks(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	for _, tc := range []struct {
		name   string
		mutate func(h *pb.RpcRequestHeaderProto)
	}{
		{"continuation", func(h *pb.RpcRequestHeaderProto) { h.RpcOp = pb.RpcRequestHeaderProto_RPC_CONTINUATION_PACKET.Enum() }},
		{"no op", func(h *pb.RpcRequestHeaderProto) { h.RpcOp = nil }},
		{"no kind", func(h *pb.RpcRequestHeaderProto) { h.RpcKind = nil }},
		{"writable", func(h *pb.RpcRequestHeaderProto) { h.RpcKind = pb.RpcKindProto_RPC_WRITABLE.Enum() }},
		{"unknown out of band", func(h *pb.RpcRequestHeaderProto) { h.CallId = proto.Int32(-7) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.handshake()
			h := rpcHeader(6)
			tc.mutate(h)
			if h.GetCallId() < 0 {
				w.write(packet(t, h))
			} else {
				w.write(packet(t, h, requestHeader("getFileInfo"), getFileInfo("/x")))
			}
			w.expectFatal(uint32(h.GetCallId()), pb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "org.apache.hadoop.ipc.RpcServerException")
		})
	}
}

func TestCloseConnectionOp(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.handshake()
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
	h := rpcHeader(1)
	h.RpcOp = pb.RpcRequestHeaderProto_RPC_CLOSE_CONNECTION.Enum()
	w.write(packet(t, h))
	w.expectClosed()
}

// TestEcho: callId comes back as the same 32-bit pattern, clientId and
// retryCount as sent.
func TestEcho(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.handshake()
	for _, tc := range []struct {
		callID, retry int32
		clientID      []byte
	}{
		{0, 0, testClientID},
		{1, 3, []byte("another-client-id")},
		{1 << 30, -1, []byte{}},
		{1<<31 - 1, 7, testClientID},
	} {
		h := rpcHeader(tc.callID)
		h.RetryCount = proto.Int32(tc.retry)
		h.ClientId = tc.clientID
		w.write(packet(t, h, requestHeader("getFileInfo"), getFileInfo("/x")))
		rh, mb := w.readReply()
		require.Equal(t, pb.RpcResponseHeaderProto_SUCCESS, rh.GetStatus())
		require.Equal(t, uint32(tc.callID), rh.GetCallId())
		require.Equal(t, tc.retry, rh.GetRetryCount())
		require.NotNil(t, rh.RetryCount)
		require.Equal(t, string(tc.clientID), string(rh.GetClientId()))
		require.NotNil(t, rh.ClientId, "clientId is always present")
		require.Equal(t, uint32(9), rh.GetServerIpcVersionNum())
		var resp pb.GetFileInfoResponseProto
		require.NoError(t, proto.Unmarshal(mb, &resp))
		require.NotNil(t, resp.GetFs())
	}
}

// TestOversizedFrame: a length above MaxFrameBytes closes the connection
// before anything is allocated for it.
func TestOversizedFrame(t *testing.T) {
	t.Run("2^31", func(t *testing.T) {
		_, _, addr := startServer(t, Options{})
		w := dialWire(t, addr)
		w.handshake()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w.write([]byte{0x80, 0, 0, 0})
		w.expectClosed()
		runtime.ReadMemStats(&after)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated while refusing the frame")
	})
	t.Run("limit", func(t *testing.T) {
		_, _, addr := startServer(t, Options{MaxFrameBytes: 1024})
		w := dialWire(t, addr)
		w.handshake()
		var resp pb.GetFileInfoResponseProto
		w.call(0, "getFileInfo", getFileInfo(strings.Repeat("a", 900)), &resp) // under the limit
		var lb [4]byte
		binary.BigEndian.PutUint32(lb[:], 1025)
		w.write(lb[:])
		w.expectClosed()
	})
}

// TestLargeFrame: a frame above the 64 KiB read step is read in growing
// steps and served.
func TestLargeFrame(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	w.handshake()
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/"+strings.Repeat("d", 300<<10)), &resp)
	require.Nil(t, resp.GetFs())
}

func TestTruncatedFrame(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"length", []byte{0, 0}},
		{"body", append([]byte{0, 0, 0, 100}, make([]byte, 10)...)},
		{"large body", append([]byte{0, 4, 0, 0}, make([]byte, 70<<10)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.handshake()
			w.write(tc.send)
			require.NoError(t, w.conn.(*net.TCPConn).CloseWrite())
			w.expectClosed()
		})
	}
	// The server still serves.
	w := dialWire(t, addr)
	w.handshake()
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
}

func TestIdleTimeout(t *testing.T) {
	_, _, addr := startServer(t, Options{IdleTimeout: 50 * time.Millisecond})
	t.Run("before preamble", func(t *testing.T) {
		w := dialWire(t, addr)
		w.expectClosed()
	})
	t.Run("between calls", func(t *testing.T) {
		w := dialWire(t, addr)
		w.handshake()
		var resp pb.GetFileInfoResponseProto
		w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
		w.expectClosed()
	})
}

// TestPipelined: calls written back to back before any reply is read are all
// answered, in order.
func TestPipelined(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	w := dialWire(t, addr)
	var all bytes.Buffer
	all.Write(preamble(0))
	all.Write(contextPacket(t, "alice", ClientProtocol))
	for id := int32(0); id < 50; id++ {
		all.Write(callPacket(t, id, "getFileInfo", getFileInfo("/x")))
	}
	w.write(all.Bytes())
	for id := int32(0); id < 50; id++ {
		h, _ := w.readReply()
		require.Equal(t, uint32(id), h.GetCallId())
		require.Equal(t, pb.RpcResponseHeaderProto_SUCCESS, h.GetStatus())
	}
}
