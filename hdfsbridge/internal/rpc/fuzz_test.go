package rpc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// parseAllocSlack is what parseCall may allocate beyond a multiple of the
// frame: the decoded header structs themselves.
const parseAllocSlack = 16 << 10

// FuzzParseCall feeds request frames (without their length prefix) to
// parseCall. Seeds in testdata/fuzz/FuzzParseCall are frames recorded from
// the colinmarc/hdfs client and hand-built SASL, ping, context and broken
// frames (TestFuzzSeeds -rewrite regenerates them).
//
// Properties: no panic; allocation bounded by the frame, never by a length
// read from it; every error wraps a sentinel; a result is consistent and
// survives re-encoding.
func FuzzParseCall(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, rh, body, err := parseCall(frame)
		if alloc := parseAlloc(frame); alloc > uint64(4*len(frame)+parseAllocSlack) {
			t.Fatalf("parseCall allocated %d bytes for a %d-byte frame", alloc, len(frame))
		}

		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrBadRPCHeader) && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("untyped error %v", err)
			}
			if body != nil {
				t.Fatalf("body %x with error %v", body, err)
			}
			if hdr == nil && rh != nil {
				t.Fatalf("request header without RPC header")
			}
			return
		}
		if hdr == nil {
			t.Fatal("no header and no error")
		}
		if (hdr.GetCallId() < 0) != (rh == nil) {
			t.Fatalf("callId %d with request header %v", hdr.GetCallId(), rh)
		}
		if len(body) > 0 && !within(frame, body) {
			t.Fatal("body does not alias the frame")
		}
		if hdr.CallId == nil || hdr.ClientId == nil {
			t.Fatalf("required RPC header fields unset: %v", hdr)
		}
		if rh != nil && (rh.MethodName == nil || rh.DeclaringClassProtocolName == nil || rh.ClientProtocolVersion == nil) {
			t.Fatalf("required request header fields unset: %v", rh)
		}

		// Re-encode and parse again: the same call.
		parts := [][]byte{delimited(mustMarshal(t, hdr))}
		if rh != nil {
			parts = append(parts, delimited(mustMarshal(t, rh)), delimited(body))
		} else if body != nil {
			parts = append(parts, delimited(body))
		}
		again := frameOf(parts...)[4:]
		hdr2, rh2, body2, err := parseCall(again)
		if err != nil {
			t.Fatalf("re-encoded frame %x: %v", again, err)
		}
		if !proto.Equal(hdr, hdr2) || !proto.Equal(rh, rh2) || !bytes.Equal(body, body2) {
			t.Fatalf("re-encoded frame differs: %v %v %x vs %v %v %x", hdr, rh, body, hdr2, rh2, body2)
		}
	})
}

// parseAlloc is how many bytes parseCall allocates for frame, measured on a
// second call so that one-time initialisation (protobuf message types are
// set up on first use) is not counted.
func parseAlloc(frame []byte) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, _ = parseCall(frame)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// within reports whether sub lies inside b.
func within(b, sub []byte) bool {
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}

// FuzzConn feeds whole client byte streams (preamble, then frames) to a
// connection over an in-memory pipe, with the fixture's methods. Seeds in
// testdata/fuzz/FuzzConn are streams recorded from the colinmarc/hdfs
// client and hand-built SASL streams. Properties: no panic, the connection
// ends once the input does, and the server closes cleanly.
func FuzzConn(f *testing.F) {
	nn := new(namenode)
	f.Fuzz(func(t *testing.T, stream []byte) {
		s, err := New(Options{Methods: nn.methods(), IdleTimeout: 5 * time.Second, MaxFrameBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ServeConn(server)
		}()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, client)
		}()
		_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = client.Write(stream)
		_ = client.Close()
		<-drained
		<-done
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestParseCallFrames checks parseCall on hand-built frames, one per outcome.
func TestParseCallFrames(t *testing.T) {
	hdr := delimited(mustMarshal(t, rpcHeader(4)))
	rh := delimited(mustMarshal(t, requestHeader("getFileInfo")))
	req := delimited(mustMarshal(t, getFileInfo("/x")))
	for _, tc := range []struct {
		name    string
		frame   []byte
		want    error // nil: success
		wantHdr bool
	}{
		{"call", cat(hdr, rh, req), nil, true},
		{"ping", delimited(mustMarshal(t, rpcHeader(-4))), nil, true},
		{"context", cat(delimited(mustMarshal(t, rpcHeader(-3))), delimited(mustMarshal(t, &pb.IpcConnectionContextProto{}))), nil, true},
		{"empty", nil, ErrMalformedFrame, false},
		{"header varint overflow", bytes.Repeat([]byte{0xff}, 11), ErrMalformedFrame, false},
		{"header past end", []byte{0x05, 0x08}, ErrMalformedFrame, false},
		{"header garbage", delimited([]byte{0x0f}), ErrBadRPCHeader, false},
		{"no request header", hdr, ErrMalformedFrame, true},
		{"request header garbage", cat(hdr, delimited([]byte{0x0f}), req), ErrBadRequest, true},
		{"request header partial", cat(hdr, delimited(mustMarshal(t, &pb.RequestHeaderProto{MethodName: proto.String("x")})), req), ErrBadRequest, true},
		{"no body", cat(hdr, rh), ErrMalformedFrame, true},
		{"body past end", cat(hdr, rh, []byte{0x09, 0x00}), ErrMalformedFrame, true},
		{"trailing", cat(hdr, rh, req, []byte{0x00}), ErrMalformedFrame, true},
		{"out-of-band trailing", cat(delimited(mustMarshal(t, rpcHeader(-3))), delimited(nil), []byte{0x00}), ErrMalformedFrame, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, r, body, err := parseCall(tc.frame)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if h.GetCallId() >= 0 && (r.GetMethodName() != "getFileInfo" || len(body) == 0) {
					t.Fatalf("call parsed as %v %v %x", h, r, body)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if (h != nil) != tc.wantHdr {
				t.Fatalf("header %v, want present=%v", h, tc.wantHdr)
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
