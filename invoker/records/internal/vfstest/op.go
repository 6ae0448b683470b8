// Package vfstest holds file systems for testing package records: MemFS, an
// in-memory FS that can crash, keeping only what was synced (and any subset
// of the rest), and ErrFS, a wrapper that injects errors into any FS.
package vfstest

// Op names a file system operation.
type Op int

// Operations. The persistence operations, which MemFS counts for crash
// points, are Mkdir, Create, Rename, Remove, SyncDir, Write, Truncate and
// Sync.
const (
	OpMkdir Op = iota
	OpCreate
	OpOpen
	OpRename
	OpRemove
	OpReadDir
	OpSyncDir
	OpLock
	OpRead
	OpWrite
	OpSize
	OpTruncate
	OpSync
	OpClose
)

func (o Op) String() string {
	return [...]string{"mkdir", "create", "open", "rename", "remove", "readdir", "syncdir",
		"lock", "read", "write", "size", "truncate", "sync", "close"}[o]
}
