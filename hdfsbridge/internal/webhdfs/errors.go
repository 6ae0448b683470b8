package webhdfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

// Java classes WebHDFS names that namesys does not.
const (
	classIllegalArgument = "java.lang.IllegalArgumentException"
	classSecurity        = "java.lang.SecurityException"
	classAuthorization   = "org.apache.hadoop.security.authorize.AuthorizationException"
	classEOF             = "java.io.EOFException"
	classRuntime         = "java.lang.RuntimeException"
)

// ioExceptions are the classes known to extend java.io.IOException that have
// no status of their own: Hadoop answers them with 403.
var ioExceptions = map[string]bool{
	namesys.ClassIO:                                                    true,
	namesys.ClassFileAlreadyExists:                                     true,
	namesys.ClassPathIsNotEmptyDir:                                     true,
	namesys.ClassParentNotDirectory:                                    true,
	namesys.ClassAlreadyBeingCreated:                                   true,
	namesys.ClassLeaseExpired:                                          true,
	namesys.ClassSnapshot:                                              true,
	namesys.ClassRecoveryInProgress:                                    true,
	classEOF:                                                           true,
	"org.apache.hadoop.fs.PathIOException":                             true,
	"org.apache.hadoop.fs.PathNotFoundException":                       true,
	"org.apache.hadoop.fs.InvalidRequestException":                     true,
	"org.apache.hadoop.fs.UnresolvedLinkException":                     true,
	"org.apache.hadoop.hdfs.protocol.QuotaExceededException":           true,
	"org.apache.hadoop.hdfs.protocol.NSQuotaExceededException":         true,
	"org.apache.hadoop.hdfs.protocol.DSQuotaExceededException":         true,
	"org.apache.hadoop.hdfs.server.namenode.SafeModeException":         true,
	"org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException": true,
	"org.apache.hadoop.ipc.StandbyException":                           true,
	"org.apache.hadoop.ipc.RetriableException":                         true,
}

// statusOf is the HTTP status Hadoop's WebHDFS gives an exception class.
func statusOf(class string) int {
	switch class {
	case namesys.ClassFileNotFound:
		return http.StatusNotFound
	case namesys.ClassAccessControl, classSecurity, classAuthorization:
		return http.StatusForbidden
	case classIllegalArgument, namesys.ClassIllegalArgument, namesys.ClassInvalidPath, namesys.ClassUnsupported:
		return http.StatusBadRequest
	}
	if ioExceptions[class] {
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// simpleName is a Java class's name without its package.
func simpleName(class string) string {
	return class[strings.LastIndexByte(class, '.')+1:]
}

type remoteException struct {
	Exception     string `json:"exception"`
	JavaClassName string `json:"javaClassName"`
	Message       string `json:"message"`
}

// errf is a failure of class with a formatted message.
func errf(class, format string, args ...any) error {
	return &namesys.Error{Class: class, Msg: fmt.Sprintf(format, args...)}
}

// errTooLarge is a body beyond Options.MaxBodyBytes.
type errTooLarge struct{ limit int64 }

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("the request body is larger than this server's limit of %d bytes", e.limit)
}

// writeError answers with err as a RemoteException and the status of its
// class.
func writeError(w http.ResponseWriter, err error) int {
	class := namesys.ClassOf(err)
	status := statusOf(class)
	msg := err.Error()
	var big *errTooLarge
	var mbe *http.MaxBytesError
	var me *methodError
	switch {
	case errors.As(err, &me):
		status, class = http.StatusMethodNotAllowed, namesys.ClassUnsupported
	case errors.As(err, &big):
		status, class, msg = http.StatusRequestEntityTooLarge, namesys.ClassIO, big.Error()
	case errors.As(err, &mbe):
		big = &errTooLarge{limit: mbe.Limit}
		status, class, msg = http.StatusRequestEntityTooLarge, namesys.ClassIO, big.Error()
	}
	writeRemote(w, status, class, msg)
	return status
}

func writeRemote(w http.ResponseWriter, status int, class, msg string) {
	body, _ := json.Marshal(struct {
		RemoteException remoteException `json:"RemoteException"`
	}{remoteException{Exception: simpleName(class), JavaClassName: class, Message: msg}})
	h := w.Header()
	h.Del("Location")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
