package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// After a FATAL reply the server half-closes and reads (and drops) what the
// client already sent, for at most this long and this much, so that closing
// does not reset the connection before the client has read the reply.
const (
	lingerTimeout  = 500 * time.Millisecond
	lingerMaxBytes = 1 << 20
	readBufferSize = 16 << 10
)

// httpReply answers a client that sends an HTTP request to the IPC port, as
// Hadoop's Server does (RECEIVED_HTTP_REQ_RESPONSE), with our own wording.
const httpReply = "HTTP/1.1 404 Not Found\r\n" +
	"Content-Type: text/plain\r\n" +
	"Connection: close\r\n\r\n" +
	"This is the Hadoop IPC (RPC) port of the HDFS bridge, not an HTTP port. " +
	"Use the WebHDFS port for HTTP.\r\n"

// errCloseRequested ends a connection whose client sent RPC_CLOSE_CONNECTION.
var errCloseRequested = errors.New("rpc: client asked to close the connection")

type connState uint8

const (
	stateSASL    connState = iota // preamble asked for SASL: NEGOTIATE or INITIATE next
	stateContext                  // the connection context (callId -3) next
	stateReady                    // calls
	// stateRefused: Options.Authorize refused the context's user; the next
	// frame is answered with the refusal (see connectionContext).
	stateRefused
)

// Conn is one client connection. Method.Call receives it to learn who is
// calling; it is valid only during the call.
type Conn struct {
	srv *Server
	nc  net.Conn
	id  uint64

	// Owned by the connection goroutine.
	br       *bufio.Reader
	lg       *slog.Logger
	state    connState
	sasl     bool // the preamble's auth protocol was SASL
	saslDone bool // SASL switched to SIMPLE

	// Set from the connection context before the first call, by the
	// connection goroutine; read-only afterwards.
	user     string
	protocol string
	clientID []byte
	refused  *failure // Options.Authorize's refusal, in stateRefused

	wmu sync.Mutex // serialises writes to nc: one reply is one Write
}

// User is the connection context's effectiveUser, or its realUser when
// effectiveUser is empty. Under SIMPLE authentication it is what the client
// claims.
func (c *Conn) User() string { return c.user }

// ClientID is the clientId of the connection context's RPC header (16 bytes
// from Java and colinmarc/hdfs clients); a copy.
func (c *Conn) ClientID() []byte { return bytes.Clone(c.clientID) }

// RemoteAddr is the client's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (s *Server) newConn(nc net.Conn) *Conn {
	id := s.nextID.Add(1)
	remote := ""
	if a := nc.RemoteAddr(); a != nil {
		remote = a.String()
	}
	return &Conn{
		srv: s,
		nc:  nc,
		id:  id,
		br:  bufio.NewReaderSize(nc, readBufferSize),
		lg:  s.lg.With("conn", id, "remote", remote),
	}
}

// serve runs the connection to its end and closes it.
func (c *Conn) serve() {
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	defer func() { _ = c.nc.Close() }()

	c.lg.Debug("connection opened")
	err := c.run(ctx)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errCloseRequested):
		c.lg.Debug("connection closed", "reason", err)
	case ctx.Err() != nil, errors.Is(err, net.ErrClosed):
		c.lg.Debug("connection closed", "reason", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.lg.Info("connection closed", "reason", "idle", "idle_timeout", c.srv.opts.IdleTimeout)
	default:
		c.lg.Warn("connection closed", "reason", err)
	}
}

func (c *Conn) run(ctx context.Context) error {
	if err := c.readPreamble(); err != nil {
		return err
	}
	for {
		frame, err := c.readFrame()
		if err != nil {
			return err
		}
		if err := c.handleFrame(ctx, frame); err != nil {
			return err
		}
	}
}

func (c *Conn) readDeadline() { _ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout)) }

// readPreamble reads "hrpc", version, service class and auth protocol
// (Server.java Connection.readAndProcess).
func (c *Conn) readPreamble() error {
	c.readDeadline()
	var p [preambleLen]byte
	if n, err := io.ReadFull(c.br, p[:]); err != nil {
		if n == 0 && err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("%w: %d of %d bytes: %w", ErrBadPreamble, n, preambleLen, err)
	}
	version := int8(p[4]) // a signed byte, as Java reads it
	switch {
	case string(p[:4]) == "GET ":
		c.writeRaw([]byte(httpReply))
		c.lingerClose()
		return fmt.Errorf("%w: an HTTP request on the IPC port", ErrBadPreamble)
	case [4]byte(p[:4]) != magic:
		return c.badVersion(version, fmt.Errorf("%w: magic %q", ErrBadPreamble, p[:4]))
	case version != ipcVersion:
		return c.badVersion(version, fmt.Errorf("%w: client version %d", ErrVersionMismatch, version))
	}
	switch p[6] {
	case authNone:
		c.state = stateContext
	case authSASL:
		c.state, c.sasl = stateSASL, true
	default:
		return c.fail(callIDUnknown, retryUnknown, nil, fatal(fatalUnauthorized, classIpcException,
			fmt.Sprintf("Unknown auth protocol:%d", int8(p[6])),
			fmt.Errorf("%w: auth protocol byte %#02x", ErrUnsupportedAuth, p[6])))
	}
	c.lg.Debug("preamble", "service_class", p[5], "sasl", c.sasl)
	return nil
}

// badVersion answers a wrong magic or version as Server.java's
// setupBadVersionResponse: clients of IPC version 9 and later read a FATAL
// VersionMismatch reply; older ones get nothing we could encode for them.
func (c *Conn) badVersion(version int8, err error) error {
	if version < ipcVersion {
		return err
	}
	msg := fmt.Sprintf("Server IPC version %d cannot communicate with client version %d", ipcVersion, version)
	return c.fail(callIDUnknown, retryUnknown, nil, fatal(fatalVersionMismatch, classVersionMismatch, msg, err))
}

// readFrame reads one length-prefixed request frame, refusing one longer
// than MaxFrameBytes before allocating anything for it.
func (c *Conn) readFrame() ([]byte, error) {
	c.readDeadline()
	var lb [lengthPrefix]byte
	if n, err := io.ReadFull(c.br, lb[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, io.EOF
		}
		return nil, truncated(n, lengthPrefix, err)
	}
	n := binary.BigEndian.Uint32(lb[:])
	if limit := c.srv.opts.MaxFrameBytes; uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, limit)
	}
	c.readDeadline()
	return readFrameBody(c.br, int(n))
}

// handleFrame serves one frame. A non-nil error ends the connection (after
// any FATAL reply has been sent).
func (c *Conn) handleFrame(ctx context.Context, frame []byte) error {
	hdr, rh, body, perr := parseCall(frame)
	if c.state == stateRefused {
		if hdr == nil {
			return c.fail(callIDConnectionContext, retryUnknown, c.clientID, c.refused)
		}
		return c.failCall(hdr, c.refused)
	}
	if hdr == nil {
		return c.fail(callIDUnknown, retryUnknown, nil, fatal(fatalDeserializing, classRpcServerException,
			"Error decoding RpcRequestHeaderProto: "+perr.Error(), perr))
	}
	callID := hdr.GetCallId()
	// Server.java checkRpcHeaders.
	switch {
	case hdr.RpcOp == nil:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"IPC Server: No rpc op in rpcRequestHeader", fmt.Errorf("%w: no rpcOp", ErrBadRPCHeader)))
	case hdr.GetRpcOp() == opCloseConnection:
		return errCloseRequested
	case hdr.GetRpcOp() != opFinalPacket:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"IPC Server does not implement rpc header operation "+hdr.GetRpcOp().String(),
			fmt.Errorf("%w: rpcOp %v", ErrBadRPCHeader, hdr.GetRpcOp())))
	case hdr.RpcKind == nil:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"IPC Server: No rpc kind in rpcRequestHeader", fmt.Errorf("%w: no rpcKind", ErrBadRPCHeader)))
	case hdr.GetRpcKind() != kindProtocolBuffer:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"Unknown rpc kind in rpc header "+hdr.GetRpcKind().String(),
			fmt.Errorf("%w: rpcKind %v", ErrBadRPCHeader, hdr.GetRpcKind())))
	}
	if callID < 0 {
		if perr != nil {
			return c.failCall(hdr, fatal(fatalDeserializing, classRpcServerException,
				fmt.Sprintf("Error decoding out-of-band message #%d: %s", callID, perr), perr))
		}
		return c.outOfBand(hdr, body)
	}
	if c.state != stateReady {
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"Connection context not established",
			fmt.Errorf("%w: call %d before the connection context", ErrOutOfOrder, callID)))
	}
	if perr != nil {
		return c.replyError(hdr, callError(errRPCServer, classRpcServerException,
			"IPC server unable to read call parameters: "+perr.Error(), perr))
	}
	return c.dispatch(ctx, hdr, rh, body)
}

// outOfBand serves a packet with a negative callId.
func (c *Conn) outOfBand(hdr *hadooppb.RpcRequestHeaderProto, body []byte) error {
	switch callID := hdr.GetCallId(); callID {
	case callIDPing:
		c.lg.Debug("ping")
		return nil
	case callIDConnectionContext:
		return c.connectionContext(hdr, body)
	case callIDSASL:
		return c.saslPacket(hdr, body)
	default:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			fmt.Sprintf("Unknown out of band call #%d", callID),
			fmt.Errorf("%w: unknown out-of-band callId %d", ErrBadRPCHeader, callID)))
	}
}

// connectionContext records the user and protocol of the connection
// (Server.java processConnectionContext).
func (c *Conn) connectionContext(hdr *hadooppb.RpcRequestHeaderProto, body []byte) error {
	switch c.state {
	case stateSASL:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"Connection header sent during SASL negotiation",
			fmt.Errorf("%w: connection context during SASL negotiation", ErrOutOfOrder)))
	case stateReady:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"Connection context already processed",
			fmt.Errorf("%w: second connection context", ErrOutOfOrder)))
	}
	cc := new(hadooppb.IpcConnectionContextProto)
	if err := proto.Unmarshal(body, cc); err != nil {
		return c.failCall(hdr, fatal(fatalDeserializing, classRpcServerException,
			"Error decoding IpcConnectionContextProto: "+err.Error(),
			fmt.Errorf("%w: IpcConnectionContextProto: %w", ErrBadRequest, err)))
	}
	protocol := c.srv.opts.Protocol
	if cc.Protocol != nil {
		if p := cc.GetProtocol(); p != protocol {
			return c.failCall(hdr, fatal(errNoSuchProtocol, classNoSuchProtocol, "Unknown protocol: "+p,
				fmt.Errorf("%w: connection context names %q, serving %q", ErrNoSuchProtocol, p, protocol)))
		}
	}
	user := cc.GetUserInfo().GetEffectiveUser()
	if user == "" {
		user = cc.GetUserInfo().GetRealUser()
	}
	if user == "" {
		return c.failCall(hdr, fatal(fatalUnauthorized, classAccessControl, "Connection context names no user",
			fmt.Errorf("%w: connection context names no user", ErrUnauthorized)))
	}
	if auth := c.srv.opts.Authorize; auth != nil {
		if err := auth(c.nc, user, cc.GetUserInfo().GetRealUser()); err != nil {
			// Hadoop answers the context itself (callId -3). Clients send
			// their first call right behind the context without waiting,
			// and colinmarc/hdfs drops a reply to -3 as "unexpected
			// sequence number" without its text; Java closes the
			// connection with the RemoteException whichever callId a
			// FATAL reply carries. So the refusal answers the next frame,
			// the first call, and every client reports it.
			c.refused = fatal(fatalUnauthorized, classAuthorization, err.Error(),
				fmt.Errorf("%w: %w", ErrUnauthorized, err))
			c.clientID = bytes.Clone(hdr.GetClientId())
			c.state = stateRefused
			c.lg.Info("connection refused", "claimed_user", user, "err", err)
			return nil
		}
	}
	c.user, c.protocol, c.clientID = user, protocol, bytes.Clone(hdr.GetClientId())
	c.state = stateReady
	c.lg = c.lg.With("user", user)
	c.lg.Debug("connection context", "real_user", cc.GetUserInfo().GetRealUser(), "protocol", protocol)
	return nil
}

// dispatch serves one call and writes its reply.
func (c *Conn) dispatch(ctx context.Context, hdr *hadooppb.RpcRequestHeaderProto, rh *hadooppb.RequestHeaderProto, body []byte) error {
	name, callID := rh.GetMethodName(), hdr.GetCallId()
	// ProtobufRpcEngine2.Server: getProtocolImpl, then findMethodByName, then
	// the request is parsed.
	if p := rh.GetDeclaringClassProtocolName(); p != c.protocol {
		return c.replyError(hdr, callError(errNoSuchProtocol, classNoSuchProtocol, "Unknown protocol: "+p,
			fmt.Errorf("%w: call %d (%s) names %q", ErrNoSuchProtocol, callID, name, p)))
	}
	m := c.srv.methods[name]
	if m == nil {
		return c.replyError(hdr, callError(errNoSuchMethod, classNoSuchMethod,
			fmt.Sprintf("Unknown method %s called on %s protocol.", name, c.protocol),
			fmt.Errorf("%w: %q", ErrNoSuchMethod, name)))
	}
	req := m.NewRequest()
	if req == nil {
		return c.replyError(hdr, callError(errRPCServer, classRpcServerException,
			"IPC server has no request type for "+name,
			fmt.Errorf("%w: %s: NewRequest returned nil", ErrHandler, name)))
	}
	if err := proto.Unmarshal(body, req); err != nil {
		return c.replyError(hdr, callError(errRPCServer, classRpcServerException,
			"IPC server unable to read call parameters: "+err.Error(),
			fmt.Errorf("%w: %s request: %w", ErrBadRequest, name, err)))
	}

	start := time.Now()
	resp, err := c.invoke(ctx, m, req)
	if err != nil {
		return c.replyError(hdr, callFailure(err))
	}
	if resp == nil {
		return c.replyError(hdr, callError(errSerializingResponse, ClassIOException,
			"IPC server got no response from "+name,
			fmt.Errorf("%w: %s returned neither a response nor an error", ErrHandler, name)))
	}
	frame, err := encodeResponse(replyHeader(hdr, statusSuccess), resp)
	if err != nil {
		// Server.java setupResponse: a response that cannot be serialised
		// becomes an ERROR_SERIALIZING_RESPONSE reply.
		return c.replyError(hdr, callError(errSerializingResponse, ClassIOException,
			"IPC server unable to serialize the response of "+name+": "+err.Error(),
			fmt.Errorf("%w: %s: %w", ErrHandler, name, err)))
	}
	c.lg.Debug("call", "call", callID, "method", name, "elapsed", time.Since(start))
	return c.writeFrame(frame)
}

// handlerPanic is the error of a Method.Call that panicked.
type handlerPanic struct {
	method string
	value  any
}

func (e *handlerPanic) Error() string {
	return fmt.Sprintf("%v: %s panicked: %v", ErrHandler, e.method, e.value)
}
func (e *handlerPanic) Unwrap() error     { return ErrHandler }
func (e *handlerPanic) JavaClass() string { return classRuntimeException }

// invoke runs m.Call, turning a panic into an error so that one bad call
// fails with an ERROR reply instead of taking the process down.
func (c *Conn) invoke(ctx context.Context, m *Method, req proto.Message) (resp proto.Message, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.lg.Error("method panicked", "method", m.Name, "panic", v)
			resp, err = nil, &handlerPanic{method: m.Name, value: v}
		}
	}()
	return m.Call(ctx, c, req)
}

// replyHeader builds the header of a reply to hdr: callId echoed as the same
// 32-bit pattern (sint32 in requests, uint32 in replies), clientId and
// retryCount echoed.
func replyHeader(hdr *hadooppb.RpcRequestHeaderProto, status hadooppb.RpcResponseHeaderProto_RpcStatusProto) *hadooppb.RpcResponseHeaderProto {
	return newReplyHeader(hdr.GetCallId(), hdr.GetRetryCount(), hdr.GetClientId(), status)
}

func newReplyHeader(callID, retry int32, clientID []byte, status hadooppb.RpcResponseHeaderProto_RpcStatusProto) *hadooppb.RpcResponseHeaderProto {
	if clientID == nil {
		clientID = []byte{} // RpcConstants.DUMMY_CLIENT_ID: present, empty
	}
	return &hadooppb.RpcResponseHeaderProto{
		CallId:              proto.Uint32(uint32(callID)),
		Status:              status.Enum(),
		ServerIpcVersionNum: proto.Uint32(ipcVersion),
		ClientId:            clientID,
		RetryCount:          proto.Int32(retry),
	}
}

func failureHeader(callID, retry int32, clientID []byte, f *failure) *hadooppb.RpcResponseHeaderProto {
	status := statusError
	if f.fatal {
		status = statusFatal
	}
	h := newReplyHeader(callID, retry, clientID, status)
	h.ExceptionClassName = proto.String(f.class)
	h.ErrorMsg = proto.String(f.msg)
	h.ErrorDetail = f.code.Enum()
	return h
}

// replyError answers a call with status ERROR; the connection stays open
// unless the reply cannot be written.
func (c *Conn) replyError(hdr *hadooppb.RpcRequestHeaderProto, f *failure) error {
	c.lg.Debug("error reply", "call", hdr.GetCallId(), "class", f.class, "err", f.err)
	frame, err := encodeResponse(failureHeader(hdr.GetCallId(), hdr.GetRetryCount(), hdr.GetClientId(), f), nil)
	if err != nil {
		return err
	}
	return c.writeFrame(frame)
}

// failCall sends a FATAL reply to hdr and closes the connection.
func (c *Conn) failCall(hdr *hadooppb.RpcRequestHeaderProto, f *failure) error {
	return c.fail(hdr.GetCallId(), hdr.GetRetryCount(), hdr.GetClientId(), f)
}

// fail sends a FATAL reply, half-closes and closes the connection, and
// returns the failure's error to end the connection goroutine.
func (c *Conn) fail(callID, retry int32, clientID []byte, f *failure) error {
	frame, err := encodeResponse(failureHeader(callID, retry, clientID, f), nil)
	if err == nil {
		err = c.writeFrame(frame)
	}
	if err != nil {
		c.lg.Debug("fatal reply not sent", "err", err)
	}
	c.lingerClose()
	return f.err
}

// writeFrame writes one reply frame with a single Write under wmu.
func (c *Conn) writeFrame(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
	if _, err := c.nc.Write(frame); err != nil {
		return fmt.Errorf("rpc: writing a %d-byte reply: %w", len(frame), err)
	}
	return nil
}

func (c *Conn) writeRaw(b []byte) {
	if err := c.writeFrame(b); err != nil {
		c.lg.Debug("reply not sent", "err", err)
	}
}

// lingerClose half-closes the connection, drops what the client still sends
// for a short while, then closes it, so that a FATAL reply reaches a client
// that had more requests in flight (Server.java shuts output down first too).
func (c *Conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
		_, _ = io.CopyN(io.Discard, c.br, lingerMaxBytes)
	}
	_ = c.nc.Close()
}
