package pmem_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/internal/layout"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
)

// newStore formats a store on a simulated medium and checks it on cleanup.
func newStore(t testing.TB, opts pmem.Options) (*pmem.Store, *pmemtest.CrashMedium) {
	t.Helper()
	size := opts.InitialSize
	if size == 0 {
		size = 1 << 20
	}
	m := pmemtest.NewCrashMedium(size)
	s, err := pmem.Format(m, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		rep := s.Check()
		if len(rep.Problems) == 1 && errors.Is(rep.Problems[0], pmem.ErrClosed) {
			return
		}
		require.True(t, rep.OK(), "check on cleanup: %v", rep.Problems)
		s.Close()
	})
	return s, m
}

func reopen(t testing.TB, m *pmemtest.CrashMedium, opts pmem.Options) *pmem.Store {
	t.Helper()
	s, err := pmem.Recover(pmemtest.FromImage(m.Durable()), opts)
	require.NoError(t, err)
	return s
}

func TestStoreBasics(t *testing.T) {
	s, m := newStore(t, pmem.Options{})
	_, err := s.Get("missing")
	require.ErrorIs(t, err, pmem.ErrNotFound)
	require.NoError(t, s.Delete("missing"), "deleting a missing key is not an error")

	require.NoError(t, s.Put("a", []byte("1")))
	require.NoError(t, s.Put("b", []byte("22")))
	require.NoError(t, s.Put("c", nil))
	require.NoError(t, s.Put("a", []byte("111")))
	require.NoError(t, s.Delete("b"))

	v, err := s.Get("a")
	require.NoError(t, err)
	require.Equal(t, "111", string(v))
	v, err = s.Get("c")
	require.NoError(t, err)
	require.Empty(t, v)
	require.False(t, s.Has("b"))
	n, err := s.Len("a")
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	require.Equal(t, []string{"a", "c"}, s.Keys("", ""))

	st := s.Stats()
	require.Equal(t, 2, st.Keys)
	require.Positive(t, st.GarbageBytes)
	require.EqualValues(t, 4, st.Puts)
	require.EqualValues(t, 1, st.Deletes)
	require.Equal(t, pmem.ModeSimulated, st.Medium.Mode)

	// Everything acknowledged is durable: recovery from only the flushed and
	// fenced bytes sees it.
	s2 := reopen(t, m, pmem.Options{})
	require.Equal(t, []string{"a", "c"}, s2.Keys("", ""))
	v, err = s2.Get("a")
	require.NoError(t, err)
	require.Equal(t, "111", string(v))
}

func TestStoreKeyLimits(t *testing.T) {
	s, _ := newStore(t, pmem.Options{})
	require.ErrorIs(t, s.Put("", []byte("x")), pmem.ErrInvalid)
	require.ErrorIs(t, s.Put(strings.Repeat("k", layout.MaxKeyLen+1), nil), pmem.ErrInvalid)
	require.NoError(t, s.Put(strings.Repeat("k", layout.MaxKeyLen), []byte("max key")))
	require.ErrorIs(t, s.PutReader("big", strings.NewReader(""), layout.MaxValueLen+1), pmem.ErrTooLarge)
}

func TestStoreRangeAndPrefix(t *testing.T) {
	s, _ := newStore(t, pmem.Options{})
	for _, k := range []string{"job/1/p0", "job/1/p1", "job/2/p0", "fn/x", "z"} {
		require.NoError(t, s.Put(k, []byte(k)))
	}
	var got []string
	require.NoError(t, s.Range("job/", "job0", func(k string, v []byte) error {
		require.Equal(t, k, string(v))
		got = append(got, k)
		return nil
	}))
	require.Equal(t, []string{"job/1/p0", "job/1/p1", "job/2/p0"}, got)
	require.Equal(t, []string{"job/1/p0", "job/1/p1"}, s.KeysWithPrefix("job/1/"))
	stop := errors.New("stop")
	require.ErrorIs(t, s.Range("", "", func(string, []byte) error { return stop }), stop)
}

func TestStoreBatchAtomic(t *testing.T) {
	s, m := newStore(t, pmem.Options{})
	require.NoError(t, s.Put("old", []byte("x")))
	var b pmem.Batch
	b.Put("p1", []byte("1"))
	b.Put("p2", []byte("2"))
	b.Delete("old")
	b.Delete("never-existed")
	require.Equal(t, 4, b.Len())
	require.NoError(t, s.Apply(&b))
	require.Equal(t, []string{"p1", "p2"}, s.Keys("", ""))
	require.Equal(t, []string{"p1", "p2"}, reopen(t, m, pmem.Options{}).Keys("", ""))
	b.Reset()
	require.NoError(t, s.Apply(&b), "an empty batch is a no-op")
}

func TestStoreViewZeroCopy(t *testing.T) {
	s, m := newStore(t, pmem.Options{})
	val := bytes.Repeat([]byte("pmem"), 4096)
	require.NoError(t, s.Put("v", val))
	require.NoError(t, s.View("v", func(b []byte) error {
		require.Equal(t, val, b)
		// The view aliases the mapping itself.
		mem := m.Bytes()
		start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		require.True(t, at >= start && at < start+uintptr(len(mem)), "view is not inside the mapping")
		require.Equal(t, len(b), cap(b), "a view cannot be appended into the region")
		return nil
	}))
	want := errors.New("from fn")
	require.ErrorIs(t, s.View("v", func([]byte) error { return want }), want)
	require.ErrorIs(t, s.View("nope", func([]byte) error { return nil }), pmem.ErrNotFound)
}

func TestStorePutReader(t *testing.T) {
	s, m := newStore(t, pmem.Options{InitialSize: 64 << 10})
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: streams in chunks, grows the region
	require.NoError(t, s.PutReader("big", bytes.NewReader(big), int64(len(big))))
	got, err := s.Get("big")
	require.NoError(t, err)
	require.Equal(t, big, got)

	// A short reader commits nothing and keeps the old value.
	err = s.PutReader("big", bytes.NewReader(big[:100]), int64(len(big)))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	got, err = s.Get("big")
	require.NoError(t, err)
	require.Equal(t, big, got)
	require.Equal(t, big, must(reopen(t, m, pmem.Options{}).Get("big")))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestStoreCompactionReclaims(t *testing.T) {
	s, m := newStore(t, pmem.Options{InitialSize: 64 << 10, MaxSize: 256 << 10})
	// Write far more than the limit through overwrites: only compaction makes
	// that possible.
	for i := range 500 {
		k := fmt.Sprintf("k%d", i%5)
		require.NoError(t, s.Put(k, value(k, i, 4000)), "put %d", i)
	}
	st := s.Stats()
	require.Positive(t, st.Compactions)
	require.LessOrEqual(t, st.Size, int64(256<<10))
	s2 := reopen(t, m, pmem.Options{})
	for i := 495; i < 500; i++ {
		k := fmt.Sprintf("k%d", i%5)
		require.Equal(t, value(k, i, 4000), must(s2.Get(k)))
	}
	require.NoError(t, s.Compact())
	st = s.Stats()
	require.Zero(t, st.GarbageBytes)
	require.Equal(t, st.LiveBytes, st.Tail-st.LogStart)
}

func TestStoreFull(t *testing.T) {
	s, _ := newStore(t, pmem.Options{InitialSize: 64 << 10, MaxSize: 128 << 10})
	err := s.Put("huge", make([]byte, 200<<10))
	require.ErrorIs(t, err, pmem.ErrFull)
	require.Contains(t, err.Error(), "cannot take")
	// The store is still healthy.
	require.NoError(t, s.Put("small", []byte("ok")))
}

func TestStoreGrowKeepsData(t *testing.T) {
	s, m := newStore(t, pmem.Options{InitialSize: 64 << 10})
	require.NoError(t, s.Put("k", []byte("v")))
	require.NoError(t, s.Grow(1<<20))
	require.GreaterOrEqual(t, s.Stats().Size, int64(1<<20))
	require.NoError(t, s.Put("k2", []byte("v2")))
	s2 := reopen(t, m, pmem.Options{})
	require.Equal(t, "v", string(must(s2.Get("k"))))
	require.Equal(t, "v2", string(must(s2.Get("k2"))))
	require.GreaterOrEqual(t, s2.Stats().Size, int64(1<<20))
}

func TestStoreGrowFailureRollsBack(t *testing.T) {
	inner := pmemtest.NewCrashMedium(64 << 10)
	f := pmemtest.NewFaultMedium(inner)
	s, err := pmem.Format(f, pmem.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Put("a", []byte("1")))
	f.FailGrow(fmt.Errorf("no space left: %w", pmem.ErrFull))
	err = s.Put("big", make([]byte, 100<<10))
	require.ErrorIs(t, err, pmem.ErrFull)
	// Not poisoned: a failed grow changes nothing.
	require.NoError(t, s.Put("b", []byte("2")))
	require.Equal(t, []string{"a", "b"}, s.Keys("", ""))
	require.True(t, s.Check().OK())
}

func TestStorePoisonedAfterFenceError(t *testing.T) {
	inner := pmemtest.NewCrashMedium(1 << 20)
	f := pmemtest.NewFaultMedium(inner)
	s, err := pmem.Format(f, pmem.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Put("a", []byte("1")))
	require.NoError(t, s.Poisoned())
	f.Inject = func(op pmemtest.Op, _ int) error {
		if op == pmemtest.OpFence {
			return pmemtest.ErrInjected
		}
		return nil
	}
	err = s.Put("b", []byte("2"))
	require.ErrorIs(t, err, pmemtest.ErrInjected)
	require.ErrorIs(t, s.Poisoned(), pmem.ErrPoisoned)
	require.ErrorIs(t, s.Poisoned(), pmemtest.ErrInjected, "Poisoned says what failed")
	f.Inject = nil // the medium recovers, the store does not trust it
	// Nothing more is acknowledged until the store is reopened.
	err = s.Put("d", []byte("4"))
	require.ErrorIs(t, err, pmem.ErrPoisoned)
	require.ErrorIs(t, err, pmemtest.ErrInjected)
	// Reads still work.
	require.Equal(t, "1", string(must(s.Get("a"))))
}

func TestStoreCorruptValueDetected(t *testing.T) {
	s, m := newStore(t, pmem.Options{})
	require.NoError(t, s.Put("k", []byte("hello, world")))
	// Damage the value while the region is closed: the next open finds it on
	// the first read (record headers are checked at open, values on read).
	img := m.Durable()
	i := bytes.Index(img, []byte("hello, world"))
	require.Positive(t, i)
	img[i] ^= 0xff
	s2, err := pmem.Recover(pmemtest.FromImage(img), pmem.Options{})
	require.NoError(t, err)
	_, err = s2.Get("k")
	var ce *pmem.CorruptError
	require.ErrorAs(t, err, &ce)
	require.EqualValues(t, i, ce.Offset)
	require.ErrorIs(t, err, pmem.ErrCorrupt)
	require.ErrorIs(t, s2.View("k", func([]byte) error { return nil }), pmem.ErrCorrupt)
	rep := s2.Check()
	require.False(t, rep.OK())
	require.ErrorIs(t, rep.Problems[0], pmem.ErrCorrupt)
	// VerifyOnOpen refuses the region outright.
	_, err = pmem.Recover(pmemtest.FromImage(img), pmem.Options{VerifyOnOpen: true})
	require.ErrorIs(t, err, pmem.ErrCorrupt)
}

func TestRecoverRejectsDamage(t *testing.T) {
	_, m := newStore(t, pmem.Options{InitialSize: 64 << 10})
	good := m.Durable()
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		kind   error
		offset int64
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, pmem.ErrCorrupt, 0},
		{"superblock checksum", func(b []byte) []byte { b[60] ^= 1; return b }, pmem.ErrCorrupt, 0},
		{"future version", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[8:], 99)
			binary.LittleEndian.PutUint32(b[124:], layout.CRC(b[:124]))
			return b
		}, pmem.ErrVersion, 8},
		{"zero commit word", func(b []byte) []byte { clear(b[layout.CommitOff : layout.CommitOff+8]); return b }, pmem.ErrCorrupt, layout.CommitOff},
		{"root checksum", func(b []byte) []byte { b[layout.RootOffset(1)+8] ^= 1; return b }, pmem.ErrCorrupt, layout.RootOffset(1)},
		{"tail past log", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[layout.RootOffset(1)+layout.RootTailOff:], 1<<40)
			return b
		}, pmem.ErrCorrupt, layout.RootOffset(1) + layout.RootTailOff},
		{"truncated", func(b []byte) []byte { return b[:32<<10] }, pmem.ErrTruncated, layout.RootOffset(1)},
		{"shorter than header", func(b []byte) []byte { return b[:100] }, pmem.ErrTruncated, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := c.damage(bytes.Clone(good))
			_, err := pmem.Recover(pmemtest.FromImage(img), pmem.Options{})
			var ce *pmem.CorruptError
			require.ErrorAs(t, err, &ce, "got %v", err)
			require.ErrorIs(t, err, c.kind)
			require.Equal(t, c.offset, ce.Offset)
			require.Contains(t, err.Error(), "marvel pmem check")
		})
	}
}

func TestRecoverRejectsDamagedRecord(t *testing.T) {
	s, m := newStore(t, pmem.Options{})
	require.NoError(t, s.Put("first", []byte("1")))
	require.NoError(t, s.Put("second", []byte("2")))
	img := m.Durable()
	i := bytes.Index(img, []byte("second"))
	img[i] = 'S' // the header checksum covers the key
	_, err := pmem.Recover(pmemtest.FromImage(img), pmem.Options{})
	var ce *pmem.CorruptError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "record", ce.What)
	require.EqualValues(t, i-layout.RecordHeaderSize+28, ce.Offset)
}

func TestStoreConcurrentReadersOneWriter(t *testing.T) {
	s, _ := newStore(t, pmem.Options{InitialSize: 64 << 10})
	const keys = 16
	for i := range keys {
		require.NoError(t, s.Put(fmt.Sprint(i), value(fmt.Sprint(i), 0, 100)))
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := fmt.Sprint((i + r) % keys)
				err := s.View(k, func(v []byte) error {
					// Every value is one of the versions written for k.
					if len(v) < 8 {
						return fmt.Errorf("key %s: short value %d", k, len(v))
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.Get(k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// The writer overwrites, grows and compacts underneath the readers.
	for i := range 600 {
		k := fmt.Sprint(i % keys)
		require.NoError(t, s.Put(k, value(k, i, 100+i*7%3000)))
		if i%150 == 0 {
			require.NoError(t, s.Compact())
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestStoreClosed(t *testing.T) {
	s, _ := newStore(t, pmem.Options{})
	require.NoError(t, s.Put("k", []byte("v")))
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Close(), pmem.ErrClosed)
	require.ErrorIs(t, s.Put("k", nil), pmem.ErrClosed)
	_, err := s.Get("k")
	require.ErrorIs(t, err, pmem.ErrClosed)
}

func TestOptionsValidateReportsAll(t *testing.T) {
	o := pmem.Options{InitialSize: 10, MaxSize: 5, Owner: strings.Repeat("o", 100), NTThreshold: -1, Mode: pmem.ModeSimulated}
	err := o.Validate()
	for _, want := range []string{"mode", "initial size", "max size", "owner", "NT threshold"} {
		require.ErrorContains(t, err, want)
	}
	d := pmem.DefaultOptions()
	require.NoError(t, d.Validate())
}

// The store on real files: each emulated flavour, reopened from the file.
func TestStoreOnFiles(t *testing.T) {
	dirs := map[string]string{"disk": t.TempDir()}
	if shm, err := os.MkdirTemp("/dev/shm", "marvel-store-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	for fsName, dir := range dirs {
		t.Run(fsName, func(t *testing.T) {
			s, err := pmem.Create(dir, "fn.guest.counter", pmem.Options{Owner: "fn:guest/counter", Pinned: true, InitialSize: 64 << 10})
			require.NoError(t, err)
			info := s.Info()
			require.Equal(t, pmem.ModeEmulated, info.Mode)
			require.Equal(t, map[string]string{"disk": "msync", "tmpfs": "fence"}[fsName], info.Method)
			require.True(t, info.Pinned)
			require.Equal(t, "fn:guest/counter", info.Owner)
			for i := range 200 {
				require.NoError(t, s.Put(fmt.Sprintf("k%03d", i), value("k", i, i*100)))
			}
			require.NoError(t, s.Close())

			_, err = pmem.Create(dir, "fn.guest.counter", pmem.Options{})
			require.ErrorIs(t, err, pmem.ErrExist)
			names, err := pmem.List(dir)
			require.NoError(t, err)
			require.Equal(t, []string{"fn.guest.counter"}, names)

			s, err = pmem.Open(dir, "fn.guest.counter", pmem.Options{})
			require.NoError(t, err)
			defer s.Close()
			require.Len(t, s.Keys("", ""), 200)
			require.Equal(t, value("k", 199, 19900), must(s.Get("k199")))
			require.True(t, s.Check().OK())
		})
	}
}

func TestNamespaceNames(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "x y", strings.Repeat("n", 201), "-lead"} {
		_, err := pmem.Create(dir, bad, pmem.Options{})
		require.ErrorIs(t, err, pmem.ErrInvalid, "name %q", bad)
	}
	_, err := pmem.Open(dir, "absent", pmem.Options{})
	require.ErrorIs(t, err, pmem.ErrNotExist)
	require.ErrorIs(t, pmem.Remove(dir, "absent"), pmem.ErrNotExist)

	// A creation cut short by a crash leaves only a hidden temp file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".job.1.region.tmp-abcdef"), []byte("half"), 0o600))
	names, err := pmem.List(dir)
	require.NoError(t, err)
	require.Empty(t, names)
	n, err := pmem.RemoveTemp(dir)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	s, created, err := pmem.OpenOrCreate(dir, "job.1", pmem.Options{InitialSize: 64 << 10})
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, s.Close())
	s, created, err = pmem.OpenOrCreate(dir, "job.1", pmem.Options{})
	require.NoError(t, err)
	require.False(t, created)
	require.NoError(t, s.Close())
	require.NoError(t, pmem.Remove(dir, "job.1"))
}

func TestReadOnlyStore(t *testing.T) {
	dir := t.TempDir()
	s, err := pmem.Create(dir, "r", pmem.Options{InitialSize: 64 << 10})
	require.NoError(t, err)
	require.NoError(t, s.Put("k", []byte("v")))
	require.NoError(t, s.Close())
	ro, err := pmem.Open(dir, "r", pmem.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	require.Equal(t, "v", string(must(ro.Get("k"))))
	require.ErrorIs(t, ro.Put("k", nil), pmem.ErrReadOnly)
	require.True(t, ro.Check().OK())
}
