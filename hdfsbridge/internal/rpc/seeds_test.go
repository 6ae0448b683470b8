package rpc

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the fuzz seed corpora in testdata/fuzz from a real client session")

const (
	parseSeedDir = "testdata/fuzz/FuzzParseCall"
	connSeedDir  = "testdata/fuzz/FuzzConn"
	corpusHeader = "go test fuzz v1\n"
)

// TestFuzzSeeds checks the committed seed corpora: every file is in the
// `go test fuzz v1` format, the recorded colinmarc/hdfs frames are there,
// and each FuzzParseCall seed parses (or, named bad-*, fails with a typed
// error). With -rewrite it first regenerates both corpora: it records a
// colinmarc/hdfs session against the server and adds hand-built frames.
func TestFuzzSeeds(t *testing.T) {
	if *rewrite {
		frames, streams := collectSeeds(t)
		writeCorpus(t, parseSeedDir, frames)
		writeCorpus(t, connSeedDir, streams)
	}

	seeds := readCorpus(t, parseSeedDir)
	var recorded int
	for name, frame := range seeds {
		if strings.HasPrefix(name, "colinmarc-") {
			recorded++
		}
		_, _, _, err := parseCall(frame)
		if strings.HasPrefix(name, "bad-") {
			require.Error(t, err, name)
			continue
		}
		require.NoError(t, err, name)
	}
	require.GreaterOrEqual(t, recorded, 6, "recorded colinmarc frames in %s", parseSeedDir)
	require.NotEmpty(t, readCorpus(t, connSeedDir))
}

func writeCorpus(t *testing.T, dir string, seeds map[string][]byte) {
	t.Helper()
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, b := range seeds {
		content := corpusHeader + "[]byte(" + strconv.Quote(string(b)) + ")\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

func readCorpus(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		s, ok := strings.CutPrefix(string(raw), corpusHeader)
		require.True(t, ok, "%s: not a go test fuzz v1 file", e.Name())
		s, ok = strings.CutPrefix(strings.TrimSpace(s), "[]byte(")
		require.True(t, ok, "%s: not one []byte value", e.Name())
		lit, ok := strings.CutSuffix(s, ")")
		require.True(t, ok, e.Name())
		v, err := strconv.Unquote(lit)
		require.NoError(t, err, e.Name())
		out[e.Name()] = []byte(v)
	}
	return out
}

// recordingListener keeps every byte its connections read.
type recordingListener struct {
	net.Listener
	mu      sync.Mutex
	streams []*bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	buf := new(bytes.Buffer)
	l.mu.Lock()
	l.streams = append(l.streams, buf)
	l.mu.Unlock()
	return &recordingConn{Conn: c, l: l, buf: buf}, nil
}

type recordingConn struct {
	net.Conn
	l   *recordingListener
	buf *bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.buf.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

// collectSeeds returns FuzzParseCall frames and FuzzConn streams.
func collectSeeds(t *testing.T) (frames, streams map[string][]byte) {
	t.Helper()
	frames, streams = map[string][]byte{}, map[string][]byte{}

	// A real colinmarc/hdfs session.
	nn := new(namenode)
	s, err := New(Options{Methods: nn.methods()})
	require.NoError(t, err)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &recordingListener{Listener: inner}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	client, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{inner.Addr().String()}, User: "alice"})
	require.NoError(t, err)
	_, err = client.Stat("/x")
	require.NoError(t, err)
	_, _ = client.Stat("/missing")
	_, err = client.ReadDir("/")
	require.NoError(t, err)
	_, err = client.ServerDefaults()
	require.NoError(t, err)
	_ = client.Mkdir("/newdir", 0o755)
	_ = client.Remove("/x")
	require.Eventually(t, func() bool { return nn.renewals() > 0 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, client.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-done, ErrServerClosed)
	require.Len(t, ln.streams, 1)
	stream := ln.streams[0].Bytes()
	streams["colinmarc-session"] = stream

	require.Equal(t, preamble(0), stream[:7])
	rest := stream[7:]
	seen := map[string]bool{}
	for i := 0; len(rest) > 0; i++ {
		n := binary.BigEndian.Uint32(rest)
		frame := rest[4 : 4+n]
		rest = rest[4+n:]
		hdr, rh, _, err := parseCall(frame)
		require.NoError(t, err)
		what := rh.GetMethodName()
		if hdr.GetCallId() == callIDConnectionContext {
			what = "context"
		}
		if seen[what] {
			continue
		}
		seen[what] = true
		frames[fmt.Sprintf("colinmarc-%02d-%s", i, what)] = frame
	}

	// Hand-built frames: what Java clients send, and broken frames.
	javaHeader := func(callID int32) *pb.RpcRequestHeaderProto {
		h := rpcHeader(callID)
		h.ClientId = []byte{}
		h.RetryCount = proto.Int32(-1)
		return h
	}
	body := func(parts ...proto.Message) []byte {
		var out [][]byte
		for _, m := range parts {
			out = append(out, delimited(mustMarshal(t, m)))
		}
		return frameOf(out...)[4:]
	}
	call34 := rpcHeader(12)
	call34.RetryCount = proto.Int32(0)
	call34.TraceInfo = &pb.RPCTraceInfoProto{TraceId: proto.Int64(1), ParentId: proto.Int64(2)}
	call34.CallerContext = &pb.RPCCallerContextProto{Context: proto.String("mr_job_1"), Signature: []byte{1, 2}}
	call34.StateId = proto.Int64(77)
	hand := map[string][]byte{
		"sasl-negotiate":         body(javaHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_NEGOTIATE.Enum()}),
		"sasl-initiate-kerberos": body(javaHeader(-33), initiateMsg("KERBEROS", "GSSAPI")),
		"sasl-initiate-simple":   body(javaHeader(-33), initiateMsg("SIMPLE", "")),
		"ping":                   body(javaHeader(-4)),
		"context-proxy-user": body(rpcHeader(-3), &pb.IpcConnectionContextProto{
			UserInfo: &pb.UserInformationProto{EffectiveUser: proto.String("alice"), RealUser: proto.String("yarn")},
			Protocol: proto.String(ClientProtocol),
		}),
		"call-java-3.4":           body(call34, requestHeader("getListing"), &pb.GetListingRequestProto{Src: proto.String("/"), StartAfter: []byte{}, NeedLocation: proto.Bool(true)}),
		"call-missing-src":        body(rpcHeader(13), requestHeader("getFileInfo"), &pb.GetFileInfoRequestProto{}),
		"bad-empty":               {},
		"bad-header-past-frame":   {0x40, 0x08, 0x00},
		"bad-header-missing-call": body(&pb.RpcRequestHeaderProto{ClientId: []byte{}}),
		"bad-body-past-frame":     append(body(rpcHeader(1), requestHeader("getFileInfo")), 0x20, 0x0a),
		"bad-trailing":            append(body(rpcHeader(1), requestHeader("getFileInfo"), getFileInfo("/x")), 0x00),
		"bad-no-body":             body(rpcHeader(1), requestHeader("getFileInfo")),
	}
	for name, b := range hand {
		frames[name] = b
	}

	// Hand-built streams.
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	streams["sasl-simple-session"] = cat(preamble(0xDF),
		packet(t, javaHeader(-33), &pb.RpcSaslProto{State: pb.RpcSaslProto_NEGOTIATE.Enum()}),
		contextPacket(t, "alice", ClientProtocol),
		callPacket(t, 0, "getFileInfo", getFileInfo("/x")),
		packet(t, javaHeader(-4)),
		callPacket(t, 1, "getListing", &pb.GetListingRequestProto{Src: proto.String("/"), StartAfter: []byte{}, NeedLocation: proto.Bool(false)}))
	streams["sasl-kerberos"] = cat(preamble(0xDF), packet(t, javaHeader(-33), initiateMsg("KERBEROS", "GSSAPI")))
	streams["bad-version"] = []byte("hrpc\x0a\x00\x00")
	streams["http"] = []byte("GET / HTTP/1.1\r\n\r\n")
	streams["errors"] = cat(preamble(0), contextPacket(t, "alice", ClientProtocol),
		callPacket(t, 0, "nosuch", getFileInfo("/x")),
		callPacket(t, 1, "mkdirs", &pb.MkdirsRequestProto{Src: proto.String("/d"), Masked: &pb.FsPermissionProto{Perm: proto.Uint32(0o755)}, CreateParent: proto.Bool(false)}),
		callPacket(t, 2, "getFileInfo", &pb.GetFileInfoRequestProto{}),
		packet(t, func() *pb.RpcRequestHeaderProto {
			h := rpcHeader(3)
			h.RpcOp = pb.RpcRequestHeaderProto_RPC_CLOSE_CONNECTION.Enum()
			return h
		}()))

	names := make([]string, 0, len(frames))
	for n := range frames {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("FuzzParseCall seeds: %s", strings.Join(names, " "))
	return frames, streams
}
