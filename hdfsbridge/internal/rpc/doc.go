// Package rpc is the server side of Hadoop IPC (the NameNode RPC port): it
// reads the connection preamble, answers SASL negotiation for SIMPLE
// authentication, reads the connection context, decodes calls, dispatches
// them to a method table and writes replies. It knows nothing of HDFS
// semantics: the bridge supplies a []Method for ClientNamenodeProtocol.
//
// # Usage
//
//	opts := rpc.DefaultOptions() // Protocol: rpc.ClientProtocol
//	opts.Methods = []rpc.Method{{
//		Name:       "getFileInfo",
//		NewRequest: func() proto.Message { return new(hadooppb.GetFileInfoRequestProto) },
//		Call: func(ctx context.Context, c *rpc.Conn, req proto.Message) (proto.Message, error) {
//			src := req.(*hadooppb.GetFileInfoRequestProto).GetSrc()
//			return lookup(ctx, c.User(), src) // an error with JavaClass() names the exception
//		},
//	}}
//	srv, err := rpc.New(opts)
//	go srv.Serve(ln) // returns rpc.ErrServerClosed after srv.Close()
//
// # Wire format
//
// Frames in both directions are a uint32 big-endian length and then
// varint-delimited protobuf messages:
//
//	client                                         server
//	"hrpc" 09 <service class> <auth: 00 | DF>  ->
//	[auth DF] {callId -33, RpcSaslProto NEGOTIATE} ->
//	                                           <- {callId -33 (0xFFFFFFDF), SUCCESS} RpcSaslProto{SUCCESS}
//	{callId -3} IpcConnectionContextProto      ->  (no reply)
//	{callId n} RequestHeaderProto <Req>        ->
//	                                           <- {callId n, SUCCESS} <Resp>
//	                                           <- {callId n, ERROR, class, msg, detail}   (connection stays)
//	{callId -4} (ping)                         ->  (no reply)
//	anything invalid                           ->
//	                                           <- {callId, FATAL, class, msg, detail}     then close
//
// Reply headers echo the request's callId as the same 32-bit pattern
// (requests carry sint32, replies uint32), its clientId and retryCount, and
// carry serverIpcVersionNum 9.
//
// # Connection states
//
//	preamble --auth NONE--> context --(-3)--> ready --(call)--> ready
//	    |                      ^
//	    +--auth SASL--> sasl --+  NEGOTIATE: reply SUCCESS (switch to SIMPLE)
//	                           |  INITIATE SIMPLE: no reply
//	                           +  INITIATE KERBEROS/TOKEN/...: FATAL_UNAUTHORIZED, close
//
// A context whose user Options.Authorize refuses gets no reply; the next
// frame, whatever it is, is answered FATAL FATAL_UNAUTHORIZED
// AuthorizationException, then the connection closes. Pings are accepted in
// every other state after the preamble. A call before the
// context, a second context, a context during SASL, an unknown negative
// callId, a missing or unsupported rpcOp or rpcKind, or an RPC header that
// does not decode is FATAL, as in Hadoop's Server.java. RPC_CLOSE_CONNECTION
// closes the connection without a reply. A wrong magic or version byte is
// answered, when the version byte is 9 or more, with FATAL
// FATAL_VERSION_MISMATCH (class org.apache.hadoop.ipc.RPC$VersionMismatch),
// and an HTTP GET with a short HTTP 404 text; either way the connection closes.
//
// Errors that fail only their call (status ERROR):
//
//	unknown methodName                     ERROR_NO_SUCH_METHOD   org.apache.hadoop.ipc.RpcNoSuchMethodException
//	declaringClassProtocolName mismatch    ERROR_NO_SUCH_PROTOCOL org.apache.hadoop.ipc.RpcNoSuchProtocolException
//	RequestHeaderProto/request undecodable ERROR_RPC_SERVER       org.apache.hadoop.ipc.RpcServerException
//	Method.Call error                      ERROR_APPLICATION      err's JavaClass(), else java.io.IOException
//	Method.Call panic                      ERROR_APPLICATION      java.lang.RuntimeException
//	response unset required field / nil    ERROR_SERIALIZING_RESPONSE java.io.IOException
//
// # Goroutines
//
//   - Serve's caller: the accept loop of one listener; it owns the listener
//     and closes it on return.
//   - One goroutine per connection (or ServeConn's caller): it owns the
//     connection's reader and state, reads one frame at a time, runs the
//     Method.Call on itself and writes the reply. Replies go out under a
//     per-connection write lock, so calls could later be dispatched
//     concurrently without interleaving frames.
//
// Close closes listeners and connections, then cancels every call's context
// and waits for the connection goroutines.
//
// # Bounds
//
// A frame longer than Options.MaxFrameBytes (default 64 MiB) closes the
// connection before anything is allocated for it; a large frame's buffer
// grows as its bytes arrive. Delimited lengths inside a frame are checked
// against the bytes left in it. Reads (preamble and each frame) and reply
// writes have a deadline of Options.IdleTimeout (default 10 minutes).
//
// # Caveats
//
//   - Authentication is SIMPLE only: the user is whatever the connection
//     context claims (effectiveUser, else realUser), and proxy users are not
//     checked against hadoop.proxyuser rules. Options.Authorize may refuse
//     a claim when the connection is set up (the bridge does, for isolated
//     actions on this host: hdfsbridge/internal/peer); the refusal is FATAL
//     FATAL_UNAUTHORIZED AuthorizationException, sent in answer to the
//     frame after the context (the client's first call) rather than to the
//     context's callId -3 as Hadoop does, since colinmarc/hdfs reports a
//     reply to -3 only as "unexpected sequence number" (Java clients close
//     the connection with the exception either way). Kerberos (GSSAPI) and
//     delegation-token (DIGEST-MD5) SASL are refused with a FATAL
//     AccessControlException naming the mechanism; a client that insists on
//     them cannot connect.
//   - No SASL QOP: no integrity or privacy wrapping (WRAP), no encryption.
//   - Only RPC_PROTOCOL_BUFFER calls (no Writable RPC), one protocol per
//     Server, IPC version 9 (Hadoop 2.x and 3.x clients) only.
//   - Calls on a connection are served one at a time, in order. Java clients
//     pipeline calls; they are answered in order, which they accept.
//   - A Method.Call that ignores its context delays Close.
package rpc
