package rpc

import (
	"errors"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// Java exception classes named in replies. Java clients rebuild the named
// class from exceptionClassName and errorMsg (RemoteException), so each is a
// real class, chosen as Hadoop's Server.java chooses it for the same case.
const (
	// ClassIOException is the class of an error from Method.Call that does
	// not name one (Hadoop wraps handler failures as IOExceptions).
	ClassIOException = "java.io.IOException"

	classRuntimeException   = "java.lang.RuntimeException"
	classRpcServerException = "org.apache.hadoop.ipc.RpcServerException"
	classNoSuchMethod       = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	classNoSuchProtocol     = "org.apache.hadoop.ipc.RpcNoSuchProtocolException"
	classVersionMismatch    = "org.apache.hadoop.ipc.RPC$VersionMismatch"
	classIpcException       = "org.apache.hadoop.ipc.IpcException"
	classAccessControl      = "org.apache.hadoop.security.AccessControlException"
	classAuthorization      = "org.apache.hadoop.security.authorize.AuthorizationException"
	classSaslException      = "javax.security.sasl.SaslException"
)

// JavaClasser is implemented by errors that name the Java exception class a
// Hadoop client should see, e.g. "java.io.FileNotFoundException" or
// "org.apache.hadoop.security.AccessControlException". An error returned by
// Method.Call is searched for one with errors.As.
type JavaClasser interface {
	JavaClass() string
}

type errorCode = hadooppb.RpcResponseHeaderProto_RpcErrorCodeProto

// Error details (RpcHeader.proto RpcErrorCodeProto) used in replies.
const (
	errApplication         = hadooppb.RpcResponseHeaderProto_ERROR_APPLICATION
	errNoSuchMethod        = hadooppb.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD
	errNoSuchProtocol      = hadooppb.RpcResponseHeaderProto_ERROR_NO_SUCH_PROTOCOL
	errRPCServer           = hadooppb.RpcResponseHeaderProto_ERROR_RPC_SERVER
	errSerializingResponse = hadooppb.RpcResponseHeaderProto_ERROR_SERIALIZING_RESPONSE
	fatalInvalidRPCHeader  = hadooppb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER
	fatalDeserializing     = hadooppb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST
	fatalVersionMismatch   = hadooppb.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH
	fatalUnauthorized      = hadooppb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED
)

// Statuses, operations, kinds and SASL states the server reads or writes.
const (
	statusSuccess      = hadooppb.RpcResponseHeaderProto_SUCCESS
	statusError        = hadooppb.RpcResponseHeaderProto_ERROR
	statusFatal        = hadooppb.RpcResponseHeaderProto_FATAL
	opFinalPacket      = hadooppb.RpcRequestHeaderProto_RPC_FINAL_PACKET
	opCloseConnection  = hadooppb.RpcRequestHeaderProto_RPC_CLOSE_CONNECTION
	kindProtocolBuffer = hadooppb.RpcKindProto_RPC_PROTOCOL_BUFFER
	saslSuccess        = hadooppb.RpcSaslProto_SUCCESS
	saslNegotiate      = hadooppb.RpcSaslProto_NEGOTIATE
	saslInitiate       = hadooppb.RpcSaslProto_INITIATE
	saslWrap           = hadooppb.RpcSaslProto_WRAP
)

const (
	saslMethodSimple        = "SIMPLE"
	bridgeOnlySimpleMessage = "the HDFS bridge only does SIMPLE authentication (no Kerberos, no delegation tokens)"
)

// failure is a reply other than SUCCESS. An ERROR fails one call and keeps
// the connection; a FATAL reply is followed by closing the connection.
type failure struct {
	fatal bool
	code  errorCode
	class string // exceptionClassName
	msg   string // errorMsg: the plain message, without a "Class: " prefix
	err   error  // the Go error, wrapping a sentinel, for logs
}

func fatal(code errorCode, class, msg string, err error) *failure {
	return &failure{fatal: true, code: code, class: class, msg: msg, err: err}
}

func callError(code errorCode, class, msg string, err error) *failure {
	return &failure{code: code, class: class, msg: msg, err: err}
}

// callFailure translates an error returned by Method.Call into an ERROR
// reply: the class of the first JavaClasser in its chain, else
// java.io.IOException; the message is err.Error(); the detail is
// ERROR_APPLICATION (Server.java populateResponseParamsOnError).
func callFailure(err error) *failure {
	class := ClassIOException
	var jc JavaClasser
	if errors.As(err, &jc) && jc.JavaClass() != "" {
		class = jc.JavaClass()
	}
	return callError(errApplication, class, err.Error(), err)
}
