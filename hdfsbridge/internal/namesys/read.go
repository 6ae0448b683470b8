package namesys

import (
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// FileStatus is what HDFS reports of an inode.
type FileStatus struct {
	Name        string // the last component ("" for the root)
	IsDir       bool
	Length      int64
	Perm        uint32 // permission bits with the sticky bit
	Owner       string
	Group       string
	Mtime       time.Time
	Atime       time.Time
	BlockSize   int64 // 0 for directories
	Replication uint32
	FileID      uint64 // the inode number: stable across renames
	Children    int32  // entries of a directory (-1 if not counted)
	// UnderConstruction: a client holds the file's lease.
	UnderConstruction bool
}

func (fs *FS) status(n *inode, name string) *FileStatus {
	st := &FileStatus{
		Name:     name,
		IsDir:    n.isDir(),
		Perm:     n.perm(),
		Owner:    n.owner,
		Group:    n.group,
		Mtime:    time.Unix(n.st.Mtim.Unix()),
		Atime:    time.Unix(n.st.Atim.Unix()),
		FileID:   n.ino(),
		Children: -1,
	}
	if !st.IsDir {
		st.Length = n.st.Size
		st.BlockSize = fs.blockSize(n)
		st.Replication = 1
		st.UnderConstruction = fs.underConstruction(n)
	}
	return st
}

func (fs *FS) blockSize(n *inode) int64 {
	if n.a.BlockSize > 0 {
		return n.a.BlockSize
	}
	return fs.cfg.BlockSize
}

// Stat reports on p. A missing p is a *Error of ClassFileNotFound.
func (fs *FS) Stat(u User, p Path) (*FileStatus, error) {
	w, err := fs.walkTo(p, true)
	if err != nil {
		return nil, err
	}
	defer w.close()
	if err := fs.traverse(u, w); err != nil {
		return nil, err
	}
	if !w.exists() {
		return nil, notFound(p.String())
	}
	st := fs.status(w.target(), p.Name())
	if st.IsDir {
		st.Children = fs.countChildrenAt(w, p)
	}
	return st, nil
}

// names lists a directory's visible entries, sorted by byte order.
func (fs *FS) names(dir *inode) ([]string, error) {
	fd, err := openAt(dir.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, out = unix.ParseDirent(buf[:n], -1, out)
	}
	vis := out[:0]
	for _, name := range out {
		if !hidden(name) {
			vis = append(vis, name)
		}
	}
	sort.Strings(vis)
	return vis, nil
}

// countChildrenAt counts the entries of the directory w leads to, whose
// inode was only stat'ed.
func (fs *FS) countChildrenAt(w *walked, p Path) int32 {
	dirfd, name := fs.rootFd, "."
	if !p.IsRoot() {
		dirfd, name = w.nodes[len(w.nodes)-2].fd, p.Name()
	}
	fd, err := openAt(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	return fs.countChildren(&inode{fd: fd})
}

func (fs *FS) countChildren(dir *inode) int32 {
	names, err := fs.names(dir)
	if err != nil {
		return 0
	}
	return int32(len(names))
}

// List is one page of a listing of p: the entries after startAfter (by byte
// order), at most ListLimit of them, and how many remain after the page. A
// file lists itself. A missing p is ClassFileNotFound.
func (fs *FS) List(u User, p Path, startAfter string) ([]*FileStatus, int, error) {
	w, err := fs.walk(p)
	if err != nil {
		return nil, 0, err
	}
	defer w.close()
	if err := fs.traverse(u, w); err != nil {
		return nil, 0, err
	}
	if !w.exists() {
		return nil, 0, notFound(p.String())
	}
	dir := w.target()
	if !dir.isDir() {
		return []*FileStatus{fs.status(dir, p.Name())}, 0, nil
	}
	if err := fs.check(u, dir, p.String(), accR|accX); err != nil {
		return nil, 0, err
	}
	names, err := fs.names(dir)
	if err != nil {
		return nil, 0, ioErr("list", p.String(), err)
	}
	i := sort.SearchStrings(names, startAfter)
	if i < len(names) && names[i] == startAfter {
		i++
	}
	if startAfter == "" {
		i = 0
	}
	var out []*FileStatus
	for ; i < len(names) && len(out) < fs.cfg.ListLimit; i++ {
		n, err := fs.load(dir.fd, names[i], dir, len(p.comps)+1)
		if err != nil {
			continue // gone since, or not a file or directory
		}
		st := fs.status(n, names[i])
		if st.IsDir {
			st.Children = fs.countChildren(n)
		}
		n.close()
		out = append(out, st)
	}
	return out, len(names) - i, nil
}

// ContentSummary is what getContentSummary reports.
type ContentSummary struct {
	Length, FileCount, DirectoryCount int64
	SpaceConsumed                     int64
}

// Summary totals the subtree at p (a directory counts itself). It needs
// READ_EXECUTE on every directory in it.
func (fs *FS) Summary(u User, p Path) (*ContentSummary, error) {
	w, err := fs.walk(p)
	if err != nil {
		return nil, err
	}
	defer w.close()
	if err := fs.traverse(u, w); err != nil {
		return nil, err
	}
	if !w.exists() {
		return nil, notFound(p.String())
	}
	var cs ContentSummary
	var visit func(n *inode, at Path) error
	visit = func(n *inode, at Path) error {
		if !n.isDir() {
			cs.FileCount++
			cs.Length += n.st.Size
			return nil
		}
		cs.DirectoryCount++
		if err := fs.check(u, n, at.String(), accR|accX); err != nil {
			return err
		}
		names, err := fs.names(n)
		if err != nil {
			return ioErr("summarise", at.String(), err)
		}
		for _, name := range names {
			c, err := fs.load(n.fd, name, n, len(at.comps)+1)
			if err != nil {
				continue
			}
			err = visit(c, at.Child(name))
			c.close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(w.target(), p); err != nil {
		return nil, err
	}
	cs.SpaceConsumed = cs.Length // one replica
	return &cs, nil
}

// FsStats is the capacity of the namespace's file system.
type FsStats struct {
	Capacity, Used, Remaining int64
}

// Stats reports the file system's capacity (statfs of Root).
func (fs *FS) Stats() (*FsStats, error) {
	var s unix.Statfs_t
	if err := unix.Fstatfs(fs.trashFd, &s); err != nil {
		return nil, ioErr("statfs", "/", err)
	}
	bs := int64(s.Bsize)
	st := &FsStats{
		Capacity:  int64(s.Blocks) * bs,
		Remaining: int64(s.Bavail) * bs,
		Used:      int64(s.Blocks-s.Bfree) * bs,
	}
	return st, nil
}
