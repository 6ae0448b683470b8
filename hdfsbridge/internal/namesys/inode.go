package namesys

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// attrName is the extended attribute that holds what HDFS knows of an inode
// beyond POSIX.
const attrName = "user.marvel.hdfs"

// maxAttrBytes bounds the attribute read back; a longer one is damage.
const maxAttrBytes = 4096

// attrs are the HDFS-only facts of an inode. The zero value is an inode the
// bridge never touched (an action's file).
type attrs struct {
	Owner     string `json:"o,omitempty"`
	Group     string `json:"g,omitempty"`
	GenStamp  uint64 `json:"gs,omitempty"`
	BlockSize int64  `json:"bs,omitempty"`
	Holder    string `json:"uc,omitempty"` // lease holder while under construction
	// Birth is the generation stamp the file was born with (its creation
	// through HDFS, or its birth time in microseconds for a file an action
	// wrote). Block IDs name inodes, and inode numbers are reused: a block
	// whose stamp is older than the file's birth belongs to a file that is
	// gone.
	Birth uint64 `json:"b,omitempty"`
}

// btimeMicros is the birth time of the inode behind fd in microseconds, or
// 0 where the file system does not record it.
func btimeMicros(fd int) uint64 {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &stx); err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return uint64(stx.Btime.Sec)*1e6 + uint64(stx.Btime.Nsec)/1e3
}

// birthOf is the birth stamp of the file behind fd with attributes a.
func birthOf(fd int, a attrs) uint64 {
	if a.Birth != 0 {
		return a.Birth
	}
	return btimeMicros(fd)
}

// inode is one opened component of a path: an O_PATH descriptor (so opening
// needs no permission and never follows a symlink) and what it describes.
type inode struct {
	fd    int
	st    unix.Stat_t
	a     attrs
	hasA  bool
	owner string // effective owner and group (attrs or the defaults)
	group string
}

func (n *inode) isDir() bool  { return n.st.Mode&unix.S_IFMT == unix.S_IFDIR }
func (n *inode) isFile() bool { return n.st.Mode&unix.S_IFMT == unix.S_IFREG }

// perm is the permission bits with the sticky bit (HDFS's 10 bits).
func (n *inode) perm() uint32 { return n.st.Mode & 0o1777 }

func (n *inode) ino() uint64 { return n.st.Ino }

func (n *inode) close() {
	if n != nil && n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}

// procPath reaches the inode through its descriptor for the calls that have
// no f-variant usable on an O_PATH descriptor (xattrs, chmod, utimens).
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openAt opens name (one component, or "." for dirfd itself) beneath dirfd
// without following symlinks anywhere.
func openAt(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Mode:    uint64(mode),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// readAttrs loads the attribute of the inode behind fd. ENODATA is an inode
// without one.
func readAttrs(fd int) (attrs, bool, error) {
	var buf [maxAttrBytes]byte
	n, err := fgetxattr(fd, attrName, buf[:])
	if err != nil {
		n = 0
	}
	return decodeAttrs(buf[:n], err)
}

// readAttrsAt loads the attribute of the inode opened as fd from name
// beneath dirfd.
func readAttrsAt(dirfd int, name string, fd int) (attrs, bool, error) {
	var buf [maxAttrBytes]byte
	n, err := getxattrAt(dirfd, name, attrName, buf[:])
	if err == unix.ENOSYS {
		n, err = fgetxattr(fd, attrName, buf[:])
	}
	if err != nil {
		n = 0
	}
	return decodeAttrs(buf[:n], err)
}

func decodeAttrs(buf []byte, err error) (attrs, bool, error) {
	n := len(buf)
	switch {
	case err == unix.ENODATA || err == unix.ENOTSUP:
		return attrs{}, false, nil
	case err == unix.ERANGE:
		return attrs{}, false, fmt.Errorf("attribute %s is longer than %d bytes", attrName, maxAttrBytes)
	case err != nil:
		return attrs{}, false, err
	}
	var a attrs
	if err := json.Unmarshal(buf[:n], &a); err != nil {
		return attrs{}, false, fmt.Errorf("attribute %s does not decode (%v); remove it with setfattr -x to reset the inode's HDFS owner", attrName, err)
	}
	return a, true, nil
}

// getxattrat (Linux 6.13) reads an attribute of a name beneath a directory
// descriptor without a path through /proc; before it, and for descriptors
// opened O_PATH (which fgetxattr refuses), the descriptor's /proc/self/fd
// link is the way in.
var noGetxattrat atomic.Bool

// xattrArgs is struct xattr_args.
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// getxattrAt reads attribute attr of name beneath dirfd, not following a
// symlink. ENOSYS: the kernel is older than 6.13.
func getxattrAt(dirfd int, name, attr string, buf []byte) (int, error) {
	if noGetxattrat.Load() {
		return 0, unix.ENOSYS
	}
	np, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	ap, err := unix.BytePtrFromString(attr)
	if err != nil {
		return 0, err
	}
	args := xattrArgs{value: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))), size: uint32(len(buf))}
	n, _, e := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(np)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(ap)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(buf)
	if e == unix.ENOSYS {
		noGetxattrat.Store(true)
	}
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// fgetxattr reads an attribute through any descriptor.
func fgetxattr(fd int, name string, buf []byte) (int, error) {
	n, err := unix.Fgetxattr(fd, name, buf)
	if err == unix.EBADF { // O_PATH
		return unix.Getxattr(procPath(fd), name, buf)
	}
	return n, err
}

func encodeAttrs(a attrs) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic(err) // plain struct of strings and numbers
	}
	return b
}

var errCrashed = errors.New("namesys: crashed (test crash point)")
