package rpc

import "errors"

// Sentinel errors. Errors returned or logged by this package wrap one of these
// (test with errors.Is) and add the connection, sizes or names involved.
var (
	// ErrInvalidOptions is wrapped by every problem Options.Validate reports.
	ErrInvalidOptions = errors.New("rpc: invalid options")
	// ErrServerClosed is returned by Serve after Close, and by Serve on a
	// closed Server.
	ErrServerClosed = errors.New("rpc: server closed")

	// ErrBadPreamble: the first 7 bytes of a connection are not "hrpc",
	// version, service class, auth protocol.
	ErrBadPreamble = errors.New("rpc: bad connection preamble")
	// ErrVersionMismatch: the preamble names an IPC version other than 9.
	ErrVersionMismatch = errors.New("rpc: unsupported IPC version")
	// ErrUnsupportedAuth: an auth protocol byte other than NONE or SASL, or a
	// SASL mechanism other than SIMPLE (Kerberos, tokens).
	ErrUnsupportedAuth = errors.New("rpc: unsupported authentication")
	// ErrFrameTooLarge: a frame length above Options.MaxFrameBytes.
	ErrFrameTooLarge = errors.New("rpc: frame too large")
	// ErrMalformedFrame: a truncated frame, a varint-delimited length that
	// runs past the end of its frame, a missing or trailing part.
	ErrMalformedFrame = errors.New("rpc: malformed frame")
	// ErrBadRPCHeader: an RpcRequestHeaderProto that does not decode or names
	// an operation or rpc kind the server does not implement.
	ErrBadRPCHeader = errors.New("rpc: invalid RPC request header")
	// ErrBadRequest: a RequestHeaderProto, connection context, SASL message or
	// call parameter that does not decode (including unset required fields).
	ErrBadRequest = errors.New("rpc: undecodable request")
	// ErrOutOfOrder: a packet the connection's state does not allow, such as
	// a call before the connection context or a second context.
	ErrOutOfOrder = errors.New("rpc: packet out of order")
	// ErrNoSuchProtocol: a connection context or call names another protocol
	// than Options.Protocol.
	ErrNoSuchProtocol = errors.New("rpc: no such protocol")
	// ErrNoSuchMethod: a call names a method not in Options.Methods.
	ErrNoSuchMethod = errors.New("rpc: no such method")
	// ErrUnauthorized: the connection context names no user, or
	// Options.Authorize refused the user it names.
	ErrUnauthorized = errors.New("rpc: unauthorized")
	// ErrHandler: a Method.Call panicked or returned no response.
	ErrHandler = errors.New("rpc: method handler failed")
)
