package namesys

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// A file's bytes are one file of the tree; its blocks are consecutive ranges
// of BlockSize bytes. A block ID is the file's inode number and the block's
// index packed in a positive int64, so the DataNode finds the bytes of any
// block, the blocks of files actions wrote included, with no block map.
const (
	indexBits    = 24
	maxBlocks    = 1 << indexBits
	maxInoBits   = 62 - indexBits
	maxBlockSize = 1 << 40
)

// BlockID packs an inode number and a block index.
func BlockID(ino uint64, index int64) int64 { return int64(ino)<<indexBits | index }

// SplitBlockID is BlockID's inverse.
func SplitBlockID(id int64) (ino uint64, index int64) {
	return uint64(id) >> indexBits, id & (maxBlocks - 1)
}

// Block is one block of a file.
type Block struct {
	ID       int64
	GenStamp uint64
	NumBytes int64
	Offset   int64 // of the block in its file
}

// Located is what getBlockLocations reports.
type Located struct {
	FileLength        int64
	Blocks            []Block
	UnderConstruction bool
	LastComplete      bool
}

func blocksOf(length, bs int64, gs uint64, ino uint64, from, to int64) []Block {
	var out []Block
	for off := (from / bs) * bs; off < length && off < to; off += bs {
		n := min(bs, length-off)
		out = append(out, Block{ID: BlockID(ino, off/bs), GenStamp: gs, NumBytes: n, Offset: off})
	}
	return out
}

// fileGS is the generation stamp of file n: its attribute's, else (a file
// never written through HDFS) its birth time in microseconds, else a fixed
// stamp above 1000.
func (fs *FS) fileGS(n *inode) uint64 {
	if n.a.GenStamp != 0 {
		return n.a.GenStamp
	}
	if b := birthOf(n.fd, n.a); b != 0 {
		return b
	}
	return 1001
}

// Locations are the blocks of file p overlapping [offset, offset+length);
// it needs READ on p.
func (fs *FS) Locations(u User, p Path, offset, length int64) (*Located, error) {
	if offset < 0 || length < 0 {
		return nil, newErr(ClassIllegalArgument, "getBlockLocations %s: negative offset %d or length %d", p, offset, length)
	}
	w, err := fs.target(u, p)
	if err != nil {
		return nil, err
	}
	defer w.close()
	t := w.target()
	if t.isDir() {
		return nil, newErr(ClassFileNotFound, "Path is not a file: %s", p)
	}
	if err := fs.check(u, t, p.String(), accR); err != nil {
		return nil, err
	}
	if t.ino() >= 1<<maxInoBits {
		return nil, newErr(ClassIO, "%s: inode number %d does not fit a block ID; the namespace's file system hands out inode numbers above 2^%d", p, t.ino(), maxInoBits)
	}
	fs.seen(t.ino(), p)
	end := offset + length
	if length > t.st.Size || end < offset {
		end = t.st.Size
	}
	uc := fs.underConstruction(t)
	return &Located{
		FileLength:        t.st.Size,
		Blocks:            blocksOf(t.st.Size, fs.blockSize(t), fs.fileGS(t), t.ino(), offset, max(end, offset+1)),
		UnderConstruction: uc,
		LastComplete:      !uc,
	}, nil
}

func (fs *FS) seen(ino uint64, p Path) {
	fs.mapMu.Lock()
	fs.boundHints()
	fs.paths[ino] = p.String()
	fs.mapMu.Unlock()
}

// lease returns holder's open file at p (and checks its file ID, if given).
func (fs *FS) leased(p Path, holder string, fileID uint64) (*openFile, error) {
	fs.mapMu.Lock()
	defer fs.mapMu.Unlock()
	var of *openFile
	if fileID != 0 {
		of = fs.open[fileID]
	} else {
		for _, o := range fs.open {
			if o.path.String() == p.String() {
				of = o
				break
			}
		}
	}
	if of == nil || of.closed.Load() {
		return nil, newErr(ClassLeaseExpired, "No lease on %s: File is not open for writing (it was closed, deleted or its lease was recovered)", p)
	}
	if of.holder != holder {
		return nil, newErr(ClassLeaseExpired, "Client (=%s) is not the lease owner (=%s) of %s", holder, of.holder, p)
	}
	if l := fs.leases[holder]; l != nil {
		l.renewed = fs.cfg.Now()
	}
	return of, nil
}

func fileSize(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// AddBlock allocates the next block of holder's open file p. previous, if
// given, is the block the client just finished, with its length.
func (fs *FS) AddBlock(p Path, holder string, fileID uint64, previous *Block) (*Block, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	of, err := fs.leased(p, holder, fileID)
	if err != nil {
		return nil, err
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	size, err := fileSize(of.fd)
	if err != nil {
		return nil, ioErr("addBlock", p.String(), err)
	}
	if previous != nil {
		ino, idx := SplitBlockID(previous.ID)
		if ino != of.ino || idx != of.last {
			return nil, newErr(ClassIO, "addBlock %s: the previous block %d is not the file's last block", p, previous.ID)
		}
		if want := idx*of.bs + previous.NumBytes; size != want {
			return nil, newErr(ClassIO, "addBlock %s: the previous block ends at %d bytes but the DataNode holds %d; the write failed, start it again", p, want, size)
		}
	}
	if size%of.bs != 0 {
		return nil, newErr(ClassIO, "addBlock %s: the last block holds %d of %d bytes; only a full block can be followed by another", p, size%of.bs, of.bs)
	}
	idx := size / of.bs
	if idx >= maxBlocks {
		return nil, newErr(ClassIO, "addBlock %s: a file may have at most %d blocks of %d bytes", p, maxBlocks, of.bs)
	}
	of.last = idx
	return &Block{ID: BlockID(of.ino, idx), GenStamp: of.gs, Offset: idx * of.bs}, nil
}

// AbandonBlock gives back the last block allocated, if nothing was written
// to it.
func (fs *FS) AbandonBlock(p Path, holder string, fileID uint64, b Block) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	of, err := fs.leased(p, holder, fileID)
	if err != nil {
		return err
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	ino, idx := SplitBlockID(b.ID)
	if ino != of.ino || idx != of.last {
		return nil // not ours to abandon: nothing to do, as HDFS
	}
	size, err := fileSize(of.fd)
	if err != nil {
		return ioErr("abandonBlock", p.String(), err)
	}
	if size > idx*of.bs {
		if err := fs.syncStep(func() error { return unix.Ftruncate(of.fd, idx*of.bs) }); err != nil {
			return ioErr("abandonBlock", p.String(), err)
		}
	}
	of.last = idx - 1
	return nil
}

// Complete closes holder's file p. last is the client's last block (with its
// length) or nil for an empty file. false means the data is not all there
// yet; the client asks again.
func (fs *FS) Complete(u User, p Path, holder string, fileID uint64, last *Block) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	of, err := fs.leased(p, holder, fileID)
	if err != nil {
		// A repeated complete of a file already closed succeeds.
		if st, serr := fs.Stat(u, p); serr == nil && !st.IsDir && !st.UnderConstruction && (fileID == 0 || st.FileID == fileID) {
			return true, nil
		}
		return false, err
	}
	of.mu.Lock()
	size, err := fileSize(of.fd)
	of.mu.Unlock()
	if err != nil {
		return false, ioErr("complete", p.String(), err)
	}
	if last != nil {
		ino, idx := SplitBlockID(last.ID)
		if ino != of.ino {
			return false, newErr(ClassIO, "complete %s: block %d is not a block of this file", p, last.ID)
		}
		want := idx*of.bs + last.NumBytes
		if size < want {
			return false, nil
		}
		if size > want {
			if err := fs.syncStep(func() error { return unix.Ftruncate(of.fd, want) }); err != nil {
				return false, ioErr("complete", p.String(), err)
			}
		}
	}
	if err := fs.finish(of, false); err != nil {
		return false, err
	}
	return true, nil
}

// Fsync makes what holder wrote to p so far durable.
func (fs *FS) Fsync(p Path, holder string, fileID uint64) error {
	of, err := fs.leased(p, holder, fileID)
	if err != nil {
		return err
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	if of.closed.Load() {
		return nil
	}
	if err := unix.Fdatasync(of.fd); err != nil {
		return ioErr("fsync", p.String(), err)
	}
	return nil
}

// NewGenStamp is updateBlockForPipeline: a new generation stamp for the
// block, not stored (updatePipeline stores it).
func (fs *FS) NewGenStamp(holder string, b Block) (*Block, error) {
	ino, _ := SplitBlockID(b.ID)
	of := fs.openOf(ino)
	if of == nil || of.closed.Load() || of.holder != holder {
		return nil, newErr(ClassIO, "updateBlockForPipeline: block %d is not being written by %s", b.ID, holder)
	}
	nb := b
	nb.GenStamp = fs.nextGS()
	return &nb, nil
}

// CommitGenStamp is updatePipeline: the block's file takes the new stamp.
func (fs *FS) CommitGenStamp(holder string, oldB, newB Block) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ino, _ := SplitBlockID(oldB.ID)
	of := fs.openOf(ino)
	if of == nil || of.closed.Load() || of.holder != holder {
		return newErr(ClassIO, "updatePipeline: block %d is not being written by %s", oldB.ID, holder)
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	a, _, err := readAttrs(of.fd)
	if err != nil {
		return ioErr("updatePipeline", of.path.String(), err)
	}
	a.GenStamp = newB.GenStamp
	if err := fs.setAttrs(of.fd, a); err != nil {
		return ioErr("updatePipeline", of.path.String(), err)
	}
	of.gs = newB.GenStamp
	return nil
}

// Append opens the closed file p for writing by holder. It returns the
// file's status and, when the last block is partial, that block (with a new
// generation stamp) for the client to continue.
func (fs *FS) Append(u User, p Path, holder string) (*FileStatus, *Block, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return nil, nil, err
	}
	defer w.close()
	t := w.target()
	if t.isDir() {
		return nil, nil, newErr(ClassFileNotFound, "failed to append to directory %s", p)
	}
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return nil, nil, err
	}
	if of := fs.openOf(t.ino()); of != nil {
		if of.holder == holder {
			return nil, nil, newErr(ClassAlreadyBeingCreated, "Failed to APPEND_FILE %s for %s because the current leaseholder is trying to recreate file.", p, holder)
		}
		if err := fs.takeOver(t, p, holder); err != nil {
			return nil, nil, err
		}
	}
	if t.ino() >= 1<<maxInoBits {
		return nil, nil, newErr(ClassIO, "%s: inode number %d does not fit a block ID", p, t.ino())
	}
	fd, err := unix.Open(procPath(t.fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, ioErr("append", p.String(), err)
	}
	a := t.a
	a.Owner, a.Group = t.owner, t.group
	if a.BlockSize == 0 {
		a.BlockSize = fs.cfg.BlockSize
	}
	a.GenStamp, a.Holder = fs.nextGS(), holder
	if err := fs.setAttrs(fd, a); err != nil {
		unix.Close(fd)
		return nil, nil, ioErr("append", p.String(), err)
	}
	if err := fs.syncStep(func() error { return unix.Fsync(fd) }); err != nil {
		unix.Close(fd)
		return nil, nil, ioErr("append", p.String(), err)
	}
	size := t.st.Size
	of := &openFile{ino: t.ino(), path: p, holder: holder, user: u.Name, bs: a.BlockSize, gs: a.GenStamp, fd: fd, last: (size+a.BlockSize-1)/a.BlockSize - 1}
	fs.addOpen(of)
	t.a, t.hasA = a, true
	st := fs.status(t, p.Name())
	if size%a.BlockSize == 0 {
		return st, nil, nil
	}
	idx := size / a.BlockSize
	return st, &Block{ID: BlockID(t.ino(), idx), GenStamp: a.GenStamp, NumBytes: size - idx*a.BlockSize, Offset: idx * a.BlockSize}, nil
}

// RecoverLease closes p now if a client holds it (lease recovery: the file
// keeps what the DataNode received). true: the file is closed.
func (fs *FS) RecoverLease(u User, p Path, holder string) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return false, err
	}
	defer w.close()
	t := w.target()
	if t.isDir() {
		return false, newErr(ClassFileNotFound, "Path is not a file: %s", p)
	}
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return false, err
	}
	of := fs.openOf(t.ino())
	if of == nil {
		return true, nil
	}
	if err := fs.finish(of, true); err != nil {
		return false, err
	}
	return true, nil
}

// IsFileClosed reports whether p is not under construction.
func (fs *FS) IsFileClosed(u User, p Path) (bool, error) {
	st, err := fs.Stat(u, p)
	if err != nil {
		return false, err
	}
	return !st.UnderConstruction, nil
}

// Truncate cuts the closed file p to newLength (which may not exceed its
// length). It is done at once: true.
func (fs *FS) Truncate(u User, p Path, newLength int64, holder string) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return false, err
	}
	defer w.close()
	t := w.target()
	if t.isDir() {
		return false, newErr(ClassFileNotFound, "Path is not a file: %s", p)
	}
	if newLength < 0 || newLength > t.st.Size {
		return false, newErr(ClassIllegalArgument, "Cannot truncate %s to %d: the new length must be between 0 and the current length %d", p, newLength, t.st.Size)
	}
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return false, err
	}
	if of := fs.openOf(t.ino()); of != nil {
		return false, newErr(ClassAlreadyBeingCreated, "Failed to TRUNCATE_FILE %s for %s because the file is being written by %s", p, holder, of.holder)
	}
	fd, err := unix.Open(procPath(t.fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, ioErr("truncate", p.String(), err)
	}
	defer unix.Close(fd)
	a := t.a
	a.Owner, a.Group = t.owner, t.group
	if a.BlockSize == 0 {
		a.BlockSize = fs.cfg.BlockSize
	}
	a.GenStamp = fs.nextGS()
	if err := fs.syncStep(func() error { return unix.Ftruncate(fd, newLength) }); err != nil {
		return false, ioErr("truncate", p.String(), err)
	}
	if err := fs.setAttrs(fd, a); err != nil {
		return false, ioErr("truncate", p.String(), err)
	}
	if err := fs.syncStep(func() error { return unix.Fsync(fd) }); err != nil {
		return false, ioErr("truncate", p.String(), err)
	}
	return true, nil
}

// BlockAccess checks that u may read (write false) or write (write true)
// the block id, as the NameNode would have checked before handing the
// block out: reading needs EXECUTE on every ancestor of the block's file
// and READ on the file, found by its inode number at its last known path;
// writing needs the file to be under construction by u (it created or
// appended it; the DataNode checks the lease holder's client name too).
// The superuser may do either. A refusal is an AccessControlException.
func (fs *FS) BlockAccess(u User, id int64, write bool) error {
	ino, _ := SplitBlockID(id)
	if fs.IsSuperuser(u) {
		return nil
	}
	if write {
		of := fs.openOf(ino)
		if of == nil || of.closed.Load() {
			return fmt.Errorf("block %d: the file is not open for writing (closed, deleted or its lease recovered)", id)
		}
		if of.user != u.Name {
			return newErr(ClassAccessControl, "Permission denied: user=%s, access=WRITE, block %d of %q is being written by %s", u.Name, id, fs.where(of).String(), of.user)
		}
		return nil
	}
	fd, rel, err := fs.locatePath(ino)
	if err != nil {
		return fmt.Errorf("block %d: no such block (the file was deleted or replaced; open it again)", id)
	}
	unix.Close(fd)
	p, err := ParsePath(rel)
	if err != nil {
		return newErr(ClassAccessControl, "Permission denied: user=%s, access=READ, block %d is not at a path HDFS can name", u.Name, id)
	}
	w, err := fs.target(u, p)
	if err != nil {
		return err
	}
	defer w.close()
	t := w.target()
	if t.isDir() || t.ino() != ino {
		// Renamed or replaced since: refuse rather than check another file.
		return fmt.Errorf("block %d: no such block at %s any more (open the file again)", id, p)
	}
	return fs.check(u, t, p.String(), accR)
}

// locate finds the file of a block: by the last path the inode was seen
// at, else by a search of the tree (a file an action wrote, or a path this
// process has not seen). It returns an O_PATH descriptor of the file.
func (fs *FS) locate(ino uint64) (int, error) {
	fd, _, err := fs.locatePath(ino)
	return fd, err
}

// locatePath is locate, with the path ("/a/b") it found the file at.
func (fs *FS) locatePath(ino uint64) (int, string, error) {
	fs.mapMu.Lock()
	hint, ok := fs.paths[ino]
	fs.mapMu.Unlock()
	if ok {
		if fd, err := fs.openIno(hint, ino); err == nil {
			return fd, hint, nil
		}
	}
	var found string
	stop := errors.New("found")
	filepath.WalkDir(fs.rootPath, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Name() == trashName && d.IsDir() {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Ino == ino && d.Type().IsRegular() {
			found = p
			return stop
		}
		return nil
	})
	if found == "" {
		return -1, "", os.ErrNotExist
	}
	rel, err := filepath.Rel(fs.rootPath, found)
	if err != nil {
		return -1, "", err
	}
	p := "/" + filepath.ToSlash(rel)
	fd, err := fs.openIno(p, ino)
	if err == nil {
		fs.mapMu.Lock()
		fs.boundHints()
		fs.paths[ino] = p
		fs.mapMu.Unlock()
	}
	return fd, p, err
}

func (fs *FS) openIno(p string, ino uint64) (int, error) {
	rel := "."
	if p != "/" {
		rel = p[1:]
	}
	fd, err := openAt(fs.rootFd, rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != ino || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, os.ErrNotExist
	}
	return fd, nil
}

// BlockView is a block's visible bytes, mapped from the file.
type BlockView struct {
	Data     []byte // the block's bytes: valid until Close
	GenStamp uint64
	mapping  []byte
}

// Close unmaps the block.
func (v *BlockView) Close() error {
	if v.mapping == nil {
		return nil
	}
	m := v.mapping
	v.mapping, v.Data = nil, nil
	return unix.Munmap(m)
}

// Prefault asks the kernel to map the pages of Data[off:off+n] in one go
// (MADV_POPULATE_READ), instead of one page fault per page as the bytes are
// first touched. Best effort: older kernels ignore it.
func (v *BlockView) Prefault(off, n int64) {
	if v.mapping == nil || n <= 0 || off < 0 || off >= int64(len(v.Data)) {
		return
	}
	base := int64(len(v.mapping) - len(v.Data)) // Data's offset in the mapping
	page := int64(os.Getpagesize())
	from := (base + off) &^ (page - 1)
	to := min(int64(len(v.mapping)), base+off+n)
	unix.Madvise(v.mapping[from:to], unix.MADV_POPULATE_READ)
}

// ReadBlock maps block id for reading. genStamp is the client's; a block of
// a newer stamp than the file's is refused (a stale one is fine: the bytes
// it covered are still there).
func (fs *FS) ReadBlock(id int64, genStamp uint64) (*BlockView, error) {
	ino, idx := SplitBlockID(id)
	fd, err := fs.locate(ino)
	if err != nil {
		return nil, fmt.Errorf("block %d: no such block (the file was deleted or replaced; open it again)", id)
	}
	defer unix.Close(fd)
	a, _, err := readAttrs(fd)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", id, err)
	}
	birth := birthOf(fd, a)
	gs := a.GenStamp
	if gs == 0 {
		gs = birth
	}
	if gs == 0 {
		gs = 1001
	}
	if genStamp > gs {
		return nil, fmt.Errorf("block %d: generation stamp %d is newer than the replica's %d", id, genStamp, gs)
	}
	if genStamp < birth {
		return nil, fmt.Errorf("block %d: generation stamp %d is older than the file now at that inode (born %d): the file the block belonged to was deleted; open the file again", id, genStamp, birth)
	}
	bs := a.BlockSize
	if bs == 0 {
		bs = fs.cfg.BlockSize
	}
	rfd, err := unix.Open(procPath(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", id, err)
	}
	defer unix.Close(rfd)
	size, err := fileSize(rfd)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", id, err)
	}
	start := idx * bs
	if start > size || (start == size && size > 0) {
		return nil, fmt.Errorf("block %d: the file holds %d bytes, the block would start at %d", id, size, start)
	}
	n := min(bs, size-start)
	v := &BlockView{GenStamp: gs}
	if n == 0 {
		return v, nil
	}
	page := int64(os.Getpagesize())
	aligned := start &^ (page - 1)
	m, err := unix.Mmap(rfd, aligned, int(start-aligned+n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("block %d: map %d bytes: %w", id, n, err)
	}
	v.mapping, v.Data = m, m[start-aligned:]
	return v, nil
}

// BlockWriter takes the bytes of one block the DataNode receives, written
// through to the file at the block's offset.
type BlockWriter struct {
	fs     *FS
	of     *openFile
	start  int64 // the block's offset in the file
	Length int64 // the block's length before the write (minBytesRcvd)
	Limit  int64 // the block size
}

// WriteBlock opens block id of holder's open file for the DataNode. A new
// block (appendStage false) must be the last block allocated and start at the
// end of the file; an append continues the file's partial last block at
// minBytes.
func (fs *FS) WriteBlock(id int64, holder string, appendStage bool, minBytes int64) (*BlockWriter, error) {
	ino, idx := SplitBlockID(id)
	of := fs.openOf(ino)
	if of == nil || of.closed.Load() {
		return nil, fmt.Errorf("block %d: the file is not open for writing (closed, deleted or its lease recovered)", id)
	}
	if of.holder != holder {
		// An empty client name is no wildcard: only the lease holder writes.
		return nil, newErr(ClassLeaseExpired, "block %d: client %q does not hold the lease of %s (%s does)", id, holder, fs.where(of), of.holder)
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	size, err := fileSize(of.fd)
	if err != nil {
		return nil, err
	}
	start := idx * of.bs
	switch {
	case !appendStage && (idx != of.last || size != start || minBytes != 0):
		return nil, fmt.Errorf("block %d: not the block allocated last (file has %d bytes, block would start at %d)", id, size, start)
	case appendStage && (idx != of.last || size != start+minBytes):
		return nil, fmt.Errorf("block %d: append at %d but the block holds %d bytes", id, minBytes, size-start)
	}
	return &BlockWriter{fs: fs, of: of, start: start, Length: minBytes, Limit: of.bs}, nil
}

// WriteAt writes p at off within the block.
func (bw *BlockWriter) WriteAt(p []byte, off int64) (int, error) {
	of := bw.of
	of.mu.Lock()
	defer of.mu.Unlock()
	if of.closed.Load() {
		return 0, fmt.Errorf("%s: the file was closed while it was written (lease recovered, deleted or replaced)", bw.fs.where(of))
	}
	if off+int64(len(p)) > bw.Limit {
		return 0, fmt.Errorf("%s: a write past the block size %d", bw.fs.where(of), bw.Limit)
	}
	n, err := unix.Pwrite(of.fd, p, bw.start+off)
	if err != nil {
		return n, ioErr("write", bw.fs.where(of).String(), err)
	}
	return n, nil
}

// Sync makes the block's bytes durable.
func (bw *BlockWriter) Sync() error {
	of := bw.of
	of.mu.Lock()
	defer of.mu.Unlock()
	if of.closed.Load() {
		return fmt.Errorf("%s: the file was closed while it was written", bw.fs.where(of))
	}
	if err := unix.Fdatasync(of.fd); err != nil {
		return ioErr("fsync", bw.fs.where(of).String(), err)
	}
	return nil
}
