package namesys

import (
	"errors"
	"fmt"
	"syscall"
)

// Java exception classes, as a Hadoop client rebuilds them from an RPC error
// (and WebHDFS names them in RemoteException).
const (
	ClassFileNotFound        = "java.io.FileNotFoundException"
	ClassFileAlreadyExists   = "org.apache.hadoop.fs.FileAlreadyExistsException"
	ClassAccessControl       = "org.apache.hadoop.security.AccessControlException"
	ClassPathIsNotEmptyDir   = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	ClassParentNotDirectory  = "org.apache.hadoop.fs.ParentNotDirectoryException"
	ClassAlreadyBeingCreated = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	ClassLeaseExpired        = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	ClassInvalidPath         = "org.apache.hadoop.fs.InvalidPathException"
	ClassIllegalArgument     = "org.apache.hadoop.HadoopIllegalArgumentException"
	ClassIO                  = "java.io.IOException"
	ClassUnsupported         = "java.lang.UnsupportedOperationException"
	ClassSnapshot            = "org.apache.hadoop.hdfs.protocol.SnapshotException"
	ClassRecoveryInProgress  = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
)

// Error is a namespace failure with the Java exception class an HDFS client
// should see. The rpc package finds it through JavaClass; WebHDFS maps the
// class to an HTTP status.
type Error struct {
	Class string
	Msg   string
	Err   error // the underlying cause, if any
}

func (e *Error) Error() string { return e.Msg }

// JavaClass names the exception class.
func (e *Error) JavaClass() string { return e.Class }

func (e *Error) Unwrap() error { return e.Err }

func newErr(class, format string, args ...any) *Error {
	return &Error{Class: class, Msg: fmt.Sprintf(format, args...)}
}

func notFound(p string) *Error {
	return newErr(ClassFileNotFound, "File does not exist: %s", p)
}

// ClassOf is the Java class of err: its *Error's class, or java.io.IOException.
func ClassOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassIO
}

// ioErr turns a failed file-system call on path p into an *Error: a full
// device says so plainly, everything else is an IOException naming the call.
func ioErr(op, p string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &Error{Class: ClassIO, Err: err, Msg: fmt.Sprintf("%s %s: no space left in the PMEM namespace (%v); free space by deleting files or grow the namespace's file system", op, p, err)}
	case errors.Is(err, syscall.ENOENT):
		return &Error{Class: ClassFileNotFound, Err: err, Msg: fmt.Sprintf("File does not exist: %s", p)}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &Error{Class: ClassAccessControl, Err: err, Msg: fmt.Sprintf("%s %s: the bridge's process has no access to the backing file (%v); run the bridge as the user that owns the data directory", op, p, err)}
	}
	return &Error{Class: ClassIO, Err: err, Msg: fmt.Sprintf("%s %s: %v", op, p, err)}
}
