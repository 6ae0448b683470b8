//go:build unix

package archive

import "syscall"

const (
	// oNoFollow refuses to open a symbolic link as the last path component.
	oNoFollow = syscall.O_NOFOLLOW
	// oNonBlock keeps IsExecutable from blocking on a FIFO.
	oNonBlock = syscall.O_NONBLOCK
)
