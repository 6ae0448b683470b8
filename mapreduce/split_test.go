package mapreduce

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplits(t *testing.T) {
	for _, tc := range []struct {
		size   int64
		n, rec int
	}{
		{0, 1, 0}, {0, 5, 100}, {10, 3, 0}, {1 << 40, 7, 0}, {1000, 7, 100}, {300, 7, 100}, {7, 7, 1}, {1<<62 + 1, 99999, 0},
	} {
		s, err := Splits(tc.size, tc.n, tc.rec)
		require.NoError(t, err, "%+v", tc)
		require.Len(t, s, tc.n)
		next := int64(0)
		lo, hi := s[0].Length, s[0].Length
		for _, r := range s {
			require.Equal(t, next, r.Offset, "%+v: contiguous", tc)
			require.GreaterOrEqual(t, r.Length, int64(0))
			if tc.rec > 1 {
				require.Zero(t, r.Offset%int64(tc.rec), "%+v: record-aligned", tc)
			}
			next = r.End()
			lo, hi = min(lo, r.Length), max(hi, r.Length)
		}
		require.Equal(t, tc.size, next, "%+v: covers the input", tc)
		require.LessOrEqual(t, hi-lo, int64(max(tc.rec, 1)), "%+v: balanced", tc)
	}
	for _, bad := range []struct {
		size   int64
		n, rec int
	}{{-1, 1, 0}, {10, 0, 0}, {10, MaxTasks + 1, 0}, {10, 1, -1}, {150, 2, 100}} {
		_, err := Splits(bad.size, bad.n, bad.rec)
		require.Error(t, err, "%+v", bad)
	}
}

// linesOf returns the offsets at which the lines of data start.
func linesOf(data []byte) []int64 {
	var starts []int64
	for i := 0; i < len(data); {
		starts = append(starts, int64(i))
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return starts
}

// TestLineRangeEveryLineOnce cuts random texts at random points and checks
// that the map tasks' line ranges tile the text: each line read once, by
// the split holding its first byte.
func TestLineRangeEveryLineOnce(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for iter := range 2000 {
		n := rng.IntN(60)
		data := make([]byte, n)
		for i := range data {
			if rng.IntN(5) == 0 {
				data[i] = '\n'
			} else {
				data[i] = 'a' + byte(rng.IntN(3))
			}
		}
		cuts := []int64{0}
		for k := rng.IntN(8); k > 0; k-- {
			cuts = append(cuts, int64(rng.IntN(n+1)))
		}
		cuts = append(cuts, int64(n))
		slices.Sort(cuts)
		var got []int64
		next := int64(-1)
		for i := 0; i+1 < len(cuts); i++ {
			off, length := cuts[i], cuts[i+1]-cuts[i]
			start, end := LineRange(data, off, length)
			require.LessOrEqual(t, start, end)
			if start == end {
				continue
			}
			if next >= 0 {
				require.Equal(t, next, start, "iteration %d %q cuts %v: ranges abut", iter, data, cuts)
			}
			next = end
			for _, l := range linesOf(data[start:end]) {
				got = append(got, start+l)
			}
			// Every line read starts inside the split.
			for _, l := range linesOf(data[start:end]) {
				require.True(t, start+l >= off && start+l < off+length, "iteration %d %q cuts %v: line at %d outside [%d,%d)", iter, data, cuts, start+l, off, off+length)
			}
		}
		require.Equal(t, linesOf(data), got, "iteration %d %q cuts %v: every line once, in order", iter, data, cuts)
	}
}

func TestLineRange(t *testing.T) {
	data := []byte("ab\ncd\n\nef")
	for _, tc := range []struct {
		off, length, start, end int64
	}{
		{0, 9, 0, 9},
		{0, 1, 0, 3}, // finishes its line
		{1, 2, 3, 3}, // starts mid-line: skips it; the next line starts at 3, outside [1,3)
		{1, 3, 3, 6}, // the line at 3 is its
		{3, 0, 3, 3}, // empty split
		{6, 1, 6, 7}, // the empty line
		{7, 2, 7, 9}, // the last line has no newline
		{8, 1, 9, 9}, // mid last line
		{0, 3, 0, 3}, // ends on a newline: does not take the next line
		{9, 0, 9, 9}, // at the end
	} {
		s, e := LineRange(data, tc.off, tc.length)
		require.Equal(t, [2]int64{tc.start, tc.end}, [2]int64{s, e}, "[%d,+%d)", tc.off, tc.length)
	}
}
