//go:build linux

package pmem

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/marvel-serverless/marvel/pmem/internal/flush"
)

var testPage = int64(unix.Getpagesize())

// shmDir returns a fresh directory on /dev/shm (tmpfs), removed after the
// test.
func shmDir(t *testing.T) string {
	t.Helper()
	var sfs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &sfs); err != nil || int64(sfs.Type) != unix.TMPFS_MAGIC {
		t.Skip("/dev/shm is not a tmpfs here")
	}
	dir, err := os.MkdirTemp("/dev/shm", "marvel-region-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// diskDir returns t.TempDir(), skipping if it is not on a disk filesystem.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sfs unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &sfs))
	if int64(sfs.Type) == unix.TMPFS_MAGIC || int64(sfs.Type) == unix.RAMFS_MAGIC {
		t.Skipf("%s is on a memory filesystem, not a disk", dir)
	}
	return dir
}

type regionFS struct {
	name   string
	dir    func(*testing.T) string
	method string // method auto-detection must pick
}

var regionFSes = []regionFS{
	{"tmpfs", shmDir, "fence"},
	{"disk", diskDir, "msync"},
}

// forEachFS runs f on a tmpfs directory and on a disk directory.
func forEachFS(t *testing.T, f func(t *testing.T, dir string, fsys regionFS)) {
	for _, fsys := range regionFSes {
		t.Run(fsys.name, func(t *testing.T) { f(t, fsys.dir(t), fsys) })
	}
}

// mustCreate creates a region closed at the end of the test.
func mustCreate(t *testing.T, path string, size int64, opts RegionOptions) *Region {
	t.Helper()
	r, err := CreateRegion(path, size, opts)
	require.NoError(t, err)
	if r.Mode() == ModeFSDax {
		r.Close()
		t.Skipf("%s is DAX-mounted; this test needs an emulated region", filepath.Dir(path))
	}
	t.Cleanup(func() { closeQuietly(r) })
	return r
}

func mustOpen(t *testing.T, path string, opts RegionOptions) *Region {
	t.Helper()
	r, err := OpenRegion(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { closeQuietly(r) })
	return r
}

func closeQuietly(r *Region) {
	if err := r.Close(); err != nil && !errors.Is(err, ErrClosed) {
		panic(err)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i/251)
	}
	return b
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

func TestRegionAutoDetect(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		path := filepath.Join(dir, "r")
		r := mustCreate(t, path, 10000, RegionOptions{})
		want := roundUp(10000, testPage)
		require.Equal(t, ModeEmulated, r.Mode())
		require.Equal(t, fsys.method, r.Method())
		require.Equal(t, path, r.Path())
		require.Equal(t, want, r.Size())
		require.Len(t, r.Bytes(), int(want))
		require.Equal(t, want, fileSize(t, path))

		// The space is reserved, not sparse.
		var st unix.Stat_t
		require.NoError(t, unix.Stat(path, &st))
		require.GreaterOrEqual(t, st.Blocks*512, want)

		s := r.Stats()
		require.Equal(t, MediumStats{Mode: ModeEmulated, Method: fsys.method, Path: path, Size: want}, s)

		if fsys.method == "fence" {
			require.Equal(t, persistFence, r.persist)
		} else {
			require.Equal(t, persistMsync, r.persist)
		}

		// Forcing emulated gives the same.
		require.NoError(t, r.Close())
		r2 := mustOpen(t, path, RegionOptions{Mode: ModeEmulated})
		require.Equal(t, ModeEmulated, r2.Mode())
		require.Equal(t, fsys.method, r2.Method())
	})
}

func TestRegionForceFSDaxNotDAX(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		path := filepath.Join(dir, "r")
		_, err := CreateRegion(path, 1<<20, RegionOptions{Mode: ModeFSDax})
		require.ErrorIs(t, err, ErrNotDAX)
		require.ErrorIs(t, err, unix.EOPNOTSUPP)
		require.ErrorContains(t, err, "MAP_SYNC refused (EOPNOTSUPP)")
		require.ErrorContains(t, err, path)
		require.ErrorContains(t, err, "--pmem emulated")
		_, statErr := os.Lstat(path)
		require.ErrorIs(t, statErr, fs.ErrNotExist, "a failed create must not leave the file behind")

		// Opening an existing non-DAX file in fsdax mode fails the same way,
		// and releases the lock.
		r := mustCreate(t, path, 1<<20, RegionOptions{})
		require.NoError(t, r.Close())
		_, err = OpenRegion(path, RegionOptions{Mode: ModeFSDax})
		require.ErrorIs(t, err, ErrNotDAX)
		require.ErrorContains(t, err, "EOPNOTSUPP")
		mustOpen(t, path, RegionOptions{})
	})
}

func TestRegionForceDevdaxOnRegularFile(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		path := filepath.Join(dir, "r")
		_, err := CreateRegion(path, 1<<20, RegionOptions{Mode: ModeDevDax})
		require.ErrorIs(t, err, ErrNotDAX)
		_, statErr := os.Lstat(path)
		require.ErrorIs(t, statErr, fs.ErrNotExist)

		r := mustCreate(t, path, 1<<20, RegionOptions{})
		require.NoError(t, r.Close())
		_, err = OpenRegion(path, RegionOptions{Mode: ModeDevDax})
		require.ErrorIs(t, err, ErrNotDAX)
		require.ErrorContains(t, err, "regular file")
		require.ErrorContains(t, err, path)
		mustOpen(t, path, RegionOptions{}) // the lock was released
	})
}

func TestRegionInvalidArguments(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int64{0, -1} {
		_, err := CreateRegion(filepath.Join(dir, "r"), size, RegionOptions{})
		require.ErrorIs(t, err, ErrInvalid)
	}
	_, err := CreateRegion(filepath.Join(dir, "r"), 4096, RegionOptions{ReadOnly: true})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = CreateRegion(filepath.Join(dir, "r"), 4096, RegionOptions{Mode: ModeSimulated})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = OpenRegion(filepath.Join(dir, "r"), RegionOptions{Mode: Mode(42)})
	require.ErrorIs(t, err, ErrInvalid)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)

	// A directory is not a region; an empty file is a truncated one.
	_, err = OpenRegion(dir, RegionOptions{ReadOnly: true})
	require.ErrorIs(t, err, ErrInvalid)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = OpenRegion(empty, RegionOptions{})
	require.ErrorIs(t, err, ErrTruncated)
	_, err = OpenRegion(empty, RegionOptions{ReadOnly: true})
	require.ErrorIs(t, err, ErrTruncated)
	// The failed opens left no lock behind.
	require.NoError(t, os.WriteFile(empty, make([]byte, 4096), 0o600))
	mustOpen(t, empty, RegionOptions{})
}

func TestRegionPersistsAcrossReopen(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		path := filepath.Join(dir, "r")
		r := mustCreate(t, path, 3*testPage, RegionOptions{})
		a := pattern(int(testPage)+100, 1)
		b := pattern(500, 99)
		copy(r.Bytes()[10:], a)
		r.Flush(10, int64(len(a)))
		r.CopyNT(2*testPage+7, b)
		require.NoError(t, r.Fence())
		require.NoError(t, r.Close())

		want := make([]byte, 3*testPage)
		copy(want[10:], a)
		copy(want[2*testPage+7:], b)

		onDisk, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, onDisk), "file contents differ")

		r2 := mustOpen(t, path, RegionOptions{})
		require.Equal(t, 3*testPage, r2.Size())
		require.True(t, bytes.Equal(want, r2.Bytes()), "mapped contents differ after reopen")
		require.NoError(t, r2.Close())

		ro := mustOpen(t, path, RegionOptions{ReadOnly: true})
		require.Equal(t, fsys.method, ro.Method())
		require.True(t, bytes.Equal(want, ro.Bytes()), "read-only contents differ")
	})
}

func TestRegionGrow(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		path := filepath.Join(dir, "r")
		r := mustCreate(t, path, 100, RegionOptions{})
		require.Equal(t, testPage, r.Size())
		a := pattern(int(testPage), 5)
		r.CopyNT(0, a)
		r.Flush(0, 10)
		require.NoError(t, r.Fence())

		require.NoError(t, r.Grow(r.Size()))   // not larger: no-op
		require.NoError(t, r.Grow(testPage/2)) // never shrinks
		require.Equal(t, testPage, r.Size())
		require.Zero(t, r.Stats().Grows)

		require.NoError(t, r.Grow(3*testPage+1))
		require.Equal(t, 4*testPage, r.Size())
		require.Equal(t, 4*testPage, fileSize(t, path))
		got := r.Bytes()
		require.Len(t, got, int(4*testPage))
		require.True(t, bytes.Equal(a, got[:testPage]), "contents lost by Grow")
		require.True(t, bytes.Equal(make([]byte, 3*testPage), got[testPage:]), "grown bytes are not zero")

		// The new range works.
		b := pattern(100, 42)
		copy(got[4*testPage-100:], b)
		r.Flush(4*testPage-100, 100)
		require.NoError(t, r.Fence())

		s := r.Stats()
		require.Equal(t, uint64(1), s.Grows)
		require.Equal(t, uint64(2), s.Flushes)
		require.Equal(t, uint64(110), s.FlushBytes)
		require.Equal(t, uint64(testPage), s.NTBytes)
		require.Equal(t, uint64(2), s.Fences)
		require.Equal(t, 4*testPage, s.Size)

		require.NoError(t, r.Close())
		r2 := mustOpen(t, path, RegionOptions{})
		require.Equal(t, 4*testPage, r2.Size())
		require.True(t, bytes.Equal(a, r2.Bytes()[:testPage]))
		require.True(t, bytes.Equal(b, r2.Bytes()[4*testPage-100:]))
	})
}

func TestRegionExistNotExist(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r")
	_, err := OpenRegion(path, RegionOptions{})
	require.ErrorIs(t, err, ErrNotExist)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)

	r := mustCreate(t, path, testPage, RegionOptions{})
	copy(r.Bytes(), "keep")
	require.NoError(t, r.Close())

	_, err = CreateRegion(path, testPage, RegionOptions{})
	require.ErrorIs(t, err, ErrExist)
	require.ErrorContains(t, err, path)
	// The failed create left the existing file alone.
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "keep", string(got[:4]))

	_, err = CreateRegion(filepath.Join(dir, "missing", "r"), testPage, RegionOptions{})
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestRegionLocked(t *testing.T) {
	path := filepath.Join(shmDir(t), "r")
	r := mustCreate(t, path, testPage, RegionOptions{})

	_, err := OpenRegion(path, RegionOptions{})
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorContains(t, err, path)
	_, err = OpenRegion(path, RegionOptions{ReadOnly: true})
	require.ErrorIs(t, err, ErrLocked, "a read-only open must not share a read-write region")

	require.NoError(t, r.Close())
	ro1 := mustOpen(t, path, RegionOptions{ReadOnly: true})
	ro2 := mustOpen(t, path, RegionOptions{ReadOnly: true})
	_, err = OpenRegion(path, RegionOptions{})
	require.ErrorIs(t, err, ErrLocked, "a read-write open must not share with readers")

	require.NoError(t, ro1.Close())
	require.NoError(t, ro2.Close())
	mustOpen(t, path, RegionOptions{})
}

func TestRegionReadOnly(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		path := filepath.Join(dir, "r")
		w := mustCreate(t, path, testPage, RegionOptions{})
		copy(w.Bytes(), "hello")
		w.Flush(0, 5)
		require.NoError(t, w.Fence())
		require.NoError(t, w.Close())

		r := mustOpen(t, path, RegionOptions{ReadOnly: true})
		require.Equal(t, "hello", string(r.Bytes()[:5]))
		err := r.Fence()
		require.ErrorIs(t, err, ErrReadOnly)
		require.ErrorContains(t, err, path)
		require.ErrorIs(t, r.Grow(2*testPage), ErrReadOnly)
		require.ErrorIs(t, r.Rename(path+".2"), ErrReadOnly)
		r.Flush(0, 5)            // no-op
		r.CopyNT(0, []byte("x")) // no-op, must not fault on the PROT_READ mapping
		require.Equal(t, "hello", string(r.Bytes()[:5]))
		s := r.Stats()
		require.Zero(t, s.Flushes+s.NTBytes+s.Fences+s.Grows)
		require.Equal(t, testPage, s.Size)
	})
}

func TestRegionClosed(t *testing.T) {
	path := filepath.Join(shmDir(t), "r")
	r := mustCreate(t, path, testPage, RegionOptions{})
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.Close(), ErrClosed)
	require.ErrorIs(t, r.Fence(), ErrClosed)
	require.ErrorIs(t, r.Grow(2*testPage), ErrClosed)
	require.ErrorIs(t, r.Rename(path+".2"), ErrClosed)
	r.Flush(0, 10)           // no-op, no fault
	r.CopyNT(0, []byte("x")) // no-op, no fault
	require.Nil(t, r.Bytes())
	require.Zero(t, r.Size())
	require.Equal(t, path, r.Stats().Path)
	// Close released the lock.
	mustOpen(t, path, RegionOptions{})
}

func TestRegionOutOfBounds(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		r := mustCreate(t, filepath.Join(dir, "r"), 2*testPage, RegionOptions{})
		size := r.Size()
		r.Flush(-5, 10)
		r.Flush(size-1, 100)
		r.Flush(size+10, 5)
		r.Flush(0, -1)
		r.Flush(1<<62, 1<<62)
		r.CopyNT(size-2, []byte("abcd"))
		r.CopyNT(-2, []byte("wxyz"))
		r.CopyNT(size, []byte("zzz"))
		r.CopyNT(-100, []byte("q"))
		require.NoError(t, r.Fence())
		b := r.Bytes()
		require.Equal(t, "ab", string(b[size-2:]))
		require.Equal(t, "yz", string(b[:2]))
		s := r.Stats()
		require.Equal(t, uint64(5), s.Flushes)
		require.Equal(t, uint64(5+1), s.FlushBytes)
		require.Equal(t, uint64(4), s.NTBytes)
	})
}

func TestRegionMsyncDirtyRanges(t *testing.T) {
	r := mustCreate(t, filepath.Join(diskDir(t), "r"), 8*testPage, RegionOptions{})
	require.Equal(t, "msync", r.Method())
	p := testPage
	r.Flush(10, 20)          // page 0
	r.Flush(p-1, 2)          // pages 0-1
	r.Flush(5*p+3, 1)        // page 5
	r.CopyNT(3*p, []byte{1}) // page 3
	r.Flush(2*p, 1)          // page 2: joins 0-1 and 3
	r.Flush(5*p, p)          // page 5 again
	require.Equal(t, []pageRange{{0, 4 * p}, {5 * p, 6 * p}}, r.dirty.ranges())
	require.NoError(t, r.Fence())
	require.Empty(t, r.dirty.ranges())
	require.NoError(t, r.Fence()) // nothing to sync
}

func TestRegionFenceMethodKeepsNoDirtyRanges(t *testing.T) {
	r := mustCreate(t, filepath.Join(shmDir(t), "r"), 4*testPage, RegionOptions{})
	require.Equal(t, "fence", r.Method())
	r.Flush(0, 3*testPage)
	r.CopyNT(testPage, []byte("abc"))
	require.Empty(t, r.dirty.ranges())
	require.NoError(t, r.Fence())
	require.Equal(t, uint64(1), r.Stats().Fences)
}

// TestRegionMsyncFailureKeepsDirtyRanges punches a hole in the mapping so
// that msync fails, and checks Fence reports it and retries the range later.
func TestRegionMsyncFailureKeepsDirtyRanges(t *testing.T) {
	path := filepath.Join(diskDir(t), "r")
	r := mustCreate(t, path, 3*testPage, RegionOptions{})
	require.Equal(t, "msync", r.Method())
	p := testPage
	r.Flush(0, 1)
	r.Flush(2*p, 1)
	hole := unsafe.Pointer(&r.Bytes()[2*p])
	require.NoError(t, unix.MunmapPtr(hole, uintptr(p)))

	err := r.Fence()
	require.ErrorIs(t, err, unix.ENOMEM)
	require.ErrorContains(t, err, path)
	require.Equal(t, []pageRange{{2 * p, 3 * p}}, r.dirty.ranges(), "the failed range must stay dirty, the synced one go")

	// Map the page back where it was; the retry succeeds.
	_, err = unix.MmapPtr(r.fd, 2*p, hole, uintptr(p), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED)
	require.NoError(t, err)
	require.NoError(t, r.Fence())
	require.Empty(t, r.dirty.ranges())
}

func TestRegionFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})

	big := filepath.Join(dir, "big")
	_, err := CreateRegion(big, 4<<20, RegionOptions{})
	require.ErrorIs(t, err, unix.ENOSPC)
	require.ErrorContains(t, err, big)
	require.ErrorContains(t, err, "4194304")
	_, statErr := os.Lstat(big)
	require.ErrorIs(t, statErr, fs.ErrNotExist, "the partial file must be removed")

	path := filepath.Join(dir, "small")
	r := mustCreate(t, path, 256<<10, RegionOptions{})
	a := pattern(256<<10, 3)
	copy(r.Bytes(), a)
	r.Flush(0, int64(len(a)))
	require.NoError(t, r.Fence())

	err = r.Grow(4 << 20)
	require.ErrorIs(t, err, unix.ENOSPC)
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "4194304")
	require.Equal(t, int64(256<<10), r.Size())
	require.Equal(t, int64(256<<10), fileSize(t, path), "the file size must be rolled back")
	require.True(t, bytes.Equal(a, r.Bytes()))
	require.Zero(t, r.Stats().Grows)

	// The region still works at its old size, and can grow within the space.
	r.Bytes()[len(a)-1] = 0xEE
	r.Flush(int64(len(a))-1, 1)
	require.NoError(t, r.Fence())
	require.NoError(t, r.Grow(512<<10))
	require.Equal(t, byte(0xEE), r.Bytes()[len(a)-1])
	require.True(t, bytes.Equal(make([]byte, 256<<10), r.Bytes()[256<<10:]))
}

func TestRegionRename(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		tmp := filepath.Join(dir, ".r.tmp")
		final := filepath.Join(dir, "r")
		r := mustCreate(t, tmp, testPage, RegionOptions{})
		copy(r.Bytes(), "formatted")
		r.Flush(0, 9)
		require.NoError(t, r.Fence())
		require.NoError(t, r.Rename(final))
		require.Equal(t, final, r.Path())
		require.Equal(t, final, r.Stats().Path)
		_, err := os.Lstat(tmp)
		require.ErrorIs(t, err, fs.ErrNotExist)
		_, err = OpenRegion(final, RegionOptions{})
		require.ErrorIs(t, err, ErrLocked, "the lock follows the file")
		require.NoError(t, r.Close())

		r2 := mustOpen(t, final, RegionOptions{})
		require.Equal(t, "formatted", string(r2.Bytes()[:9]))

		err = r2.Rename(filepath.Join(dir, "missing", "r"))
		require.Error(t, err)
		require.Equal(t, final, r2.Path(), "a failed rename keeps the path")
	})
}

func TestRegionLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	path := filepath.Join(shmDir(t), "r")
	mustCreate(t, path, testPage, RegionOptions{Logger: log})
	out := buf.String()
	require.Contains(t, out, "region mapped")
	require.Contains(t, out, "path="+path)
	require.Contains(t, out, "bytes=4096")
	require.Contains(t, out, "mode=emulated")
	require.Contains(t, out, "method=fence")
}

// TestRegionConcurrentReaders runs Bytes/Size/Stats/Path against a writer
// that flushes, fences and grows (for the race detector).
func TestRegionConcurrentReaders(t *testing.T) {
	forEachFS(t, func(t *testing.T, dir string, fsys regionFS) {
		r := mustCreate(t, filepath.Join(dir, "r"), testPage, RegionOptions{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					s := r.Stats()
					if int64(len(r.Bytes())) < testPage || r.Size() < testPage || s.Size < testPage || r.Path() == "" {
						panic("bad concurrent view")
					}
				}
			})
		}
		for i := range 40 {
			r.CopyNT(int64(i)*8, []byte("12345678"))
			r.Flush(int64(i)*8, 8)
			require.NoError(t, r.Fence())
			if i%10 == 9 {
				require.NoError(t, r.Grow(r.Size()+testPage))
			}
		}
		close(stop)
		wg.Wait()
		s := r.Stats()
		require.Equal(t, uint64(4), s.Grows)
		require.Equal(t, uint64(40), s.Fences)
		require.Equal(t, uint64(40), s.Flushes)
		require.Equal(t, uint64(320), s.NTBytes)
		require.Equal(t, 5*testPage, r.Size())
	})
}

// fakeSysfs builds a sysfs tree under a temp dir with a device-DAX entry for
// majMin, whose attributes are given (name → contents; "" omits it).
func fakeSysfs(t *testing.T, majMin string, dax bool, attrs map[string]string) string {
	t.Helper()
	root := t.TempDir()
	devDir := filepath.Join(root, "devices", "platform", "e820_pmem", "ndbus0", "region0", "dax0.0", "dax0.0")
	if !dax {
		devDir = filepath.Join(root, "devices", "virtual", "mem", "zero")
	}
	require.NoError(t, os.MkdirAll(devDir, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bus", "dax"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "class", "mem"), 0o755))
	sub := filepath.Join(root, "bus", "dax")
	if !dax {
		sub = filepath.Join(root, "class", "mem")
	}
	rel, err := filepath.Rel(devDir, sub)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(rel, filepath.Join(devDir, "subsystem")))
	for name, v := range attrs {
		p := filepath.Join(devDir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(v), 0o444))
	}
	charDir := filepath.Join(root, "dev", "char")
	require.NoError(t, os.MkdirAll(charDir, 0o755))
	rel, err = filepath.Rel(charDir, devDir)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(rel, filepath.Join(charDir, majMin)))
	return root
}

func TestDevdaxSysfs(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name      string
		dax       bool
		attrs     map[string]string
		wantSize  int64
		wantAlign int64
		wantErr   error // nil: success
		errText   string
	}{
		{"size and align", true, map[string]string{"size": "8589934592\n", "align": "1073741824\n"}, 8 * gib, gib, nil, ""},
		{"align absent: 2 MiB", true, map[string]string{"size": "4194304\n"}, 4 << 20, 2 << 20, nil, ""},
		{"old kernel dax_region align", true, map[string]string{"size": "8388608\n", "device/dax_region/align": "4096\n"}, 8 << 20, 4096, nil, ""},
		{"size not a multiple of align", true, map[string]string{"size": "3145728\n", "align": "2097152\n"}, 0, 0, ErrInvalid, "not a multiple of its alignment"},
		{"size not a multiple of default align", true, map[string]string{"size": "3145728\n"}, 0, 0, ErrInvalid, "2097152"},
		{"size zero", true, map[string]string{"size": "0\n"}, 0, 0, ErrInvalid, "size 0"},
		{"size malformed", true, map[string]string{"size": "lots\n"}, 0, 0, ErrInvalid, "lots"},
		{"align malformed", true, map[string]string{"size": "4194304\n", "align": "3000\n"}, 0, 0, ErrInvalid, "power of two"},
		{"size missing", true, map[string]string{"align": "4096\n"}, 0, 0, nil, "missing"},
		{"not dax", false, map[string]string{"size": "4194304\n"}, 0, 0, ErrNotDAX, "not a device-DAX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeSysfs(t, "252:0", tc.dax, tc.attrs)
			info, err := readDevDax(root, "252:0")
			if tc.errText != "" {
				require.Error(t, err)
				require.ErrorContains(t, err, tc.errText)
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, "dax0.0", info.Name)
			require.Equal(t, tc.wantSize, info.Size)
			require.Equal(t, tc.wantAlign, info.Align)
		})
	}

	t.Run("no entry", func(t *testing.T) {
		root := fakeSysfs(t, "252:0", true, map[string]string{"size": "4194304"})
		_, err := readDevDax(root, "252:1")
		require.ErrorIs(t, err, ErrNotDAX)
		require.ErrorContains(t, err, "no sysfs entry")
	})
	t.Run("class layout without subsystem link", func(t *testing.T) {
		root := t.TempDir()
		devDir := filepath.Join(root, "devices", "platform", "region0", "dax0.0", "dax", "dax0.0")
		require.NoError(t, os.MkdirAll(devDir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(devDir, "size"), []byte("2097152\n"), 0o444))
		require.NoError(t, os.MkdirAll(filepath.Join(root, "dev", "char"), 0o755))
		require.NoError(t, os.Symlink("../../devices/platform/region0/dax0.0/dax/dax0.0", filepath.Join(root, "dev", "char", "252:3")))
		info, err := readDevDax(root, "252:3")
		require.NoError(t, err)
		require.Equal(t, int64(2<<20), info.Size)

		// Without a dax component or subsystem link it is not dax.
		other := filepath.Join(root, "devices", "virtual", "misc", "foo")
		require.NoError(t, os.MkdirAll(other, 0o755))
		require.NoError(t, os.Symlink("../../devices/virtual/misc/foo", filepath.Join(root, "dev", "char", "10:1")))
		_, err = readDevDax(root, "10:1")
		require.ErrorIs(t, err, ErrNotDAX)
	})
	t.Run("bad device number", func(t *testing.T) {
		_, err := readDevDax(t.TempDir(), "../x")
		require.ErrorIs(t, err, ErrInvalid)
	})
}

// mknodZero makes a private character device node for /dev/zero (1:5), so a
// test can open and flock a character device without touching /dev.
func mknodZero(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	path := filepath.Join(t.TempDir(), "dax0.0")
	if err := unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))); err != nil {
		t.Skipf("cannot mknod: %v", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Skipf("cannot open a device node here: %v", err)
	}
	f.Close()
	return path
}

// TestDevdaxOpenFakeDevice maps a character device that a fake sysfs tree
// declares device-DAX (it is really /dev/zero, which can be mapped shared).
func TestDevdaxOpenFakeDevice(t *testing.T) {
	path := mknodZero(t)
	root := fakeSysfs(t, "1:5", true, map[string]string{"size": "4194304\n", "align": "2097152\n"})

	_, err := OpenRegion(path, RegionOptions{SysfsRoot: root, Mode: ModeEmulated})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = OpenRegion(path, RegionOptions{SysfsRoot: root, Mode: ModeFSDax})
	require.ErrorIs(t, err, ErrInvalid)

	r, err := OpenRegion(path, RegionOptions{SysfsRoot: root})
	if flush.Best() == flush.InstrNone {
		require.ErrorIs(t, err, ErrNotDAX)
		require.ErrorContains(t, err, "cache-line write-back")
		return
	}
	require.NoError(t, err)
	t.Cleanup(func() { closeQuietly(r) })
	require.Equal(t, ModeDevDax, r.Mode())
	require.Equal(t, flush.Best().String(), r.Method())
	require.Equal(t, int64(4<<20), r.Size())
	require.ErrorIs(t, r.Grow(8<<20), ErrCannotGrow)
	require.NoError(t, r.Grow(1<<20)) // not larger: no-op
	require.ErrorIs(t, r.Rename(path+".x"), ErrInvalid)
	r.CopyNT(100, []byte("devdax"))
	r.Flush(0, 4<<20)
	require.NoError(t, r.Fence())
	require.Equal(t, "devdax", string(r.Bytes()[100:106]))

	_, err = OpenRegion(path, RegionOptions{SysfsRoot: root, Mode: ModeDevDax})
	require.ErrorIs(t, err, ErrLocked)
}

func TestDevdaxCharDeviceNotDax(t *testing.T) {
	path := mknodZero(t)
	root := fakeSysfs(t, "1:5", false, map[string]string{})
	_, err := OpenRegion(path, RegionOptions{SysfsRoot: root})
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "not device-DAX")
	_, err = OpenRegion(path, RegionOptions{SysfsRoot: root, Mode: ModeDevDax})
	require.ErrorIs(t, err, ErrNotDAX)
	require.ErrorContains(t, err, path)

	empty := t.TempDir()
	_, err = OpenRegion(path, RegionOptions{SysfsRoot: empty, Mode: ModeDevDax})
	require.ErrorIs(t, err, ErrNotDAX)
	require.ErrorContains(t, err, "no sysfs entry")
}
