//go:build linux

package pmem_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/internal/flush"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
)

// The tests in this file need real DAX: they run inside the qemu guest that
// scripts/dax-guest.sh boots with emulated NVDIMMs (docs/dax-guest.md), and
// skip everywhere else. They are driven by environment variables:
//
//	MARVEL_DAX_DIR     a directory on an ext4/xfs filesystem mounted -o dax
//	MARVEL_DAX_DEV     a device-DAX character device (/dev/daxX.Y) they may wipe
//	MARVEL_DAX_REBOOT  1 on a second boot of the same NVDIMMs (TestDAXReboot)

// rebootRegion is the region TestDAXGuestReboot leaves in MARVEL_DAX_DIR (and
// on MARVEL_DAX_DEV) for TestDAXReboot to find after the guest restarts.
const rebootRegion = "dax-guest.reboot"

// rebootKeys are the writes TestDAXGuestReboot makes: small values take the
// flush path, large ones (at least the 4 KiB NT threshold) the non-temporal
// path.
func rebootKeys() map[string][]byte {
	return map[string][]byte{
		"small":  value("small", 1, 100),
		"medium": value("medium", 2, 3000),
		"large":  value("large", 3, 200_000),
		"empty":  {},
	}
}

// daxDir returns a fresh directory under $MARVEL_DAX_DIR, or skips.
func daxDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("MARVEL_DAX_DIR")
	if root == "" {
		t.Skip("MARVEL_DAX_DIR is not set: this test needs a filesystem mounted -o dax; run scripts/dax-guest.sh (docs/dax-guest.md)")
	}
	dir, err := os.MkdirTemp(root, "t-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// daxDev returns $MARVEL_DAX_DEV, or skips.
func daxDev(t *testing.T) string {
	t.Helper()
	dev := os.Getenv("MARVEL_DAX_DEV")
	if dev == "" {
		t.Skip("MARVEL_DAX_DEV is not set: this test needs a device-DAX device it may wipe; run scripts/dax-guest.sh (docs/dax-guest.md)")
	}
	return dev
}

// requireCPUFlush checks that a DAX region persists with a weakly ordered
// cache-line write-back instruction, the path DAX is meant to take.
func requireCPUFlush(t *testing.T, method string) {
	t.Helper()
	best := flush.Best()
	require.Contains(t, []flush.Instr{flush.InstrCLWB, flush.InstrCLFLUSHOPT}, best,
		"the CPU offers %v at best; boot the guest with -cpu max (or a CPU model with clwb/clflushopt)", best)
	require.Equal(t, best.String(), method, "a DAX region must persist with the CPU's best write-back instruction")
}

// vmFlags returns the VmFlags line of /proc/self/smaps for the mapping that
// holds address p ("sf" there is VM_SYNC: the mapping was made with MAP_SYNC).
func vmFlags(t *testing.T, p uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := smapsRange(line); ok {
			in = p >= lo && p < hi
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.Fields(rest)
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds address %#x in /proc/self/smaps", p)
	return nil
}

// smapsRange parses the "lo-hi perms ..." header line of an smaps entry.
func smapsRange(line string) (lo, hi uintptr, ok bool) {
	r, _, found := strings.Cut(line, " ")
	a, b, found2 := strings.Cut(r, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}

// exercise writes a pattern into r through Flush and CopyNT, fences, and
// checks the counters moved. It returns the bytes written at offset 0.
func exercise(t *testing.T, r *pmem.Region) []byte {
	t.Helper()
	before := r.Stats()
	a := value("flushed", 1, 10_000)
	b := value("nt", 2, 70_000)
	copy(r.Bytes()[0:], a)
	r.Flush(0, int64(len(a)))
	r.CopyNT(int64(len(a)), b)
	require.NoError(t, r.Fence())
	st := r.Stats()
	require.Equal(t, before.Flushes+1, st.Flushes)
	require.Equal(t, before.FlushBytes+uint64(len(a)), st.FlushBytes)
	require.Equal(t, before.NTBytes+uint64(len(b)), st.NTBytes)
	require.Equal(t, before.Fences+1, st.Fences)
	t.Logf("%s: mode %v, method %s, %d flushes (%d bytes), %d NT bytes, %d fences",
		st.Path, st.Mode, st.Method, st.Flushes, st.FlushBytes, st.NTBytes, st.Fences)
	return append(a, b...)
}

// TestDAXGuestFSDaxRegion: on a DAX mount, auto-detection picks fsdax (the
// kernel accepted MAP_SYNC, and the mapping carries VM_SYNC), persistence is
// the CPU's write-back instruction, and what was fenced is there after
// reopening, also in a forced-fsdax and a read-only open. Growth keeps
// MAP_SYNC.
func TestDAXGuestFSDaxRegion(t *testing.T) {
	dir := daxDir(t)
	path := filepath.Join(dir, "r")
	r, err := pmem.CreateRegion(path, 1<<20, pmem.RegionOptions{})
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, pmem.ModeFSDax, r.Mode(), "MAP_SYNC was refused on %s", dir)
	requireCPUFlush(t, r.Method())
	require.Contains(t, vmFlags(t, uintptr(unsafe.Pointer(&r.Bytes()[0]))), "sf", "the mapping is not MAP_SYNC (VM_SYNC)")
	want := exercise(t, r)

	// Growth remaps (mremap keeps MAP_SYNC) and the region stays fsdax.
	require.NoError(t, r.Grow(4<<20))
	require.Equal(t, int64(4<<20), r.Size())
	require.Equal(t, uint64(1), r.Stats().Grows)
	require.Contains(t, vmFlags(t, uintptr(unsafe.Pointer(&r.Bytes()[0]))), "sf", "the grown mapping lost MAP_SYNC")
	tail := value("grown", 3, 5000)
	copy(r.Bytes()[3<<20:], tail)
	r.Flush(3<<20, int64(len(tail)))
	require.NoError(t, r.Fence())
	require.NoError(t, r.Close())

	for _, o := range []pmem.RegionOptions{{}, {Mode: pmem.ModeFSDax}, {ReadOnly: true}} {
		r2, err := pmem.OpenRegion(path, o)
		require.NoError(t, err)
		require.Equal(t, pmem.ModeFSDax, r2.Mode())
		requireCPUFlush(t, r2.Method())
		require.True(t, bytes.Equal(want, r2.Bytes()[:len(want)]), "fenced bytes differ after reopen (%+v)", o)
		require.True(t, bytes.Equal(tail, r2.Bytes()[3<<20:3<<20+len(tail)]), "bytes in the grown part differ after reopen")
		require.NoError(t, r2.Close())
	}

	// Forcing devdax on a file still fails, with ErrNotDAX.
	_, err = pmem.OpenRegion(path, pmem.RegionOptions{Mode: pmem.ModeDevDax})
	require.ErrorIs(t, err, pmem.ErrNotDAX)
}

// TestDAXGuestFSDaxStore: a store in a DAX namespace reports fsdax and the
// CPU flush method, moves the flush, non-temporal and fence counters on
// puts, and reads back everything after reopening.
func TestDAXGuestFSDaxStore(t *testing.T) {
	dir := daxDir(t)
	s, err := pmem.Create(dir, "fn.guest.state", pmem.Options{Owner: "fn:guest/state", InitialSize: 64 << 10})
	require.NoError(t, err)
	info := s.Info()
	require.Equal(t, pmem.ModeFSDax, info.Mode)
	require.Equal(t, pmem.ModeFSDax, info.CreatedMode)
	requireCPUFlush(t, info.Method)
	want := state{}
	for i := range 300 {
		k := fmt.Sprintf("k%03d", i%50)
		n := 10 + (i*7919)%6000
		if i%37 == 0 {
			n = 50_000 + i*100 // non-temporal
		}
		v := value(k, i, n)
		require.NoError(t, s.Put(k, v))
		want[k] = v
	}
	st := s.Stats()
	t.Logf("store: %d puts, %d compactions, %d grows; medium %+v", st.Puts, st.Compactions, st.Grows, st.Medium)
	require.Positive(t, st.Medium.Flushes, "no Flush reached the DAX region")
	require.Positive(t, st.Medium.FlushBytes)
	require.Positive(t, st.Medium.NTBytes, "no non-temporal copy reached the DAX region")
	require.Positive(t, st.Medium.Fences)
	require.Positive(t, st.Grows, "the store never grew its fsdax file")
	require.NoError(t, s.Close())

	s, err = pmem.Open(dir, "fn.guest.state", pmem.Options{VerifyOnOpen: true})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, pmem.ModeFSDax, s.Info().Mode)
	require.True(t, sameState(dump(t, s), want), "reopened store differs")
	require.True(t, s.Check().OK())
}

// TestDAXGuestCrashPoints enumerates crash points on the real fsdax mapping:
// for each workload of TestCrashPoints and each k, the k-th fence after
// formatting fails (the process "dies" there: the store stops, every store
// it issued stays in persistent memory, which is a legal outcome of a crash
// at that fence), the region is closed, reopened from the DAX file, checked,
// compared with the acknowledged state (or that plus the write in flight),
// and written to again. The in-memory CrashMedium of TestCrashPoints covers
// the crashes that lose unflushed stores; this covers the real mapping,
// growth by fallocate+mremap, and recovery through MAP_SYNC page faults.
//
// With -short (as scripts/dax-guest.sh runs it, under TCG) only the
// workloads in shortCrashWorkloads run, each still at every crash point.
func TestDAXGuestCrashPoints(t *testing.T) {
	dir := daxDir(t)
	for _, w := range workloads() {
		if testing.Short() && !shortCrashWorkloads[w.name] {
			continue
		}
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, w.name+".region")
			open := func() (*pmem.Region, error) {
				os.Remove(path)
				return pmem.CreateRegion(path, w.opts.InitialSize, pmem.RegionOptions{Mode: pmem.ModeFSDax})
			}
			points := crashFences(t, w, open, func() (*pmem.Store, error) { return pmem.OpenPath(path, w.opts) })
			t.Logf("%d crash points enumerated on %s", points, path)
		})
	}
}

// shortCrashWorkloads are the workloads TestDAXGuestCrashPoints runs with
// -short: overwrites (compaction and growth of the fsdax file by
// fallocate+mremap), deletes with an explicit compaction, and atomic batches.
// "large" (non-temporal copies across growth) and "limit" (a MaxSize-bound
// region) add about a minute under TCG.
var shortCrashWorkloads = map[string]bool{"overwrite": true, "delete": true, "batch": true}

// crashFences runs workload w on a fresh region from create, failing the
// k-th fence after formatting for k = 0, 1, ... until the workload finishes
// without reaching it; reopen recovers the store from the medium. It returns
// the number of crash points.
func crashFences(t *testing.T, w workload, create func() (*pmem.Region, error), reopen func() (*pmem.Store, error)) int {
	for k := 0; ; k++ {
		r, err := create()
		require.NoError(t, err)
		require.True(t, r.Mode().IsDAX(), "region mapped %v", r.Mode())
		fm := pmemtest.NewFaultMedium(r)
		s, err := pmem.Format(fm, w.opts)
		require.NoError(t, err)
		base := -1
		fm.Inject = func(op pmemtest.Op, n int) error {
			if op != pmemtest.OpFence {
				return nil
			}
			if base < 0 {
				base = n
			}
			if n-base == k {
				return pmemtest.ErrInjected
			}
			return nil
		}
		acked := state{}
		var inflight state
		crashed := false
		for i, st := range w.steps {
			err := run(s, st)
			if err == nil {
				acked = acked.apply(st)
				continue
			}
			if errors.Is(err, pmem.ErrFull) && !errors.Is(err, pmemtest.ErrInjected) {
				continue
			}
			require.ErrorIs(t, err, pmemtest.ErrInjected, "step %d failed without a crash", i)
			inflight, crashed = acked.apply(st), true
			break
		}
		if !crashed {
			got := dump(t, s)
			require.True(t, sameState(got, acked), "end state %s, want %s", describe(got), describe(acked))
			require.NoError(t, s.Close())
			return k
		}
		s.Close() // poisoned: it may report the injected error again
		s2, err := reopen()
		require.NoError(t, err, "crash point %d: recovery failed", k)
		require.True(t, s2.Medium().Stats().Mode.IsDAX())
		rep := s2.Check()
		require.True(t, rep.OK(), "crash point %d: check: %v", k, rep.Problems)
		got := dump(t, s2)
		if !sameState(got, acked) && !sameState(got, inflight) {
			t.Fatalf("crash point %d: recovered %s\nacknowledged %s\nin flight %s", k, describe(got), describe(acked), describe(inflight))
		}
		require.NoError(t, s2.Put("post-crash", []byte("x")))
		require.NoError(t, s2.Close())
		s3, err := reopen()
		require.NoError(t, err)
		v, err := s3.Get("post-crash")
		require.NoError(t, err)
		require.Equal(t, []byte("x"), v)
		require.NoError(t, s3.Close())
	}
}

// TestDAXGuestPool: the capacity pool in a DAX namespace, detecting the mode
// (the existing pool tests force emulated mode), grants fsdax regions; a kept
// region comes back on a cold start; a handed-off region opened from an
// inherited descriptor (the runtime's path) is fsdax too.
func TestDAXGuestPool(t *testing.T) {
	dir, clk := daxDir(t), newPoolClock()
	o := poolOptions(4<<20, clk)
	o.Region.Mode = pmem.ModeAuto
	p := newTestPool(t, dir, o)

	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/counter", Name: "counter", Size: 256 << 10})
	require.NoError(t, err)
	info := l.Store().Info()
	require.Equal(t, pmem.ModeFSDax, info.Mode)
	requireCPUFlush(t, info.Method)
	require.NoError(t, l.Store().Put("count", []byte("41")))
	require.NoError(t, l.Release(true))
	l2, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/counter", Name: "counter", Size: 256 << 10})
	require.NoError(t, err)
	require.Equal(t, pmem.ModeFSDax, l2.Store().Info().Mode)
	v, err := l2.Store().Get("count")
	require.NoError(t, err)
	require.Equal(t, "41", string(v))
	require.NoError(t, l2.Release(false))

	h, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/handoff", Name: "handoff", Size: 256 << 10, Handoff: true})
	require.NoError(t, err)
	f := openElsewhere(t, h)
	s, err := pmem.OpenFile(f, pmem.Options{})
	require.NoError(t, err)
	require.Equal(t, pmem.ModeFSDax, s.Info().Mode)
	require.NoError(t, s.Put("count", []byte("7")))
	require.Positive(t, s.Stats().Medium.Flushes)
	require.NoError(t, s.Close())
	require.NoError(t, f.Close())
	require.NoError(t, h.Release(false))
}

// wipeDevice zeroes the start of a device-DAX region so it can be formatted
// again, through the region itself (flush and fence: it is persistent).
func wipeDevice(t *testing.T, dev string) {
	t.Helper()
	r, err := pmem.OpenRegion(dev, pmem.RegionOptions{})
	require.NoError(t, err)
	n := min(r.Size(), 1<<20)
	clear(r.Bytes()[:n])
	r.Flush(0, n)
	require.NoError(t, r.Fence())
	require.NoError(t, r.Close())
}

// TestDAXGuestDevDax: a device-DAX device is detected as devdax (mapped
// whole, size and alignment from sysfs), persists with the CPU's write-back
// instruction, cannot grow, and a store formatted on it survives reopening.
// Crash points are enumerated on it for two workloads.
func TestDAXGuestDevDax(t *testing.T) {
	dev := daxDev(t)
	r, err := pmem.OpenRegion(dev, pmem.RegionOptions{})
	require.NoError(t, err)
	require.Equal(t, pmem.ModeDevDax, r.Mode())
	requireCPUFlush(t, r.Method())
	t.Logf("%s: %d bytes mapped", dev, r.Size())
	want := exercise(t, r)
	require.ErrorIs(t, r.Grow(r.Size()+1), pmem.ErrCannotGrow)
	require.NoError(t, r.Close())
	r, err = pmem.OpenRegion(dev, pmem.RegionOptions{Mode: pmem.ModeDevDax, ReadOnly: true})
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, r.Bytes()[:len(want)]), "fenced bytes differ after reopening %s", dev)
	require.NoError(t, r.Close())
	_, err = pmem.OpenRegion(dev, pmem.RegionOptions{Mode: pmem.ModeFSDax})
	require.ErrorIs(t, err, pmem.ErrInvalid)

	for _, w := range workloads() {
		if w.name != "delete" && w.name != "batch" {
			continue
		}
		t.Run("crash/"+w.name, func(t *testing.T) {
			opts := w.opts
			create := func() (*pmem.Region, error) {
				wipeDevice(t, dev)
				return pmem.OpenRegion(dev, pmem.RegionOptions{Mode: pmem.ModeDevDax})
			}
			points := crashFences(t, workload{w.name, opts, w.steps}, create,
				func() (*pmem.Store, error) { return pmem.OpenPath(dev, opts) })
			t.Logf("%d crash points enumerated on %s", points, dev)
		})
	}
}

// TestDAXGuestReboot leaves a store with rebootKeys in $MARVEL_DAX_DIR and
// on $MARVEL_DAX_DEV, for TestDAXReboot to check after the guest restarts
// on the same NVDIMMs.
func TestDAXGuestReboot(t *testing.T) {
	root := os.Getenv("MARVEL_DAX_DIR")
	if root == "" {
		t.Skip("MARVEL_DAX_DIR is not set: this test needs a filesystem mounted -o dax; run scripts/dax-guest.sh (docs/dax-guest.md)")
	}
	write := func(s *pmem.Store, err error) {
		t.Helper()
		require.NoError(t, err)
		require.True(t, s.Info().Mode.IsDAX())
		for k, v := range rebootKeys() {
			require.NoError(t, s.Put(k, v))
		}
		require.NoError(t, s.Close())
	}
	if err := pmem.Remove(root, rebootRegion); err != nil {
		require.ErrorIs(t, err, pmem.ErrNotExist, "remove a previous %s", rebootRegion)
	}
	write(pmem.Create(root, rebootRegion, pmem.Options{Owner: "test:dax-guest", Pinned: true}))
	if dev := os.Getenv("MARVEL_DAX_DEV"); dev != "" {
		wipeDevice(t, dev)
		write(pmem.CreatePath(dev, pmem.Options{Owner: "test:dax-guest", Pinned: true}))
	}
}

// TestDAXReboot runs on the second boot (MARVEL_DAX_REBOOT=1): the stores
// TestDAXGuestReboot wrote before the guest was powered off are there, in
// the same mode, with every checksum verified.
func TestDAXReboot(t *testing.T) {
	if os.Getenv("MARVEL_DAX_REBOOT") != "1" {
		t.Skip("MARVEL_DAX_REBOOT is not 1: this test checks, on a second boot of the dax-guest, what TestDAXGuestReboot wrote")
	}
	root := os.Getenv("MARVEL_DAX_DIR")
	require.NotEmpty(t, root, "MARVEL_DAX_DIR")
	check := func(s *pmem.Store, err error, mode pmem.Mode) {
		t.Helper()
		require.NoError(t, err)
		defer s.Close()
		info := s.Info()
		require.Equal(t, mode, info.Mode)
		require.Equal(t, mode, info.CreatedMode)
		requireCPUFlush(t, info.Method)
		require.Equal(t, "test:dax-guest", info.Owner)
		require.True(t, sameState(dump(t, s), rebootKeys()), "%s: contents differ after reboot: %s", info.Path, describe(dump(t, s)))
		require.True(t, s.Check().OK())
		t.Logf("%s: %v, created %v, generation %d: all %d keys intact", info.Path, info.Mode, info.Created, info.Gen, len(rebootKeys()))
	}
	check1, err := pmem.Open(root, rebootRegion, pmem.Options{ReadOnly: true, VerifyOnOpen: true})
	check(check1, err, pmem.ModeFSDax)
	if dev := os.Getenv("MARVEL_DAX_DEV"); dev != "" {
		s, err := pmem.OpenPath(dev, pmem.Options{ReadOnly: true, VerifyOnOpen: true})
		check(s, err, pmem.ModeDevDax)
	}
}

// TestDAXGuestNamedFile: a named file (the shuffle's partitions, the SDK's
// files) written with ModeFSDax on the DAX mount commits, maps back as
// fsdax with MAP_SYNC, and holds what was written; ModeFSDax off the DAX
// mount (the guest's root is not DAX) fails with ErrNotDAX and leaves
// nothing behind.
func TestDAXGuestNamedFile(t *testing.T) {
	dir := daxDir(t)
	path := filepath.Join(dir, "job", "part-00000")
	want := value("named", 7, 3<<20)
	w, err := pmem.CreateFile(path, pmem.FileOptions{Mode: pmem.ModeFSDax, SizeHint: int64(len(want))})
	require.NoError(t, err)
	_, err = w.Write(want[:1000])
	require.NoError(t, err)
	_, err = w.Write(want[1000:])
	require.NoError(t, err)
	require.NoError(t, w.Commit())

	m, err := pmem.MapFile(path, pmem.ModeFSDax)
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, pmem.ModeFSDax, m.Mode())
	require.Contains(t, vmFlags(t, uintptr(unsafe.Pointer(&m.Bytes()[0]))), "sf", "the file's mapping is not MAP_SYNC")
	require.True(t, bytes.Equal(want, m.Bytes()), "the mapped file differs from what was written")

	// TMPDIR is on the DAX mount in the guest; /tmp is the initramfs.
	offDir, err := os.MkdirTemp("/tmp", "not-dax-")
	require.NoError(t, err)
	defer os.RemoveAll(offDir)
	off := filepath.Join(offDir, "part-00000")
	_, err = pmem.CreateFile(off, pmem.FileOptions{Mode: pmem.ModeFSDax})
	require.ErrorIs(t, err, pmem.ErrNotDAX)
	ents, err := os.ReadDir(filepath.Dir(off))
	require.NoError(t, err)
	require.Empty(t, ents, "a refused file leaves no temporary")
}
