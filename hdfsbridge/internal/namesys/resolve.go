package namesys

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// walked is a path resolved from the root as far as it exists.
type walked struct {
	p     Path
	nodes []*inode // the root, then one per existing component, in order
	// notDir is set when a component other than the last is not a
	// directory; the walk stopped there.
	notDir bool
}

// exists reports whether the whole path was found.
func (w *walked) exists() bool { return !w.notDir && len(w.nodes) == len(w.p.comps)+1 }

// target is the inode of the whole path; only when exists.
func (w *walked) target() *inode { return w.nodes[len(w.nodes)-1] }

// parent is the inode of the path's parent directory, if it was found.
func (w *walked) parent() *inode {
	if w.p.IsRoot() || len(w.nodes) < len(w.p.comps) || w.notDir {
		return nil
	}
	return w.nodes[len(w.p.comps)-1]
}

// last is the deepest inode found.
func (w *walked) last() *inode { return w.nodes[len(w.nodes)-1] }

// lastPath is the path of last.
func (w *walked) lastPath() Path {
	return Path{s: pathOf(w.p.comps[:len(w.nodes)-1]), comps: w.p.comps[:len(w.nodes)-1]}
}

func pathOf(comps []string) string {
	if len(comps) == 0 {
		return "/"
	}
	s := ""
	for _, c := range comps {
		s += "/" + c
	}
	return s
}

func (w *walked) close() {
	for _, n := range w.nodes {
		n.close()
	}
	w.nodes = nil
}

// walk resolves p. Symlinks, devices, sockets and FIFOs are as if absent.
func (fs *FS) walk(p Path) (*walked, error) { return fs.walkTo(p, false) }

// walkTo is walk; with leafStat the last component is only stat'ed, not
// opened (its inode has no descriptor), which saves two system calls for
// lookups that only report on it.
func (fs *FS) walkTo(p Path, leafStat bool) (*walked, error) {
	w := &walked{p: p}
	root, err := fs.load(fs.rootFd, ".", nil, 0)
	if err != nil {
		return nil, ioErr("resolve", "/", err)
	}
	w.nodes = append(w.nodes, root)
	for i, c := range p.comps {
		prev := w.nodes[len(w.nodes)-1]
		if !prev.isDir() {
			w.notDir = true
			break
		}
		var n *inode
		var err error
		if leafStat && i == len(p.comps)-1 {
			n, err = fs.lstat(prev.fd, c, prev, i+1)
		} else {
			n, err = fs.load(prev.fd, c, prev, i+1)
		}
		if err == unix.ENOENT || err == unix.ELOOP || err == unix.ENOTDIR || err == errNotVisible {
			break
		}
		if err != nil {
			w.close()
			return nil, ioErr("resolve", pathOf(p.comps[:i+1]), err)
		}
		w.nodes = append(w.nodes, n)
	}
	return w, nil
}

var errNotVisible = fmt.Errorf("not a file or directory")

// load opens one component beneath dirfd (O_PATH: no permission needed, no
// symlink followed) and reads what HDFS knows of it. depth is its depth (0 is
// the root); parent gives the defaults of an inode without attributes.
func (fs *FS) load(dirfd int, name string, parent *inode, depth int) (*inode, error) {
	fd, err := openAt(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	n := &inode{fd: fd}
	if err := unix.Fstat(fd, &n.st); err != nil {
		n.close()
		return nil, err
	}
	if !n.isDir() && !n.isFile() {
		n.close()
		return nil, errNotVisible
	}
	if err := fs.attrsOf(n, dirfd, name); err != nil {
		n.close()
		return nil, err
	}
	fs.fillOwner(n, parent, name, depth)
	return n, nil
}

// lstat is load without opening: the inode has no descriptor.
func (fs *FS) lstat(dirfd int, name string, parent *inode, depth int) (*inode, error) {
	n := &inode{fd: -1}
	if err := unix.Fstatat(dirfd, name, &n.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	if !n.isDir() && !n.isFile() {
		return nil, errNotVisible
	}
	if err := fs.attrsOf(n, dirfd, name); err != nil {
		return nil, err
	}
	fs.fillOwner(n, parent, name, depth)
	return n, nil
}

// attrsOf fills n's attributes, from the cache when the inode's ctime says
// they are unchanged (setting an attribute changes the ctime).
func (fs *FS) attrsOf(n *inode, dirfd int, name string) error {
	fs.cacheMu.Lock()
	c, ok := fs.attrCache[n.st.Ino]
	fs.cacheMu.Unlock()
	if ok && c.ctime == n.st.Ctim && c.dev == n.st.Dev {
		n.a, n.hasA = c.a, c.hasA
		return nil
	}
	var err error
	n.a, n.hasA, err = readAttrsAt(dirfd, name, n.fd)
	if err != nil {
		return err
	}
	fs.cacheMu.Lock()
	if len(fs.attrCache) >= attrCacheSize {
		clear(fs.attrCache)
	}
	fs.attrCache[n.st.Ino] = cachedAttrs{dev: n.st.Dev, ctime: n.st.Ctim, a: n.a, hasA: n.hasA}
	fs.cacheMu.Unlock()
	return nil
}

// attrCacheSize bounds the attribute cache (entries, about 100 bytes each).
const attrCacheSize = 1 << 16

type cachedAttrs struct {
	dev   uint64
	ctime unix.Timespec
	a     attrs
	hasA  bool
}

// fillOwner sets an inode's effective owner and group: its attributes', or
// else its parent's (a file an action wrote belongs to its directory's owner),
// and for a top-level directory without attributes, the namespace it is named
// after. A top-level file is no namespace: it is the root's, as "/" is.
func (fs *FS) fillOwner(n *inode, parent *inode, name string, depth int) {
	n.owner, n.group = n.a.Owner, n.a.Group
	if n.owner == "" {
		switch {
		case depth == 0:
			n.owner = fs.cfg.Superuser
		case depth == 1 && n.isDir():
			n.owner = name
		default:
			n.owner = parent.owner
		}
	}
	if n.group == "" {
		if depth <= 1 || parent == nil {
			n.group = fs.cfg.DefaultGroup
		} else {
			n.group = parent.group
		}
	}
}

// Permission bits wanted, as FsAction.
const (
	accR = 4
	accW = 2
	accX = 1
)

func actionName(want uint32) string {
	switch want {
	case accR:
		return "READ"
	case accW:
		return "WRITE"
	case accX:
		return "EXECUTE"
	case accR | accX:
		return "READ_EXECUTE"
	case accW | accX:
		return "WRITE_EXECUTE"
	case accR | accW:
		return "READ_WRITE"
	case accR | accW | accX:
		return "ALL"
	}
	return "NONE"
}

func (fs *FS) member(u User, group string) bool {
	for _, g := range u.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// allowed applies the POSIX rules (owner class, else group, else other).
func (fs *FS) allowed(u User, n *inode, want uint32) bool {
	if fs.IsSuperuser(u) {
		return true
	}
	mode := n.perm()
	var bits uint32
	switch {
	case u.Name == n.owner:
		bits = (mode >> 6) & 7
	case fs.member(u, n.group):
		bits = (mode >> 3) & 7
	default:
		bits = mode & 7
	}
	return bits&want == want
}

func (fs *FS) check(u User, n *inode, p string, want uint32) error {
	if fs.allowed(u, n, want) {
		return nil
	}
	return newErr(ClassAccessControl, "Permission denied: user=%s, access=%s, inode=%q:%s:%s:%s",
		u.Name, actionName(want), p, n.owner, n.group, modeString(n))
}

// traverse checks EXECUTE on every directory found above the deepest one
// (the ancestors a lookup passes through).
func (fs *FS) traverse(u User, w *walked) error {
	upto := len(w.nodes) - 1
	if !w.exists() {
		upto = len(w.nodes) // the deepest found is passed through too
	}
	for i := 0; i < upto && i < len(w.nodes); i++ {
		if !w.nodes[i].isDir() {
			break
		}
		if err := fs.check(u, w.nodes[i], pathOf(w.p.comps[:i]), accX); err != nil {
			return err
		}
	}
	return nil
}

// sticky enforces the sticky bit of dir on removing or renaming child.
func (fs *FS) sticky(u User, dir, child *inode, p string) error {
	if dir.perm()&0o1000 == 0 || fs.IsSuperuser(u) || u.Name == dir.owner || u.Name == child.owner {
		return nil
	}
	return newErr(ClassAccessControl, "Permission denied by sticky bit: user=%s, path=%q:%s:%s:%s, parent owner=%s",
		u.Name, p, child.owner, child.group, modeString(child), dir.owner)
}

func modeString(n *inode) string {
	b := []byte("-rwxrwxrwx")
	if n.isDir() {
		b[0] = 'd'
	}
	m := n.perm()
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	if m&0o1000 != 0 {
		if m&1 != 0 {
			b[9] = 't'
		} else {
			b[9] = 'T'
		}
	}
	return string(b)
}
