package mapreduce

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func genText(t testing.TB, size int64, seed int64, vocab int) []byte {
	var b bytes.Buffer
	require.NoError(t, GenerateText(&b, size, seed, vocab))
	return b.Bytes()
}

func genRecords(t testing.TB, n int64, seed int64) []byte {
	var b bytes.Buffer
	require.NoError(t, GenerateRecords(&b, n, seed))
	return b.Bytes()
}

func TestGenerateTextDeterministic(t *testing.T) {
	a := genText(t, 100_000, 7, 500)
	require.Equal(t, a, genText(t, 100_000, 7, 500), "same seed, same bytes")
	require.NotEqual(t, a, genText(t, 100_000, 8, 500), "another seed, other bytes")
	require.Equal(t, a[:50_000-400], genText(t, 50_000, 7, 500)[:50_000-400], "a shorter text is a prefix, but for its cut last line")
}

func TestGenerateTextShape(t *testing.T) {
	for _, size := range []int64{0, 1, 2, 17, 1000, 123_457} {
		text := genText(t, size, 1, 50)
		require.Len(t, text, int(size), "exactly size bytes")
		if size > 0 {
			require.Equal(t, byte('\n'), text[len(text)-1], "ends with a newline")
		}
		require.True(t, utf8.Valid(text), "valid UTF-8, even where the last line was cut")
	}
	text := string(genText(t, 200_000, 3, 1000))
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] { // the last line may be cut
		n := len(strings.Fields(l))
		require.True(t, n >= 10 && n <= 15, "line %q has %d words", l, n)
		require.True(t, unicode.IsUpper([]rune(l)[0]) || unicode.IsDigit([]rune(l)[0]), "line %q starts with a capital", l)
		require.True(t, strings.HasSuffix(l, "."), "line %q ends with a full stop", l)
	}
	counts := refWordCount(text)
	require.LessOrEqual(t, len(counts), 1000, "words come from the vocabulary")
	freq := make([]int, 0, len(counts))
	nonASCII := 0
	for w, c := range counts {
		freq = append(freq, c)
		if strings.ContainsFunc(w, func(r rune) bool { return r >= utf8.RuneSelf }) {
			nonASCII++
		}
	}
	slices.Sort(freq)
	top, median := freq[len(freq)-1], freq[len(freq)/2]
	t.Logf("%d distinct words: top %d, median %d, %d with a non-ASCII letter", len(freq), top, median, nonASCII)
	// Zipf with s = 1.1 over 1000 words: rank 1 has about 500 times the
	// frequency of rank 500; a uniform draw would have them equal.
	require.Greater(t, top, 20*median, "Zipf: the most frequent word is far more frequent than the median")
	require.Positive(t, nonASCII, "some words have non-ASCII letters")
}

func TestGenerateTextSmallVocab(t *testing.T) {
	text := string(genText(t, 5000, 1, 1))
	require.Len(t, refWordCount(text), 1, "a vocabulary of one word")
	require.Error(t, GenerateText(&bytes.Buffer{}, 10, 1, 0))
	require.Error(t, GenerateText(&bytes.Buffer{}, -1, 1, 10))
}

func TestGenerateRecords(t *testing.T) {
	recs := genRecords(t, 1000, 42)
	require.Len(t, recs, 1000*RecordSize)
	require.Equal(t, recs, genRecords(t, 1000, 42), "same seed, same bytes")
	other := genRecords(t, 1000, 43)
	require.NotEqual(t, recs[:KeySize], other[:KeySize], "another seed, other keys")

	var b bytes.Buffer
	require.NoError(t, GenerateRecordsAt(&b, 0, 400, 42))
	require.NoError(t, GenerateRecordsAt(&b, 400, 600, 42))
	require.Equal(t, recs, b.Bytes(), "generated in pieces, the same records")

	keys := make(map[string]bool)
	for i := range 1000 {
		rec := recs[i*RecordSize : (i+1)*RecordSize]
		keys[string(rec[:KeySize])] = true
		require.Equal(t, []byte{0x00, 0x11}, rec[10:12])
		require.Equal(t, fmt.Sprintf("%032X", i), string(rec[12:44]), "row id")
		require.Equal(t, []byte{0x88, 0x99, 0xAA, 0xBB}, rec[44:48])
		require.Equal(t, []byte{0xCC, 0xDD, 0xEE, 0xFF}, rec[96:100])
		for j := 48; j < 96; j++ {
			require.True(t, rec[j] >= 'A' && rec[j] <= 'Z')
		}
	}
	require.Len(t, keys, 1000, "keys are distinct")
}

func TestSampleSplitPoints(t *testing.T) {
	recs := genRecords(t, 10_000, 5)
	sample, err := SampleRecords(bytes.NewReader(recs), int64(len(recs)), 1000)
	require.NoError(t, err)
	require.Len(t, sample, 1000*RecordSize)
	require.Equal(t, recs[:RecordSize], sample[:RecordSize], "the first record is sampled")

	const r = 8
	splits, err := SampleSplitPoints(sample, r)
	require.NoError(t, err)
	require.Len(t, splits, r-1)
	require.True(t, slices.IsSortedFunc(splits, bytes.Compare))
	per := make([]int, r)
	for i := 0; i < len(recs); i += RecordSize {
		per[RangePartition(recs[i:i+KeySize], splits)]++
	}
	t.Logf("records per reducer: %v", per)
	for _, n := range per {
		// 10,000 uniform keys, 1,000 sampled: each range holds 1/8 of the
		// sample, so its share of the input is 1250 give or take a few
		// standard deviations of the sample quantiles (~4%% of 10,000).
		require.InDelta(t, 1250, n, 800)
	}

	all, err := SampleRecords(bytes.NewReader(recs[:5*RecordSize]), 5*RecordSize, 100)
	require.NoError(t, err)
	require.Equal(t, recs[:5*RecordSize], all, "fewer records than samples: all of them")

	none, err := SampleSplitPoints(nil, 4)
	require.NoError(t, err)
	require.Equal(t, [][]byte{make([]byte, KeySize), make([]byte, KeySize), make([]byte, KeySize)}, none)
	one, err := SampleSplitPoints(sample, 1)
	require.NoError(t, err)
	require.Empty(t, one)

	_, err = SampleSplitPoints(sample[:150], 2)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = SampleRecords(bytes.NewReader(recs), 150, 2)
	require.ErrorIs(t, err, ErrBadInput)
}

func TestRangePartition(t *testing.T) {
	k := func(v uint64) []byte {
		b := make([]byte, KeySize)
		binary.BigEndian.PutUint64(b[2:], v)
		return b
	}
	splits := [][]byte{k(10), k(20), k(20), k(30)}
	for _, tc := range []struct {
		key  uint64
		want int
	}{{0, 0}, {9, 0}, {10, 1}, {19, 1}, {20, 3}, {29, 3}, {30, 4}, {1 << 60, 4}} {
		require.Equal(t, tc.want, RangePartition(k(tc.key), splits), "key %d", tc.key)
		m := &sortMapper{}
		for _, s := range splits {
			m.splits = append(m.splits, keyOf(s))
		}
		require.Equal(t, tc.want, m.partitionOf(keyOf(k(tc.key))), "key %d, the mapper's search", tc.key)
	}
}
