package partition

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

type kv struct {
	key   string
	count uint64
}

func buildCounts(t testing.TB, entries ...kv) []byte {
	b := NewBuilder(KindCounts, 0)
	for _, e := range entries {
		require.NoError(t, b.AddCount([]byte(e.key), e.count))
	}
	return b.Finish()
}

func readCounts(t testing.TB, p []byte) []kv {
	r, err := Open(p)
	require.NoError(t, err)
	require.Equal(t, KindCounts, r.Kind())
	var got []kv
	for r.Next() {
		got = append(got, kv{string(r.Key()), r.Value()})
	}
	require.NoError(t, r.Err())
	require.Len(t, got, int(r.Len()))
	return got
}

func record(key string, fill byte) []byte {
	rec := bytes.Repeat([]byte{fill}, RecordSize)
	copy(rec, key)
	return rec
}

func TestCountsRoundTrip(t *testing.T) {
	in := []kv{{"", 3}, {"a", 1}, {"ab", 1 << 40}, {"b", 7}, {"\xff\x00", 2}}
	p := buildCounts(t, in...)
	require.Equal(t, in, readCounts(t, p))
	require.Nil(t, readCounts(t, buildCounts(t)), "an empty partition")
	require.Len(t, buildCounts(t), HeaderSize)
}

func TestRecordsRoundTrip(t *testing.T) {
	b := NewBuilder(KindRecords, 3*RecordSize)
	recs := [][]byte{record("aaaa", 1), record("aaaa", 1), record("aaaa", 2), record("b", 0)}
	for _, r := range recs {
		require.NoError(t, b.AddRecord(r))
	}
	p := b.Finish()
	require.Len(t, p, HeaderSize+len(recs)*RecordSize)
	r, err := Open(p)
	require.NoError(t, err)
	var got [][]byte
	for r.Next() {
		got = append(got, r.Key())
	}
	require.NoError(t, r.Err())
	require.Equal(t, recs, got)
}

func TestBuilderRefuses(t *testing.T) {
	b := NewBuilder(KindCounts, 0)
	require.NoError(t, b.AddCount([]byte("b"), 1))
	require.ErrorIs(t, b.AddCount([]byte("a"), 1), ErrOrder)
	require.ErrorIs(t, b.AddCount([]byte("b"), 1), ErrOrder, "a key twice")
	require.ErrorIs(t, b.AddCount([]byte("c"), 0), ErrOrder)
	require.ErrorIs(t, b.AddRecord(record("x", 0)), ErrOrder, "a record in a counts partition")
	b.Finish()
	require.ErrorIs(t, b.AddCount([]byte("d"), 1), ErrOrder, "after Finish")

	r := NewBuilder(KindRecords, 0)
	require.NoError(t, r.AddRecord(record("b", 0)))
	require.ErrorIs(t, r.AddRecord(record("a", 0)), ErrOrder)
	require.ErrorIs(t, r.AddRecord([]byte("short")), ErrOrder)
	require.ErrorIs(t, r.AddCount([]byte("k"), 1), ErrOrder)
}

// reseal recomputes both checksums of p after a test damaged it, so that
// the damage reaches the structure checks.
func reseal(p []byte) []byte {
	binary.LittleEndian.PutUint32(p[24:28], checksum(p[HeaderSize:]))
	binary.LittleEndian.PutUint32(p[28:32], checksum(p[:28]))
	return p
}

// withBody returns a sealed partition of the given kind, count and body.
func withBody(kind Kind, count uint64, body []byte) []byte {
	p := Header{Kind: kind, Count: count}.Encode()
	return reseal(append(p, body...))
}

func TestCorrupt(t *testing.T) {
	good := buildCounts(t, kv{"a", 1}, kv{"b", 2})
	mut := func(f func(p []byte) []byte) []byte { return f(bytes.Clone(good)) }
	recs := withBody(KindRecords, 2, append(record("b", 0), record("a", 0)...))

	for _, tc := range []struct {
		name   string
		p      []byte
		atOpen bool
		reason string
	}{
		{"empty", nil, true, "shorter than"},
		{"short header", good[:20], true, "shorter than"},
		{"magic", mut(func(p []byte) []byte { p[0] = 'X'; return p }), true, "bad magic"},
		{"header checksum", mut(func(p []byte) []byte { p[17] ^= 1; return p }), true, "header checksum"},
		{"version", mut(func(p []byte) []byte { p[8] = 9; return reseal(p) }), true, "version 9"},
		{"kind", mut(func(p []byte) []byte { p[9] = 7; return reseal(p) }), true, "unknown kind"},
		{"reserved", mut(func(p []byte) []byte { p[12] = 1; return reseal(p) }), true, "reserved byte"},
		{"body checksum", mut(func(p []byte) []byte { p[len(p)-1] ^= 0x40; return p }), true, "body checksum"},
		{"truncated body", good[:len(good)-1], true, "body checksum"},
		{"count too large", withBody(KindCounts, 1<<62, []byte{1, 'a', 1}), true, "cannot fit"},
		{"records length", withBody(KindRecords, 1, make([]byte, 99)), true, "need 100-byte records"},
		{"records count overflow", withBody(KindRecords, 1<<62, make([]byte, 100)), true, "need 100-byte records"},
		{"records order", recs, false, "sorts before"},
		{"key overruns", withBody(KindCounts, 1, []byte{9, 'a', 1}), false, "overruns"},
		{"bad key varint", withBody(KindCounts, 1, bytes.Repeat([]byte{0xff}, 11)), false, "bad key length"},
		{"bad count varint", withBody(KindCounts, 1, []byte{1, 'a', 0x80}), false, "bad count"},
		{"overlong count", withBody(KindCounts, 1, []byte{1, 'a', 0x81, 0x00}), false, "bad count"},
		{"zero count", withBody(KindCounts, 1, []byte{1, 'a', 0}), false, "zero count"},
		{"keys not ascending", withBody(KindCounts, 2, []byte{1, 'b', 1, 1, 'a', 1}), false, "does not sort after"},
		{"duplicate key", withBody(KindCounts, 2, []byte{1, 'a', 1, 1, 'a', 1}), false, "does not sort after"},
		{"trailing bytes", withBody(KindCounts, 1, []byte{1, 'a', 1, 0}), false, "after the last of 1 entries"},
		{"count short of body", withBody(KindCounts, 2, []byte{1, 'a', 1, 5, 'b'}), false, "overruns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(tc.p)
			if tc.atOpen {
				require.ErrorIs(t, err, ErrCorrupt)
				require.ErrorContains(t, err, tc.reason)
				return
			}
			require.NoError(t, err)
			for r.Next() {
			}
			require.ErrorIs(t, r.Err(), ErrCorrupt)
			require.ErrorContains(t, r.Err(), tc.reason)
			require.False(t, r.Next(), "an error is sticky")
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(buildCounts(f, kv{"a", 1}, kv{"bc", 300}))
	f.Add(withBody(KindRecords, 1, record("k", 'x')))
	f.Add(Header{Kind: KindCounts}.Encode())
	f.Fuzz(func(t *testing.T, p []byte) { drain(t, p) })
}

// FuzzBody fuzzes the entry decoder behind a valid header: the body
// checksum would stop almost every mutation of whole partitions at Open.
func FuzzBody(f *testing.F) {
	f.Add(uint8(KindCounts), uint64(2), []byte{1, 'a', 1, 2, 'b', 'c', 0xac, 0x02})
	f.Add(uint8(KindRecords), uint64(1), record("k", 'x'))
	f.Add(uint8(KindCounts), uint64(0), []byte{})
	f.Fuzz(func(t *testing.T, kind uint8, count uint64, body []byte) {
		drain(t, withBody(Kind(kind), count, body))
	})
}

// drain decodes p; whatever it decodes must re-encode to exactly p.
func drain(t *testing.T, p []byte) {
	r, err := Open(p)
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt)
		return
	}
	b := NewBuilder(r.Kind(), len(p))
	for r.Next() {
		if r.Kind() == KindCounts {
			require.NoError(t, b.AddCount(r.Key(), r.Value()))
		} else {
			require.NoError(t, b.AddRecord(r.Key()))
		}
	}
	if r.Err() != nil {
		require.ErrorIs(t, r.Err(), ErrCorrupt)
		return
	}
	require.Equal(t, p, b.Finish(), "a partition that decodes re-encodes to itself")
}

func BenchmarkDecodeCounts(b *testing.B) {
	bl := NewBuilder(KindCounts, 0)
	for i := range 10000 {
		if err := bl.AddCount(fmt.Appendf(nil, "word%06d", i), uint64(i%50+1)); err != nil {
			b.Fatal(err)
		}
	}
	p := bl.Finish()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
		}
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
}
