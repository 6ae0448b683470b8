package records

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfstest"
)

// recLoc is where a record ended up.
type recLoc struct {
	id   string
	path string
	off  int64
	size int64
}

// locations lists the records of s in append order.
func locations(s *Store) []recLoc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []recLoc
	for _, e := range s.idx.order[s.idx.head:] {
		if !e.dead {
			out = append(out, recLoc{fmt.Sprintf("%x", e.id), e.seg.path, e.off, e.size})
		}
	}
	return out
}

// filled makes a store on a MemFS with n records appended one by one (one
// group commit each) and closes it.
func filled(t *testing.T, n int, opts Options) (*vfstest.MemFS, []recLoc) {
	t.Helper()
	m := vfstest.NewMemFS()
	s, err := open(m, memDir, opts)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, s.Append(activation(id(i+1), "guest", "a", int64(i), 2)))
	}
	locs := locations(s)
	require.Len(t, locs, n)
	require.NoError(t, s.Close())
	return m, locs
}

// snapshot reads every file of a MemFS.
func snapshot(t *testing.T, m *vfstest.MemFS) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var walk func(dir string)
	walk = func(dir string) {
		ents, err := m.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range ents {
			p := filepath.Join(dir, e.Name)
			if e.IsDir {
				walk(p)
				continue
			}
			b, err := m.ReadFile(p)
			require.NoError(t, err)
			out[p] = b
		}
	}
	walk("/")
	return out
}

// requireRecords requires exactly the first n test records in s.
func requireRecords(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Equal(t, n, s.Stats().Activations)
	for i := range n {
		got, err := s.GetActivation("guest", id(i+1))
		require.NoError(t, err, "record %d", i+1)
		require.Equal(t, activation(id(i+1), "guest", "a", int64(i), 2), got)
	}
}

// TestTornTailEveryOffset cuts the last segment at every byte of its last
// record: Open keeps exactly the complete records, cuts the rest, and the
// store goes on.
func TestTornTailEveryOffset(t *testing.T) {
	const n = 5
	m, locs := filled(t, n, Options{})
	last := locs[n-1]
	data, err := m.ReadFile(last.path)
	require.NoError(t, err)
	require.Equal(t, last.off+last.size, int64(len(data)))
	for cut := last.off; cut < last.off+last.size; cut++ {
		img := m.Image(vfstest.KeepAll, 0)
		require.NoError(t, img.WriteFile(last.path, data[:cut]))
		s, err := open(img, memDir, Options{})
		require.NoError(t, err, "cut at %d", cut)
		require.Equal(t, n-1, s.Stats().Activations, "cut at %d", cut)
		require.Equal(t, cut-last.off, s.Stats().Truncated)
		after, err := img.ReadFile(last.path)
		require.NoError(t, err)
		require.Equal(t, data[:last.off], after, "cut at %d: the torn bytes are gone", cut)
		if cut%97 == 0 || cut == last.off+last.size-1 {
			requireRecords(t, s, n-1)
			require.NoError(t, s.Append(activation(id(n), "guest", "a", n-1, 2)))
			require.NoError(t, s.Close())
			s, err = open(img, memDir, Options{})
			require.NoError(t, err)
			requireRecords(t, s, n)
			require.Zero(t, s.Stats().Truncated)
		}
		require.NoError(t, s.checkIndex())
		require.NoError(t, s.Close())
	}
}

// TestTornTailOnDisk cuts a segment on disk at a few offsets inside its
// last record.
func TestTornTailOnDisk(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	s, dir := openDisk(t, Options{})
	for i := range 3 {
		require.NoError(t, s.Append(activation(id(i+1), "guest", "a", int64(i), 2)))
	}
	last := locations(s)[2]
	require.NoError(t, s.Close())
	orig, err := os.ReadFile(last.path)
	require.NoError(t, err)
	for _, cut := range []int64{last.off, last.off + 1, last.off + format.FrameHeaderSize,
		last.off + last.size - 1, last.off + r.Int64N(last.size)} {
		require.NoError(t, os.WriteFile(last.path, orig[:cut], 0o600))
		s := openT(t, vfs.OS{}, dir, Options{})
		requireRecords(t, s, 2)
		require.NoError(t, s.Close())
		fi, err := os.Stat(last.path)
		require.NoError(t, err)
		require.Equal(t, last.off, fi.Size())
	}
}

// TestTornTailGarbage appends garbage or zeros after the last complete
// record: cut away, with a log line naming the file and offset.
func TestTornTailGarbage(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	const n = 4
	m, locs := filled(t, n, Options{})
	last := locs[n-1]
	data, err := m.ReadFile(last.path)
	require.NoError(t, err)
	random := func(k int) []byte {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	lastFrame := data[last.off:]
	tails := map[string][]byte{
		"1 zero":             make([]byte, 1),
		"31 zeros":           make([]byte, 31),
		"32 zeros":           make([]byte, 32),
		"4 KiB of zeros":     make([]byte, 4096),
		"1 MiB of zeros":     make([]byte, 1<<20),
		"7 random":           random(7),
		"5000 random":        random(5000),
		"magic then random":  append(append([]byte(nil), format.FrameMagic...), random(300)...),
		"header, no payload": lastFrame[:format.FrameHeaderSize],
		"a frame cut short":  lastFrame[:len(lastFrame)-1],
		"frame, zero payload": append(append([]byte(nil), lastFrame[:format.FrameHeaderSize]...),
			make([]byte, len(lastFrame)-format.FrameHeaderSize)...),
	}
	for name, tail := range tails {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			img := m.Image(vfstest.KeepAll, 0)
			require.NoError(t, img.WriteFile(last.path, append(append([]byte(nil), data...), tail...)))
			var logs bytes.Buffer
			s, err := open(img, memDir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			defer s.Close()
			requireRecords(t, s, n)
			require.Equal(t, int64(len(tail)), s.Stats().Truncated)
			require.Contains(t, logs.String(), "torn activation record cut")
			require.Contains(t, logs.String(), last.path)
			require.Contains(t, logs.String(), fmt.Sprintf("offset=%d", len(data)))
			after, err := img.ReadFile(last.path)
			require.NoError(t, err)
			require.Equal(t, data, after)
		})
	}
}

// TestTornSegmentHeader: a last segment whose header never made it (an
// empty file, zeros, half a header) is started again; the records of the
// segments before are kept.
func TestTornSegmentHeader(t *testing.T) {
	m, locs := filled(t, 20, Options{SegmentBytes: 4 << 10})
	lastPath := locs[len(locs)-1].path
	var num uint64
	_, err := fmt.Sscanf(filepath.Base(lastPath), "seg-%d.log", &num)
	require.NoError(t, err)
	next := filepath.Join(memDir, segmentsDir, segmentName(num+1))
	for name, content := range map[string][]byte{
		"empty":       nil,
		"zeros":       make([]byte, 32),
		"many zeros":  make([]byte, 10000),
		"half header": format.SegmentHeader(num + 1)[:13],
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			img := m.Image(vfstest.KeepAll, 0)
			f, err := img.Create(next)
			require.NoError(t, err)
			_, err = f.WriteAt(content, 0)
			require.NoError(t, err)
			require.NoError(t, f.Sync())
			require.NoError(t, img.SyncDir(filepath.Dir(next)))
			s, err := open(img, memDir, Options{SegmentBytes: 4 << 10})
			require.NoError(t, err)
			requireRecords(t, s, 20)
			hdr, err := img.ReadFile(next)
			require.NoError(t, err)
			require.Equal(t, format.SegmentHeader(num+1), hdr)
			require.NoError(t, s.Append(activation(id(21), "guest", "a", 20, 2)))
			require.NoError(t, s.Close())
			s, err = open(img, memDir, Options{SegmentBytes: 4 << 10})
			require.NoError(t, err)
			requireRecords(t, s, 21)
			require.NoError(t, s.Close())
		})
	}
}

// damage is one way of damaging a record.
type damage struct {
	name string
	at   func(l recLoc) int64 // offset of the first damaged byte
	n    int                  // bytes damaged
	zero bool                 // zeroed rather than flipped
}

var damages = []damage{
	{"magic", func(l recLoc) int64 { return l.off }, 1, false},
	{"length", func(l recLoc) int64 { return l.off + 5 }, 1, false},
	{"batch offset", func(l recLoc) int64 { return l.off + 9 }, 1, false},
	{"header checksum", func(l recLoc) int64 { return l.off + 30 }, 1, false},
	{"head", func(l recLoc) int64 { return l.off + format.FrameHeaderSize + 10 }, 1, false},
	{"body", func(l recLoc) int64 { return l.off + l.size/2 + 16 }, 1, false},
	{"last byte", func(l recLoc) int64 { return l.off + l.size - 1 }, 1, false},
	{"zeroed page", func(l recLoc) int64 { return l.off + 3 }, 64, true},
}

// TestDamageFailsOpen damages records before the last group commit, in
// every segment: Open fails naming the file and the offset, and changes
// nothing.
func TestDamageFailsOpen(t *testing.T) {
	opts := Options{SegmentBytes: 4 << 10}
	m, locs := filled(t, 24, opts)
	segs := map[string]bool{}
	for _, l := range locs {
		segs[l.path] = true
	}
	require.Greater(t, len(segs), 2)
	for k, l := range locs[:len(locs)-1] {
		for _, d := range damages {
			img := m.Image(vfstest.KeepAll, 0)
			data, err := img.ReadFile(l.path)
			require.NoError(t, err)
			at := d.at(l)
			for i := at; i < at+int64(d.n); i++ {
				if d.zero {
					data[i] = 0
				} else {
					data[i] ^= 0x5a
				}
			}
			require.NoError(t, img.WriteFile(l.path, data))
			before := snapshot(t, img)
			_, err = open(img, memDir, opts)
			var ce *CorruptError
			require.ErrorAs(t, err, &ce, "record %d, %s", k, d.name)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Equal(t, l.path, ce.Path, "record %d, %s", k, d.name)
			require.Equal(t, l.off, ce.Offset, "record %d, %s: %v", k, d.name, err)
			msg := err.Error()
			require.Contains(t, msg, l.path)
			require.Contains(t, msg, fmt.Sprintf("offset %d", l.off))
			require.Contains(t, msg, "move the file aside")
			require.Equal(t, before, snapshot(t, img), "Open changed files")
		}
	}
	// Segment headers, the last segment's included.
	for p := range segs {
		img := m.Image(vfstest.KeepAll, 0)
		data, err := img.ReadFile(p)
		require.NoError(t, err)
		data[17] ^= 1
		require.NoError(t, img.WriteFile(p, data))
		before := snapshot(t, img)
		_, err = open(img, memDir, opts)
		var ce *CorruptError
		require.ErrorAs(t, err, &ce, p)
		require.Equal(t, p, ce.Path)
		require.Zero(t, ce.Offset)
		require.Equal(t, before, snapshot(t, img))
	}
}

// TestDamageOnDisk checks the message users see, with real paths, and that
// moving the file aside as it says lets the store open.
func TestDamageOnDisk(t *testing.T) {
	s, dir := openDisk(t, Options{})
	for i := range 3 {
		require.NoError(t, s.Append(activation(id(i+1), "guest", "a", int64(i), 2)))
	}
	l := locations(s)[1]
	require.NoError(t, s.Close())
	data, err := os.ReadFile(l.path)
	require.NoError(t, err)
	data[l.off+format.FrameHeaderSize+3] ^= 0x20
	require.NoError(t, os.WriteFile(l.path, data, 0o600))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	t.Logf("the error: %v", err)
	require.Contains(t, err.Error(), fmt.Sprintf("activation segment %s at offset %d: record checksum mismatch", l.path, l.off))
	require.Contains(t, err.Error(), "later group commit")
	after, err := os.ReadFile(l.path)
	require.NoError(t, err)
	require.Equal(t, data, after)

	require.NoError(t, os.Rename(l.path, l.path+".damaged"))
	s = openT(t, vfs.OS{}, dir, Options{})
	require.Zero(t, s.Stats().Activations)
	require.NoError(t, s.Append(activation(id(9), "guest", "a", 9, 0)))
}

// TestDamageInLastBatchIsCut: damage to the last group commit of the last
// segment cannot be told from a torn write; it is cut like one, and logged.
func TestDamageInLastBatchIsCut(t *testing.T) {
	const n = 4
	m, locs := filled(t, n, Options{})
	last := locs[n-1]
	data, err := m.ReadFile(last.path)
	require.NoError(t, err)
	data[last.off+last.size/2] ^= 1
	require.NoError(t, m.WriteFile(last.path, data))
	var logs bytes.Buffer
	s, err := open(m, memDir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	defer s.Close()
	requireRecords(t, s, n-1)
	require.Contains(t, logs.String(), "record checksum mismatch")
}

// TestTornBatch: records of the batch being written when the machine went
// down may be partly on disk in any order: a later record of the batch
// intact after a torn one is still a torn write, not damage.
func TestTornBatch(t *testing.T) {
	m := vfstest.NewMemFS()
	e := vfstest.NewErrFS(m)
	s, err := open(e, memDir, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Append(activation(id(1), "guest", "a", 0, 2)))
	// Hold the next sync until 5 appends are queued behind it; they make a
	// batch of 5.
	var once sync.Once
	held := make(chan struct{})
	e.SetInjector(func(op vfstest.Op, name string) error {
		if op == vfstest.OpSync && strings.Contains(name, "seg-") {
			once.Do(func() {
				close(held)
				for len(s.w.reqs) < 5 {
					runtimeYield()
				}
			})
		}
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() { require.NoError(t, s.Append(activation(id(2), "guest", "a", 1, 2))) })
	<-held
	for i := 3; i <= 7; i++ {
		wg.Go(func() { require.NoError(t, s.Append(activation(id(i), "guest", "a", int64(i-1), 2))) })
	}
	wg.Wait()
	require.Equal(t, uint64(3), s.Stats().Syncs)
	locs := locations(s)
	require.NoError(t, s.Close())
	batch := locs[2:]
	require.Len(t, batch, 5)
	for k := range batch {
		// Record k of the batch lost (zeros, as a page never written), the
		// rest of the batch intact.
		img := m.Image(vfstest.KeepAll, 0)
		data, err := img.ReadFile(batch[k].path)
		require.NoError(t, err)
		clear(data[batch[k].off : batch[k].off+batch[k].size])
		require.NoError(t, img.WriteFile(batch[k].path, data))
		s, err := open(img, memDir, Options{})
		require.NoError(t, err, "record %d of the batch lost", k)
		require.Equal(t, 2+k, s.Stats().Activations)
		require.NoError(t, s.Close())
	}
}

// FuzzRecover opens a store whose last (or only) segment holds arbitrary
// bytes after a valid header: Open either succeeds with a consistent index
// whose records all read back, or fails with ErrCorrupt; never a panic.
func FuzzRecover(f *testing.F) {
	seedFS, _ := filledFuzz(f)
	data, err := seedFS.ReadFile(filepath.Join(memDir, segmentsDir, segmentName(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[format.SegmentHeaderSize:], false)
	f.Add(data[format.SegmentHeaderSize:len(data)-7], false)
	f.Add(data[format.SegmentHeaderSize:], true)
	f.Add([]byte{}, false)
	f.Add(make([]byte, 100), true)
	f.Fuzz(func(t *testing.T, body []byte, middle bool) {
		m := vfstest.NewMemFS()
		s, err := open(m, memDir, Options{})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		seg1 := filepath.Join(memDir, segmentsDir, segmentName(1))
		require.NoError(t, m.WriteFile(seg1, append(format.SegmentHeader(1), body...)))
		if middle {
			f, err := m.Create(filepath.Join(memDir, segmentsDir, segmentName(2)))
			require.NoError(t, err)
			_, err = f.WriteAt(format.SegmentHeader(2), 0)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}
		s, err = open(m, memDir, Options{})
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		defer s.Close()
		require.NoError(t, s.checkIndex())
		for _, l := range locations(s) {
			ns := s.idx.byID[mustID(t, l.id)].ns
			_, err := s.GetActivation(ns, l.id)
			require.NoError(t, err)
		}
	})
}

func filledFuzz(f *testing.F) (*vfstest.MemFS, error) {
	m := vfstest.NewMemFS()
	s, err := open(m, memDir, Options{})
	if err != nil {
		return nil, err
	}
	for i := range 3 {
		if err := s.Append(activation(id(i+1), "guest", "a", int64(i), 1)); err != nil {
			return nil, err
		}
	}
	return m, s.Close()
}

func mustID(t *testing.T, s string) [16]byte {
	k, err := parseID(s)
	require.NoError(t, err)
	return k
}
