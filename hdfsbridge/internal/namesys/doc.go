// Package namesys is the HDFS namespace of the bridge: the directory tree of a
// PMEM namespace (<data>/fs) seen as an HDFS file system, with HDFS owners,
// groups, permissions, leases, generation stamps and blocks.
//
// # One tree, shared with functions
//
// There is no separate metadata image. An HDFS path /a/b is the file or
// directory Root/a/b, the same one an action reaches through the SDK's files
// (MARVEL_FILES_DIR is <data>/fs/<namespace>), so a file written by either side
// is seen by the other with no copy. What POSIX keeps, the file system keeps:
// existence, names, length, the permission bits (chmod is a real chmod), mtime
// and atime (setTimes is a real utimens). What HDFS adds and POSIX has no room
// for lives in one extended attribute per inode, user.marvel.hdfs: the HDFS
// owner and group, the generation stamp, the block size and, while a file is
// written, its lease holder. An inode without the attribute (an action's file)
// belongs to the namespace it lies under (/guest/... is owned by "guest";
// "/" by the superuser), in the default group, with the default block size.
//
// # Crash consistency
//
// Every change is made of single atomic file-system operations, ordered so
// that a crash between any two leaves either the old or the new state, and
// each acknowledged change is fsynced (file and parent directories) before the
// call returns:
//
//   - mkdirs and create build the new inode under a hidden temporary name
//     (".marvel-tmp-…") with its attribute set and fsynced, then rename it into
//     place (never replacing, except create with OVERWRITE over a file);
//   - rename is rename(2) (renameat2 with RENAME_NOREPLACE unless HDFS says to
//     overwrite), so an inode is never in both places or neither;
//   - a recursive delete first renames the directory into the hidden trash
//     (Root/.marvel-trash), which is the commit point, then removes it;
//   - setPermission, setTimes, setOwner and complete change one inode with one
//     call (fchmod, futimens, fsetxattr), then fsync it.
//
// Open (recovery) removes temporaries and empties the trash. Files left under
// construction by a bridge that died are closed lazily: a lease holder that
// this process does not know has no lease. TestCrashPoints stops the sequence
// after every one of its operations and checks these rules.
//
// # Safety
//
// Paths are checked (absolute, no "." or ".." or empty components, no
// component of the reserved ".marvel-" prefix, length bounds) before anything
// is touched, and every file-system access goes through openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS from a descriptor of Root, so neither a
// symlink an action planted nor a rename race reaches outside Root. Symlinks,
// devices and sockets in the tree are invisible to HDFS.
package namesys
