package mapreduce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/internal/partition"
)

// runLocal runs a job in memory: the map side over the given splits, the
// partitions handed straight to the reduce side. It returns the R outputs.
func runLocal(t testing.TB, workload string, args any, input []byte, splits []Range, reducers int) [][]byte {
	t.Helper()
	w, err := lookupWorkload(workload)
	require.NoError(t, err)
	rawArgs, err := json.Marshal(args)
	require.NoError(t, err)
	m, err := w.newMapper(rawArgs, reducers)
	require.NoError(t, err)
	byReducer := make([][][]byte, reducers)
	for i, s := range splits {
		data, err := inputRange(input, w, &Split{Path: "in", Offset: s.Offset, Length: s.Length})
		require.NoError(t, err, "split %d", i)
		parts, st, err := m.Map(data)
		require.NoError(t, err, "split %d", i)
		require.Len(t, parts, reducers)
		var entries int64
		for r, p := range parts {
			pr, err := partition.Open(p)
			require.NoError(t, err)
			entries += int64(pr.Len())
			byReducer[r] = append(byReducer[r], p)
		}
		require.Equal(t, st.recordsOut, entries, "split %d: records out are the entries written", i)
	}
	out := make([][]byte, reducers)
	for r := range out {
		var b bytes.Buffer
		st, err := w.reduce(byReducer[r], &b)
		require.NoError(t, err, "reducer %d", r)
		if w.recordSize == 0 {
			require.Equal(t, int64(bytes.Count(b.Bytes(), []byte("\n"))), st.recordsOut, "reducer %d: records out are lines", r)
		} else {
			require.Equal(t, int64(b.Len()/RecordSize), st.recordsOut, "reducer %d: records out are records", r)
		}
		out[r] = b.Bytes()
	}
	return out
}

// shapes are the (mappers, reducers) of the workload tests.
var shapes = [][2]int{{1, 1}, {3, 2}, {7, 5}}

// checkCounts checks counting outputs: each part sorted, its keys hashed to
// it, and all parts together equal to want.
func checkCounts(t *testing.T, parts [][]byte, want string) {
	t.Helper()
	var all []string
	for r, p := range parts {
		lines := textLines(string(p))
		require.True(t, slices.IsSorted(lines), "part %d sorted", r)
		for _, l := range lines {
			key, _, ok := strings.Cut(l, "\t")
			require.True(t, ok, "part %d line %q", r, l)
			require.Equal(t, r, HashPartition([]byte(key), len(parts)), "part %d holds key %q", r, key)
		}
		all = append(all, lines...)
	}
	slices.Sort(all)
	got := strings.Join(all, "\n")
	if len(all) > 0 {
		got += "\n"
	}
	require.Equal(t, want, got)
}

func equalSplits(t testing.TB, size int64, n, rec int) []Range {
	s, err := Splits(size, n, rec)
	require.NoError(t, err)
	return s
}

func TestWordCount(t *testing.T) {
	text := genText(t, 30_000, 11, 300)
	want := countsOutput(refWordCount(string(text)))
	require.NotEmpty(t, want)
	for _, sh := range shapes {
		t.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(t *testing.T) {
			checkCounts(t, runLocal(t, WordCount, nil, text, equalSplits(t, int64(len(text)), sh[0], 0), sh[1]), want)
		})
	}
	t.Run("empty", func(t *testing.T) {
		for _, sh := range shapes {
			out := runLocal(t, WordCount, nil, nil, equalSplits(t, 0, sh[0], 0), sh[1])
			for _, p := range out {
				require.Empty(t, p)
			}
		}
	})
	t.Run("tokens", func(t *testing.T) {
		// Unicode letters, case, digits, punctuation, invalid UTF-8, a last
		// line without newline, and splits of one byte that cut every
		// word and character.
		text := "Über straße, ÉCOLE école\nα-Βήτα x2y 3\xffab\xc3\n\n\tZ\u0301z   END"
		want := countsOutput(refWordCount(text))
		require.Contains(t, want, "über\t1\n")
		require.Contains(t, want, "école\t2\n")
		require.Contains(t, want, "ab\t1\n")
		for _, m := range []int{1, 5, len(text)} {
			checkCounts(t, runLocal(t, WordCount, nil, []byte(text), equalSplits(t, int64(len(text)), m, 0), 3), want)
		}
	})
}

func TestGrep(t *testing.T) {
	text := genText(t, 30_000, 12, 300)
	for _, pattern := range []string{
		`[aeiou]{2}[a-z]`, // a regexp
		`st`,              // a literal: the fast path
		`\d+`,             // numbers only
		`^[A-Z][a-z]*`,    // anchored at the line
		`x*`,              // empty matches count too
		`[a-z]+\.$`,       // the last word of a line
	} {
		want := countsOutput(refGrep(string(text), pattern))
		require.NotEmpty(t, want, pattern)
		for _, sh := range shapes {
			t.Run(fmt.Sprintf("%s/%dx%d", pattern, sh[0], sh[1]), func(t *testing.T) {
				out := runLocal(t, Grep, GrepArgs{Pattern: pattern}, text, equalSplits(t, int64(len(text)), sh[0], 0), sh[1])
				checkCounts(t, out, want)
			})
		}
	}
	t.Run("empty", func(t *testing.T) {
		for _, sh := range shapes {
			for _, p := range runLocal(t, Grep, GrepArgs{Pattern: "a"}, nil, equalSplits(t, 0, sh[0], 0), sh[1]) {
				require.Empty(t, p)
			}
		}
	})
}

func TestGrepArgs(t *testing.T) {
	for _, args := range []string{`{}`, `{"pattern":""}`, `{"pattern":"("}`, `{"pattern":"a","x":1}`, `[1]`} {
		_, err := newGrepMapper(json.RawMessage(args), 2)
		require.ErrorIs(t, err, ErrInvalid, args)
	}
}

func TestSort(t *testing.T) {
	const n = 3000
	recs := genRecords(t, n, 21)
	// Duplicate keys and a duplicate record, which a sort must keep.
	copy(recs[5*RecordSize:5*RecordSize+KeySize], recs[9*RecordSize:])
	copy(recs[100*RecordSize:101*RecordSize], recs[200*RecordSize:])
	want := refSort(recs)
	for _, sh := range shapes {
		t.Run(fmt.Sprintf("%dx%d", sh[0], sh[1]), func(t *testing.T) {
			sample, err := SampleRecords(bytes.NewReader(recs), int64(len(recs)), 500)
			require.NoError(t, err)
			splits, err := SampleSplitPoints(sample, sh[1])
			require.NoError(t, err)
			args := NewSortArgs(splits)
			out := runLocal(t, Sort, args, recs, equalSplits(t, int64(len(recs)), sh[0], RecordSize), sh[1])
			for r, p := range out {
				for i := 0; i < len(p); i += RecordSize {
					require.Equal(t, r, RangePartition(p[i:i+KeySize], splits), "part %d holds its key range", r)
				}
			}
			require.Equal(t, want, bytes.Join(out, nil), "the parts in order are the input sorted")
			parts := make([]io.Reader, len(out))
			for i, p := range out {
				parts[i] = bytes.NewReader(p)
			}
			sum, err := ValidateSort(bytes.NewReader(recs), parts...)
			require.NoError(t, err)
			require.Equal(t, int64(n), sum.Records)
		})
	}
	t.Run("empty", func(t *testing.T) {
		for _, sh := range shapes {
			splits, err := SampleSplitPoints(nil, sh[1])
			require.NoError(t, err)
			for _, p := range runLocal(t, Sort, NewSortArgs(splits), nil, equalSplits(t, 0, sh[0], RecordSize), sh[1]) {
				require.Empty(t, p)
			}
		}
	})
	t.Run("unaligned", func(t *testing.T) {
		w, _ := lookupWorkload(Sort)
		_, err := inputRange(recs, w, &Split{Path: "in", Offset: 50, Length: 100})
		require.ErrorIs(t, err, ErrInvalid, "a split that cuts a record")
		_, err = inputRange(recs[:250], w, &Split{Path: "in", Offset: 0, Length: 200})
		require.ErrorIs(t, err, ErrBadInput, "an input that is not whole records")
		_, err = inputRange(recs, w, &Split{Path: "in", Offset: 0, Length: int64(len(recs)) + 100})
		require.ErrorIs(t, err, ErrInvalid, "a split past the end")
	})
}

func TestSortArgs(t *testing.T) {
	for _, tc := range []struct {
		args     string
		reducers int
	}{
		{`{"splits":["00000000000000000001"]}`, 3},                        // too few
		{`{"splits":["0000000000000000000"]}`, 2},                         // odd digits
		{`{"splits":["000000000000000000"]}`, 2},                          // 9 bytes
		{`{"splits":["zz000000000000000000"]}`, 2},                        // not hex
		{`{"splits":["00000000000000000002","00000000000000000001"]}`, 3}, // decreasing
		{`{}`, 2},
	} {
		_, err := newSortMapper(json.RawMessage(tc.args), tc.reducers)
		require.ErrorIs(t, err, ErrInvalid, tc.args)
	}
	_, err := newSortMapper(nil, 1)
	require.NoError(t, err, "one reducer needs no split points")
}

func TestWorkloads(t *testing.T) {
	require.Equal(t, []string{Grep, Sort, WordCount}, Workloads())
	rs, err := InputRecordSize(Sort)
	require.NoError(t, err)
	require.Equal(t, RecordSize, rs)
	rs, err = InputRecordSize(WordCount)
	require.NoError(t, err)
	require.Zero(t, rs)
	_, err = InputRecordSize("pagerank")
	require.ErrorIs(t, err, ErrInvalid)
}
