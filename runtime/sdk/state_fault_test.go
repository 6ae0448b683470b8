package sdk

// Storage faults as an action sees them through the SDK: a full region, a
// failed fence (msync), a failed grow (ENOSPC on a small tmpfs) and a full
// namespace for Files. Each must come back from the call as an error that
// names the key or file and the cause, leave the cache agreeing with what
// was acknowledged, and reach the platform as {"error": message} through
// Serve. The store's own behaviour under these faults is tested in pmem
// (TestStoreFull, TestStoreGrowFailureRollsBack,
// TestStorePoisonedAfterFenceError, TestRegionFullDisk); this file checks
// what the SDK makes of it.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
)

// faultState is a State with a cache over a store on an in-memory medium
// that can be made to fail.
func faultState(t *testing.T, size int64, opts pmem.Options) (*State, *pmemtest.FaultMedium) {
	t.Helper()
	f := pmemtest.NewFaultMedium(pmemtest.NewCrashMedium(size))
	store, err := pmem.Format(f, opts)
	require.NoError(t, err)
	s, err := NewState(store, "fn+guest+fault", 1<<20)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, f
}

// putMain is an action that stores its "value" (a string) under "key" and
// returns the error of the write, as the kv example does.
func putMain(s *State) func(map[string]any) (map[string]any, error) {
	return func(args map[string]any) (map[string]any, error) {
		k, _ := args["key"].(string)
		v, _ := args["value"].(string)
		if err := s.Put(k, []byte(v)); err != nil {
			return nil, err
		}
		return map[string]any{"ok": true}, nil
	}
}

func TestStateFullRegion(t *testing.T) {
	s, _ := faultState(t, 64<<10, pmem.Options{MaxSize: 128 << 10})
	require.NoError(t, s.Put("k", []byte("v1")))
	err := s.Put("k", make([]byte, 200<<10))
	require.ErrorIs(t, err, pmem.ErrFull)
	require.ErrorContains(t, err, `sdk: put "k": pmem: region full`)
	require.ErrorContains(t, err, "cannot take")
	got, err := s.Get("k")
	require.NoError(t, err)
	require.Equal(t, "v1", string(got), "the refused value must not be cached or stored")
	require.NoError(t, s.Put("small", []byte("ok")), "a full region refuses one write, not the next")

	// Through the ActionLoop: an application error with the message.
	line := serveLines(t, putMain(s), fmt.Sprintf(`{"value":{"key":"big","value":%q}}`, strings.Repeat("x", 200<<10)))
	require.Len(t, line, 1)
	require.Contains(t, line[0], `{"error":"sdk: put \"big\": pmem: region full`)
}

func TestStateFenceFails(t *testing.T) {
	s, f := faultState(t, 1<<20, pmem.Options{})
	require.NoError(t, s.Put("k", []byte("acknowledged")))
	_, err := s.Get("k") // cached
	require.NoError(t, err)
	f.Inject = func(op pmemtest.Op, _ int) error {
		if op == pmemtest.OpFence {
			return fmt.Errorf("msync: %w", syscall.EIO)
		}
		return nil
	}
	err = s.Put("k", []byte("not acknowledged"))
	require.ErrorIs(t, err, syscall.EIO)
	require.ErrorContains(t, err, `sdk: put "k"`)
	got, err := s.Get("k")
	require.NoError(t, err)
	require.NotEqual(t, "not acknowledged", string(got), "the cache must not serve a write that failed")

	// The medium recovers, the store does not trust it: every later write
	// is refused with ErrPoisoned, saying to reopen, until the process
	// reopens the region; reads go on.
	f.Inject = nil
	err = s.Put("other", []byte("x"))
	require.ErrorIs(t, err, pmem.ErrPoisoned)
	require.ErrorContains(t, err, "reopen it")

	// Through the ActionLoop: the activation is answered with the error,
	// then the loop ends (Main exits) without answering the next request,
	// which the runtime hands to a new process that reopens the region
	// (invoker/e2e TestStateWriteFenceFails).
	h, err := adapt(putMain(s))
	require.NoError(t, err)
	in := strings.NewReader(`{"value":{"key":"k","value":"v"}}` + "\n" + `{"value":{"key":"n","value":"next"}}` + "\n")
	var out bytes.Buffer
	err = loop(in, &out, h)
	require.ErrorIs(t, err, pmem.ErrPoisoned)
	require.ErrorContains(t, err, "state fn+guest+fault")
	require.ErrorContains(t, err, "the action process ends so that the runtime starts a new one")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 1, "one answer, then the loop ends")
	require.Contains(t, lines[0], `{"error":"sdk: put \"k\": pmem: store failed a persistence operation; reopen it`)
	require.Contains(t, lines[0], "input/output error")

	// Once the poisoned State is closed, the loop goes on as before.
	require.NoError(t, s.Close())
	ok := func(map[string]any) map[string]any { return map[string]any{"ok": true} }
	require.Equal(t, []string{`{"ok":true}`, `{"ok":true}`}, serveLines(t, ok, `{"value":{}}`, `{"value":{}}`))
}

func TestStateGrowFails(t *testing.T) {
	s, f := faultState(t, 64<<10, pmem.Options{})
	require.NoError(t, s.Put("a", []byte("1")))
	f.FailGrow(fmt.Errorf("fallocate: %w", syscall.ENOSPC))
	err := s.Put("big", make([]byte, 100<<10))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.ErrorContains(t, err, `sdk: put "big"`)
	_, err = s.Get("big")
	require.ErrorIs(t, err, ErrNotFound)
	// A failed grow changes nothing: the store is not poisoned.
	require.NoError(t, s.Put("b", []byte("2")))
	require.Equal(t, []string{"a", "b"}, s.Keys(""))
}

// smallTmpfs mounts a tmpfs of size bytes on a new directory, unmounted at
// the end of the test; it skips unless running as root.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// TestStateGrowFailsOnFullTmpfs: a real region on a 4 MiB tmpfs, allowed
// to grow to 64 MiB, grows until the file system is full; the write that
// needed more gets ENOSPC, every acknowledged value is there, also after
// reopening, and smaller writes go on.
func TestStateGrowFailsOnFullTmpfs(t *testing.T) {
	dir := smallTmpfs(t, "4m")
	store, err := pmem.Create(dir, "fn+guest+full", pmem.Options{InitialSize: 256 << 10, MaxSize: 64 << 20})
	require.NoError(t, err)
	s, err := NewState(store, "fn+guest+full", 1<<20)
	require.NoError(t, err)
	val := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 200<<10) }
	var acked int
	for i := range 64 {
		if err = s.Put(fmt.Sprint("v", i), val(i)); err != nil {
			break
		}
		acked++
	}
	require.Error(t, err, "64 values of 200 KiB do not fit a 4 MiB tmpfs")
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.ErrorContains(t, err, fmt.Sprintf(`sdk: put "v%d"`, acked))
	require.Positive(t, acked)
	t.Logf("%d values acknowledged, then: %v", acked, err)
	_, err = s.Get(fmt.Sprint("v", acked))
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Put("small", []byte("fits")), "the store is not poisoned by a failed grow")
	require.NoError(t, s.Close())

	store, err = pmem.Open(dir, "fn+guest+full", pmem.Options{MaxSize: 64 << 20})
	require.NoError(t, err)
	defer store.Close()
	require.True(t, store.Check().OK())
	for i := range acked {
		got, err := store.Get(fmt.Sprint("v", i))
		require.NoError(t, err)
		require.True(t, bytes.Equal(val(i), got), "value %d", i)
	}
}

// TestFilesFullTmpfs: a file that does not fit the namespace's file system
// fails with ENOSPC naming it, leaves nothing behind (no partial file, no
// temporary), and the files committed before are intact.
func TestFilesFullTmpfs(t *testing.T) {
	dir := smallTmpfs(t, "2m")
	fs, err := NewFiles(filepath.Join(dir, "guest"), pmem.ModeEmulated)
	require.NoError(t, err)
	small := bytes.Repeat([]byte("a"), 512<<10)
	require.NoError(t, fs.WriteFile("job/part-0", small))
	err = fs.WriteFile("job/part-1", make([]byte, 4<<20))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.True(t, errors.Is(err, syscall.ENOSPC) && strings.Contains(err.Error(), "part-1"), "the error names the file: %v", err)
	_, err = fs.ReadFile("job/part-1")
	require.ErrorIs(t, err, ErrNotFound)
	names, err := fs.List("job")
	require.NoError(t, err)
	require.Equal(t, []string{"job/part-0"}, names)
	var entries []string
	require.NoError(t, filepath.WalkDir(fs.Root(), func(p string, d os.DirEntry, err error) error {
		entries = append(entries, strings.TrimPrefix(p, fs.Root()))
		return err
	}))
	require.Equal(t, []string{"", "/job", "/job/part-0"}, entries, "no temporary left behind")
	got, err := fs.ReadFile("job/part-0")
	require.NoError(t, err)
	require.True(t, bytes.Equal(small, got))
	require.NoError(t, fs.WriteFile("job/part-1", small), "the space the failed file took is back")
}
