package rpc

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// Wire constants of Hadoop IPC version 9 (Server.java, RpcConstants.java).
const (
	preambleLen = 7    // "hrpc", version, service class, auth protocol
	ipcVersion  = 9    // RpcConstants.CURRENT_VERSION
	authNone    = 0x00 // AuthProtocol.NONE
	authSASL    = 0xDF // AuthProtocol.SASL: its callId, -33, as a byte

	callIDConnectionContext int32 = -3  // RpcConstants.CONNECTION_CONTEXT_CALL_ID
	callIDPing              int32 = -4  // RpcConstants.PING_CALL_ID
	callIDSASL              int32 = -33 // AuthProtocol.SASL.callId
	callIDUnknown           int32 = -1  // replies to a request whose callId is unknown
	retryUnknown            int32 = -1  // RpcConstants.INVALID_RETRY_COUNT

	lengthPrefix = 4        // uint32 BE frame length
	frameChunk   = 64 << 10 // frames above this are read in growing steps
)

var magic = [4]byte{'h', 'r', 'p', 'c'}

// consumeDelimited splits a varint-delimited message off the front of b. The
// length is bounded by len(b): nothing is allocated.
func consumeDelimited(b []byte, what string) (msg, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: %s missing", ErrMalformedFrame, what)
	}
	n, k := protowire.ConsumeVarint(b)
	if k < 0 {
		return nil, nil, fmt.Errorf("%w: %s length: %w", ErrMalformedFrame, what, protowire.ParseError(k))
	}
	left := uint64(len(b) - k)
	if n > left {
		return nil, nil, fmt.Errorf("%w: %s of %d bytes runs past the %d bytes left in the frame", ErrMalformedFrame, what, n, left)
	}
	end := k + int(n)
	return b[k:end:end], b[end:], nil
}

// parseCall decodes one request frame (without its length prefix):
//
//	varint-delimited RpcRequestHeaderProto
//	then, for callId >= 0 (a call):
//	  varint-delimited RequestHeaderProto{methodName, declaringClassProtocolName, clientProtocolVersion}
//	  varint-delimited request message            -> body
//	or, for callId < 0 (connection context -3, SASL -33, ping -4):
//	  nothing (ping), or one varint-delimited message -> body
//
// body aliases frame. header is nil exactly when the RpcRequestHeaderProto
// itself could not be decoded (the connection cannot go on: there is no
// callId to answer); a later error comes with header (and rh, if decoded),
// so a call can be answered with an ERROR. rh is nil for callId < 0. Every
// error wraps ErrMalformedFrame, ErrBadRPCHeader or ErrBadRequest. parseCall
// allocates only the decoded headers: no length read from frame sizes an
// allocation.
func parseCall(frame []byte) (header *hadooppb.RpcRequestHeaderProto, rh *hadooppb.RequestHeaderProto, body []byte, err error) {
	raw, rest, err := consumeDelimited(frame, "RpcRequestHeaderProto")
	if err != nil {
		return nil, nil, nil, err
	}
	header = new(hadooppb.RpcRequestHeaderProto)
	if err := proto.Unmarshal(raw, header); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: decoding RpcRequestHeaderProto: %w", ErrBadRPCHeader, err)
	}
	if header.GetCallId() < 0 {
		if len(rest) == 0 {
			return header, nil, nil, nil
		}
		body, rest, err = consumeDelimited(rest, "out-of-band message")
		if err != nil {
			return header, nil, nil, err
		}
		if len(rest) != 0 {
			return header, nil, nil, fmt.Errorf("%w: %d bytes after the out-of-band message", ErrMalformedFrame, len(rest))
		}
		return header, nil, body, nil
	}
	raw, rest, err = consumeDelimited(rest, "RequestHeaderProto")
	if err != nil {
		return header, nil, nil, err
	}
	rh = new(hadooppb.RequestHeaderProto)
	if err := proto.Unmarshal(raw, rh); err != nil {
		return header, nil, nil, fmt.Errorf("%w: decoding RequestHeaderProto: %w", ErrBadRequest, err)
	}
	body, rest, err = consumeDelimited(rest, "request")
	if err != nil {
		return header, rh, nil, err
	}
	if len(rest) != 0 {
		return header, rh, nil, fmt.Errorf("%w: %d bytes after the request", ErrMalformedFrame, len(rest))
	}
	return header, rh, body, nil
}

// readFrameBody reads an n-byte frame body. Up to frameChunk it allocates n at
// once; above, it grows the buffer by doubling as bytes arrive, so a peer that
// announces a large frame and stalls holds at most twice what it sent. The
// caller has bounded n by MaxFrameBytes.
func readFrameBody(r io.Reader, n int) ([]byte, error) {
	if n <= frameChunk {
		b := make([]byte, n)
		if got, err := io.ReadFull(r, b); err != nil {
			return nil, truncated(got, n, err)
		}
		return b, nil
	}
	b := make([]byte, 0, frameChunk)
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(2*cap(b), n))
			copy(nb, b)
			b = nb
		}
		got, err := io.ReadFull(r, b[len(b):cap(b)])
		b = b[:len(b)+got]
		if err != nil {
			return nil, truncated(len(b), n, err)
		}
	}
	return b, nil
}

func truncated(got, want int, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: truncated after %d of %d bytes: %w", ErrMalformedFrame, got, want, err)
}

// encodeResponse builds a reply frame:
//
//	uint32 BE length of the rest
//	varint-delimited RpcResponseHeaderProto
//	varint-delimited response message (only if msg != nil, i.e. on SUCCESS)
func encodeResponse(h *hadooppb.RpcResponseHeaderProto, msg proto.Message) ([]byte, error) {
	hb, err := proto.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("rpc: encoding RpcResponseHeaderProto: %w", err)
	}
	var mb []byte
	size := protowire.SizeBytes(len(hb))
	if msg != nil {
		if mb, err = proto.Marshal(msg); err != nil {
			return nil, fmt.Errorf("rpc: encoding %s: %w", msg.ProtoReflect().Descriptor().Name(), err)
		}
		size += protowire.SizeBytes(len(mb))
	}
	if size > math.MaxInt32 {
		return nil, fmt.Errorf("rpc: reply of %d bytes exceeds a frame", size)
	}
	out := make([]byte, lengthPrefix, lengthPrefix+size)
	binary.BigEndian.PutUint32(out, uint32(size))
	out = protowire.AppendBytes(out, hb)
	if msg != nil {
		out = protowire.AppendBytes(out, mb)
	}
	return out, nil
}
