package namesys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const tmpPrefix = reservedPrefix + "tmp-"

func tmpName() string {
	var b [8]byte
	rand.Read(b[:])
	return tmpPrefix + hex.EncodeToString(b[:])
}

// fsyncDir makes the entries of the directory behind dirfd durable.
func fsyncDir(dirfd int) error {
	fd, err := openAt(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsync(fd)
}

// fsyncFd fsyncs the inode behind any descriptor (O_PATH included).
func fsyncFd(fd int) error {
	rfd, err := unix.Open(procPath(fd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(rfd)
	return unix.Fsync(rfd)
}

func (fs *FS) setAttrs(fd int, a attrs) error {
	if err := fs.step(); err != nil {
		return err
	}
	if a.Birth == 0 {
		a.Birth = btimeMicros(fd)
	}
	return unix.Setxattr(procPath(fd), attrName, encodeAttrs(a), 0)
}

// newAttrs are the attributes of an inode user u creates in dir.
func (fs *FS) newAttrs(u User, dir *inode) attrs {
	return attrs{Owner: u.Name, Group: dir.group}
}

// mkdirChain creates the directories comps (each inside the one before) in
// dir, with their attributes, as one atomic change: the chain is built
// under a hidden temporary name and renamed into place. leaf, if not nil,
// makes a file in the deepest new directory before the rename (create with
// createParent). It returns the chain's first directory.
func (fs *FS) mkdirChain(u User, dir *inode, at Path, comps []string, perms []uint32, leaf func(dirfd int) error) error {
	target := at.Child(comps[0])
	tmp := tmpName()
	if err := fs.syncStep(func() error { return unix.Mkdirat(dir.fd, tmp, 0o700) }); err != nil {
		return ioErr("mkdirs", target.String(), err)
	}
	err := fs.fillChain(u, dir, tmp, comps, perms, leaf)
	if err == nil {
		err = fs.syncStep(func() error { return unix.Renameat2(dir.fd, tmp, dir.fd, comps[0], unix.RENAME_NOREPLACE) })
	}
	if err != nil {
		if err != errCrashed {
			os.RemoveAll(filepath.Join(fs.HostPath(at), tmp))
		}
		if err == unix.EEXIST {
			return newErr(ClassFileAlreadyExists, "%s was created by someone else meanwhile; try again", target)
		}
		return ioErr("mkdirs", target.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncDir(dir.fd) }); err != nil {
		return ioErr("mkdirs", target.String(), err)
	}
	return nil
}

// fillChain gives the new directory tmp in dir its attributes and builds the
// rest of the chain inside it.
func (fs *FS) fillChain(u User, dir *inode, tmp string, comps []string, perms []uint32, leaf func(dirfd int) error) error {
	a := fs.newAttrs(u, dir)
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	parent, name := dir.fd, tmp
	for i := range comps {
		if i > 0 {
			if err := fs.syncStep(func() error { return unix.Mkdirat(parent, comps[i], 0o700) }); err != nil {
				return err
			}
			name = comps[i]
		}
		fd, err := openAt(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
		if err := fs.setAttrs(fd, a); err != nil {
			return err
		}
		if err := fs.chmod(fd, perms[i]); err != nil {
			return err
		}
		parent = fd
	}
	if leaf != nil {
		if err := leaf(parent); err != nil {
			return err
		}
	}
	// Children before parents, so each directory's entries are durable
	// before the rename publishes the chain.
	for i := len(fds) - 1; i >= 0; i-- {
		fd := fds[i]
		if err := fs.syncStep(func() error { return fsyncFd(fd) }); err != nil {
			return err
		}
	}
	return nil
}

// syncStep runs one change to the tree after the crash hook.
func (fs *FS) syncStep(f func() error) error {
	if err := fs.step(); err != nil {
		return err
	}
	return f()
}

func (fs *FS) chmod(fd int, perm uint32) error {
	return fs.syncStep(func() error { return unix.Fchmodat(unix.AT_FDCWD, procPath(fd), perm&0o1777, 0) })
}

// Mkdirs creates p and, with createParent, its missing ancestors. Existing
// directories are success. Missing ancestors get perm with u+wx added, as in
// HDFS; the new inodes belong to u and their parent's group.
func (fs *FS) Mkdirs(u User, p Path, perm uint32, createParent bool) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.walk(p)
	if err != nil {
		return err
	}
	defer w.close()
	if err := fs.traverse(u, w); err != nil {
		return err
	}
	if w.notDir {
		return newErr(ClassParentNotDirectory, "Parent path is not a directory: %s", w.lastPath())
	}
	if w.exists() {
		if w.target().isDir() {
			return nil
		}
		return newErr(ClassFileAlreadyExists, "Path is not a directory: %s", p)
	}
	if err := fs.check(u, w.last(), w.lastPath().String(), accW); err != nil {
		return err
	}
	missing := len(p.comps) + 1 - len(w.nodes)
	if missing > 1 && !createParent {
		return newErr(ClassFileNotFound, "Parent directory doesn't exist: %s", p.Parent())
	}
	first := len(w.nodes) - 1
	perms := make([]uint32, 0, len(p.comps)-first)
	for i := first; i < len(p.comps); i++ {
		perms = append(perms, perm|0o300)
	}
	perms[len(perms)-1] = perm
	return fs.mkdirChain(u, w.last(), w.lastPath(), p.comps[first:], perms, nil)
}

// CreateOptions are create's arguments.
type CreateOptions struct {
	Perm         uint32
	Holder       string // the client name that will hold the lease
	Overwrite    bool
	CreateParent bool
	BlockSize    int64 // 0: the default
}

// Create makes a new empty file at p, open for writing under a lease of
// o.Holder, and returns its status.
func (fs *FS) Create(u User, p Path, o CreateOptions) (*FileStatus, error) {
	if o.Holder == "" {
		return nil, newErr(ClassIllegalArgument, "create %s: no client name", p)
	}
	bs := o.BlockSize
	if bs == 0 {
		bs = fs.cfg.BlockSize
	}
	if bs < MinBlockSize || bs > maxBlockSize {
		return nil, newErr(ClassIO, "Specified block size %d for %s is outside [%d, %d]", bs, p, MinBlockSize, int64(maxBlockSize))
	}
	if p.IsRoot() {
		return nil, newErr(ClassFileAlreadyExists, "/ already exists as a directory")
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.walk(p)
	if err != nil {
		return nil, err
	}
	defer w.close()
	if err := fs.traverse(u, w); err != nil {
		return nil, err
	}
	if w.notDir {
		return nil, newErr(ClassParentNotDirectory, "Parent path is not a directory: %s", w.lastPath())
	}
	replace := false
	if w.exists() {
		t := w.target()
		if t.isDir() {
			return nil, newErr(ClassFileAlreadyExists, "%s already exists as a directory", p)
		}
		// WRITE on the parent comes first, as in HDFS: a caller without it
		// learns nothing more, and cannot end another client's lease.
		if err := fs.check(u, w.parent(), p.Parent().String(), accW); err != nil {
			return nil, err
		}
		if err := fs.takeOver(t, p, o.Holder); err != nil {
			return nil, err
		}
		if !o.Overwrite {
			return nil, newErr(ClassFileAlreadyExists, "%s for client %s already exists", p, o.Holder)
		}
		if err := fs.sticky(u, w.parent(), t, p.String()); err != nil {
			return nil, err
		}
		replace = true
	} else {
		if err := fs.check(u, w.last(), w.lastPath().String(), accW); err != nil {
			return nil, err
		}
		missing := len(p.comps) + 1 - len(w.nodes)
		if missing > 1 && !o.CreateParent {
			return nil, newErr(ClassFileNotFound, "Parent directory doesn't exist: %s", p.Parent())
		}
	}
	gs := fs.nextGS()
	a := fs.newAttrs(u, w.last())
	a.GenStamp, a.BlockSize, a.Holder, a.Birth = gs, bs, o.Holder, gs
	fd := -1
	makeFile := func(dirfd int, name string) error {
		if err := fs.step(); err != nil {
			return err
		}
		f, err := openAt(dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		fd = f
		if err := fs.setAttrs(fd, a); err != nil {
			return err
		}
		if err := fs.chmod(fd, o.Perm); err != nil {
			return err
		}
		return fs.syncStep(func() error { return unix.Fsync(fd) })
	}
	closeFd := func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if !replace && len(w.nodes) < len(p.comps) {
		// Missing parents: the directories and the file appear together.
		first := len(w.nodes) - 1
		comps := p.comps[first : len(p.comps)-1]
		perms := make([]uint32, len(comps))
		for i := range perms {
			perms[i] = 0o755 | 0o300
		}
		err := fs.mkdirChain(u, w.last(), w.lastPath(), comps, perms, func(dirfd int) error { return makeFile(dirfd, p.Name()) })
		if err != nil {
			closeFd()
			return nil, err
		}
	} else {
		dir := w.parent()
		tmp := tmpName()
		err := makeFile(dir.fd, tmp)
		if err == nil {
			flags := uint(unix.RENAME_NOREPLACE)
			if replace {
				flags = 0
			}
			err = fs.syncStep(func() error { return unix.Renameat2(dir.fd, tmp, dir.fd, p.Name(), flags) })
		}
		if err != nil {
			closeFd()
			if err != errCrashed {
				unix.Unlinkat(dir.fd, tmp, 0)
			}
			if err == unix.EEXIST {
				return nil, newErr(ClassFileAlreadyExists, "%s for client %s already exists", p, o.Holder)
			}
			return nil, ioErr("create", p.String(), err)
		}
		if replace {
			fs.dropOpen(w.target().ino())
		}
		if err := fs.syncStep(func() error { return fsyncDir(dir.fd) }); err != nil {
			closeFd()
			return nil, ioErr("create", p.String(), err)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		closeFd()
		return nil, ioErr("create", p.String(), err)
	}
	n := &inode{fd: fd, st: st, a: a, hasA: true, owner: a.Owner, group: a.Group}
	fs.addOpen(&openFile{ino: st.Ino, path: p, holder: o.Holder, user: u.Name, bs: bs, gs: gs, fd: fd, last: -1})
	return fs.status(n, p.Name()), nil
}

// Rename moves src to dst (rename2). With overwrite an existing dst of the
// same kind (a file, or an empty directory) is replaced.
func (fs *FS) Rename(u User, src, dst Path, overwrite bool) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.rename(u, src, dst, overwrite)
}

func (fs *FS) rename(u User, src, dst Path, overwrite bool) error {
	if src.IsRoot() {
		return newErr(ClassIO, "rename source / is the root directory")
	}
	if dst.IsRoot() {
		return newErr(ClassFileAlreadyExists, "rename destination / already exists")
	}
	sw, err := fs.walk(src)
	if err != nil {
		return err
	}
	defer sw.close()
	if err := fs.traverse(u, sw); err != nil {
		return err
	}
	if !sw.exists() {
		return newErr(ClassFileNotFound, "rename source %s is not found.", src)
	}
	if src.String() == dst.String() {
		return newErr(ClassFileAlreadyExists, "The source %s and destination %s are the same", src, dst)
	}
	if dst.Within(src) {
		return newErr(ClassIO, "Rename destination %s is a directory or file under source %s", dst, src)
	}
	dw, err := fs.walk(dst)
	if err != nil {
		return err
	}
	defer dw.close()
	if err := fs.traverse(u, dw); err != nil {
		return err
	}
	if dw.notDir || (dw.parent() != nil && !dw.parent().isDir()) {
		return newErr(ClassParentNotDirectory, "rename destination parent %s is a file.", dst.Parent())
	}
	if dw.parent() == nil {
		return newErr(ClassFileNotFound, "rename destination parent %s not found.", dst.Parent())
	}
	s, sp, dp := sw.target(), sw.parent(), dw.parent()
	if err := fs.check(u, sp, src.Parent().String(), accW); err != nil {
		return err
	}
	if err := fs.sticky(u, sp, s, src.String()); err != nil {
		return err
	}
	if err := fs.check(u, dp, dst.Parent().String(), accW); err != nil {
		return err
	}
	flags := uint(unix.RENAME_NOREPLACE)
	var replaced *inode
	if dw.exists() {
		d := dw.target()
		if !overwrite {
			return newErr(ClassFileAlreadyExists, "rename destination %s already exists", dst)
		}
		if d.isDir() != s.isDir() {
			if s.isDir() {
				return newErr(ClassIO, "Source %s is a directory but destination %s is a file", src, dst)
			}
			return newErr(ClassIO, "Source %s is a file but destination %s is a directory", src, dst)
		}
		if d.isDir() {
			names, err := fs.names(d)
			if err != nil {
				return ioErr("rename", dst.String(), err)
			}
			if len(names) > 0 {
				return newErr(ClassIO, "rename destination directory is not empty: %s", dst)
			}
		}
		if err := fs.sticky(u, dp, d, dst.String()); err != nil {
			return err
		}
		flags, replaced = 0, d
	}
	err = fs.syncStep(func() error { return unix.Renameat2(sp.fd, src.Name(), dp.fd, dst.Name(), flags) })
	if err != nil {
		if err == unix.EEXIST || err == unix.ENOTEMPTY {
			return newErr(ClassFileAlreadyExists, "rename destination %s already exists", dst)
		}
		return ioErr("rename", src.String(), err)
	}
	if replaced != nil && !replaced.isDir() {
		fs.dropOpen(replaced.ino())
	}
	fs.movedPath(s.ino(), src, dst)
	if err := fs.syncStep(func() error { return fsyncDir(dp.fd) }); err != nil {
		return ioErr("rename", dst.String(), err)
	}
	if sp.ino() != dp.ino() {
		if err := fs.syncStep(func() error { return fsyncDir(sp.fd) }); err != nil {
			return ioErr("rename", src.String(), err)
		}
	}
	return nil
}

// RenameOld is ClientProtocol's old rename: a directory dst receives src
// inside it, and a failure of the kinds rename2 throws is reported as false.
func (fs *FS) RenameOld(u User, src, dst Path) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if src.String() == dst.String() {
		return true, nil
	}
	if st, err := fs.Stat(u, dst); err == nil && st.IsDir && !src.IsRoot() {
		dst = dst.Child(src.Name())
	}
	err := fs.rename(u, src, dst, false)
	switch ClassOf(err) {
	case ClassFileNotFound, ClassFileAlreadyExists, ClassParentNotDirectory:
		return false, nil
	}
	var e *Error
	if errors.As(err, &e) && e.Class == ClassIO && e.Err == nil {
		return false, nil // the IOExceptions of rename's own rules
	}
	return err == nil, err
}

// Delete removes p (a directory only with recursive, unless empty). A
// missing p, and the root, are false without an error.
func (fs *FS) Delete(u User, p Path, recursive bool) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.walk(p)
	if err != nil {
		return false, err
	}
	defer w.close()
	if err := fs.traverse(u, w); err != nil {
		return false, err
	}
	if !w.exists() || p.IsRoot() {
		return false, nil
	}
	t, dir := w.target(), w.parent()
	if err := fs.check(u, dir, p.Parent().String(), accW); err != nil {
		return false, err
	}
	if err := fs.sticky(u, dir, t, p.String()); err != nil {
		return false, err
	}
	if !t.isDir() {
		if err := fs.syncStep(func() error { return unix.Unlinkat(dir.fd, p.Name(), 0) }); err != nil {
			return false, ioErr("delete", p.String(), err)
		}
		fs.dropOpen(t.ino())
		if err := fs.syncStep(func() error { return fsyncDir(dir.fd) }); err != nil {
			return false, ioErr("delete", p.String(), err)
		}
		return true, nil
	}
	names, err := fs.names(t)
	if err != nil {
		return false, ioErr("delete", p.String(), err)
	}
	if len(names) > 0 {
		if !recursive {
			return false, newErr(ClassPathIsNotEmptyDir, "`%s is non empty': Directory is not empty", p)
		}
		if err := fs.checkSubtree(u, t, p); err != nil {
			return false, err
		}
	}
	// The rename into the trash is the commit point; an interrupted removal
	// is finished by the next Open.
	gone := tmpName()
	if err := fs.syncStep(func() error { return unix.Renameat2(dir.fd, p.Name(), fs.trashFd, gone, unix.RENAME_NOREPLACE) }); err != nil {
		return false, ioErr("delete", p.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncDir(dir.fd) }); err != nil {
		return false, ioErr("delete", p.String(), err)
	}
	fs.dropOpenUnder(p)
	if err := fs.syncStep(func() error { return os.RemoveAll(filepath.Join(fs.rootPath, trashName, gone)) }); err != nil {
		fs.cfg.Logger.Warn("hdfs delete: emptying the trash failed; the next start retries", "path", p.String(), "err", err)
	}
	return true, nil
}

// checkSubtree requires ALL on every directory under (and including) dir,
// as HDFS does for a recursive delete.
func (fs *FS) checkSubtree(u User, dir *inode, at Path) error {
	if fs.IsSuperuser(u) {
		return nil
	}
	if err := fs.check(u, dir, at.String(), accR|accW|accX); err != nil {
		return err
	}
	names, err := fs.names(dir)
	if err != nil {
		return ioErr("delete", at.String(), err)
	}
	for _, name := range names {
		c, err := fs.load(dir.fd, name, dir, len(at.comps)+1)
		if err != nil {
			continue
		}
		if c.isDir() {
			err = fs.checkSubtree(u, c, at.Child(name))
		}
		c.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// target resolves p for a change to the inode itself.
func (fs *FS) target(u User, p Path) (*walked, error) {
	w, err := fs.walk(p)
	if err != nil {
		return nil, err
	}
	if err := fs.traverse(u, w); err != nil {
		w.close()
		return nil, err
	}
	if !w.exists() {
		w.close()
		return nil, notFound(p.String())
	}
	return w, nil
}

// SetPermission changes p's permission bits (owner or superuser).
func (fs *FS) SetPermission(u User, p Path, perm uint32) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return err
	}
	defer w.close()
	t := w.target()
	if err := fs.owner(u, t, p); err != nil {
		return err
	}
	if err := fs.chmod(t.fd, perm); err != nil {
		return ioErr("setPermission", p.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncFd(t.fd) }); err != nil {
		return ioErr("setPermission", p.String(), err)
	}
	return nil
}

func (fs *FS) owner(u User, n *inode, p Path) error {
	if fs.IsSuperuser(u) || u.Name == n.owner {
		return nil
	}
	return newErr(ClassAccessControl, "Permission denied. user=%s is not the owner of inode=%s", u.Name, p)
}

// SetOwner changes p's owner and/or group ("" leaves one as it is). Only the
// superuser changes owners; the owner may change the group to one of its own.
func (fs *FS) SetOwner(u User, p Path, owner, group string) error {
	if owner == "" && group == "" {
		return newErr(ClassIllegalArgument, "setOwner %s: both the owner and the group are empty", p)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return err
	}
	defer w.close()
	t := w.target()
	if !fs.IsSuperuser(u) {
		if u.Name != t.owner {
			return newErr(ClassAccessControl, "Permission denied. user=%s is not the owner of inode=%s", u.Name, p)
		}
		if owner != "" && owner != t.owner {
			return newErr(ClassAccessControl, "User %s is not a super user (non-super user cannot change owner).", u.Name)
		}
		if group != "" && !fs.member(u, group) {
			return newErr(ClassAccessControl, "User %s does not belong to %s", u.Name, group)
		}
	}
	a := t.a
	a.Owner, a.Group = t.owner, t.group
	if owner != "" {
		a.Owner = owner
	}
	if group != "" {
		a.Group = group
	}
	if err := fs.setAttrs(t.fd, a); err != nil {
		return ioErr("setOwner", p.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncFd(t.fd) }); err != nil {
		return ioErr("setOwner", p.String(), err)
	}
	return nil
}

// maxTimeMs is the end of the year 9999 in milliseconds since the epoch.
const maxTimeMs = 253402300799999

// SetTimes sets p's modification and access times in milliseconds since the
// epoch; -1 leaves one unchanged. It needs WRITE on p.
func (fs *FS) SetTimes(u User, p Path, mtimeMs, atimeMs int64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return err
	}
	defer w.close()
	t := w.target()
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return err
	}
	for _, ms := range []int64{mtimeMs, atimeMs} {
		if ms > maxTimeMs {
			return newErr(ClassIllegalArgument, "setTimes %s: time %d ms is past the year 9999", p, ms)
		}
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	if atimeMs >= 0 {
		ts[0] = unix.NsecToTimespec(atimeMs * 1e6)
	}
	if mtimeMs >= 0 {
		ts[1] = unix.NsecToTimespec(mtimeMs * 1e6)
	}
	if err := fs.syncStep(func() error { return unix.UtimesNanoAt(unix.AT_FDCWD, procPath(t.fd), ts, 0) }); err != nil {
		return ioErr("setTimes", p.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncFd(t.fd) }); err != nil {
		return ioErr("setTimes", p.String(), err)
	}
	return nil
}

// SetReplication accepts any factor for a file (there is one copy, in
// PMEM; it is reported as 1) and is false for a directory.
func (fs *FS) SetReplication(u User, p Path, replication uint32) (bool, error) {
	w, err := fs.target(u, p)
	if err != nil {
		return false, err
	}
	defer w.close()
	t := w.target()
	if t.isDir() {
		return false, nil
	}
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return false, err
	}
	return true, nil
}
