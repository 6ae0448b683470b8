package pmem

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDirtySetMerges(t *testing.T) {
	const p = 4096
	type add struct{ start, end int64 }
	tests := []struct {
		name string
		adds []add
		want []pageRange
	}{
		{"empty range ignored", []add{{p, p}, {2 * p, p}}, nil},
		{"single", []add{{0, p}}, []pageRange{{0, p}}},
		{"same page many times", []add{{p, 2 * p}, {p, 2 * p}, {p, 2 * p}}, []pageRange{{p, 2 * p}}},
		{"ascending adjacent appends", []add{{0, p}, {p, 2 * p}, {2 * p, 3 * p}}, []pageRange{{0, 3 * p}}},
		{"descending adjacent", []add{{2 * p, 3 * p}, {p, 2 * p}, {0, p}}, []pageRange{{0, 3 * p}}},
		{"disjoint stay sorted", []add{{4 * p, 5 * p}, {0, p}, {2 * p, 3 * p}},
			[]pageRange{{0, p}, {2 * p, 3 * p}, {4 * p, 5 * p}}},
		{"fill a gap joins three", []add{{0, p}, {2 * p, 3 * p}, {p, 2 * p}}, []pageRange{{0, 3 * p}}},
		{"overlap spanning several", []add{{0, p}, {2 * p, 3 * p}, {4 * p, 5 * p}, {6 * p, 7 * p}, {0, 5 * p}},
			[]pageRange{{0, 5 * p}, {6 * p, 7 * p}}},
		{"extend last up to next merges", []add{{4 * p, 5 * p}, {0, p}, {0, 4 * p}}, []pageRange{{0, 5 * p}}},
		{"extend last stops before next", []add{{4 * p, 5 * p}, {0, p}, {0, 3 * p}}, []pageRange{{0, 3 * p}, {4 * p, 5 * p}}},
		{"covering all", []add{{p, 2 * p}, {3 * p, 4 * p}, {0, 10 * p}}, []pageRange{{0, 10 * p}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d dirtySet
			for _, a := range tc.adds {
				d.add(a.start, a.end)
			}
			if tc.want == nil {
				require.Empty(t, d.ranges())
				return
			}
			require.Equal(t, tc.want, d.ranges())
		})
	}
}

// TestDirtySetRandom checks the set against a page bitmap for random adds.
func TestDirtySetRandom(t *testing.T) {
	const pages = 64
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var d dirtySet
		var want [pages]bool
		for i := 0; i < rng.IntN(20); i++ {
			s := rng.IntN(pages)
			e := s + 1 + rng.IntN(min(4, pages-s))
			for p := s; p < e; p++ {
				want[p] = true
			}
			d.add(int64(s), int64(e))
		}
		var got [pages]bool
		prevEnd := int64(-1)
		var covered int64
		for _, r := range d.ranges() {
			require.Less(t, r.start, r.end)
			require.Greater(t, r.start, prevEnd, "ranges must be sorted, disjoint and non-adjacent: %v", d.ranges())
			prevEnd = r.end
			for p := r.start; p < r.end; p++ {
				got[p] = true
			}
			covered += r.end - r.start
		}
		require.Equal(t, want, got)
		require.Equal(t, covered, d.bytes())
	}
}

func TestDirtySetDropAndReset(t *testing.T) {
	var d dirtySet
	d.add(0, 1)
	d.add(3, 4)
	d.add(6, 7)
	d.dropFirst(1)
	require.Equal(t, []pageRange{{3, 4}, {6, 7}}, d.ranges())
	d.add(3, 4) // hint must still be valid after the drop
	d.add(0, 1)
	require.Equal(t, []pageRange{{0, 1}, {3, 4}, {6, 7}}, d.ranges())
	d.reset()
	require.Empty(t, d.ranges())
	require.Zero(t, d.bytes())
	d.add(5, 6)
	require.Equal(t, []pageRange{{5, 6}}, d.ranges())
}

func TestRegionClampRange(t *testing.T) {
	tests := []struct {
		off, n, size int64
		start, end   int64
	}{
		{0, 10, 100, 0, 10},
		{90, 10, 100, 90, 100},
		{95, 10, 100, 95, 100},
		{100, 1, 100, 0, 0},
		{200, 1, 100, 0, 0},
		{-5, 10, 100, 0, 5},
		{-5, 5, 100, 0, 0},
		{-5, 500, 100, 0, 100},
		{10, 0, 100, 0, 0},
		{10, -3, 100, 0, 0},
		{0, 10, 0, 0, 0},
		{50, math.MaxInt64, 100, 50, 100},
		{math.MinInt64, 10, 100, 0, 0},
		{math.MinInt64, math.MaxInt64, 100, 0, 0},
		{math.MaxInt64, math.MaxInt64, 100, 0, 0},
	}
	for _, tc := range tests {
		s, e := clampRange(tc.off, tc.n, tc.size)
		if tc.start >= tc.end {
			require.GreaterOrEqual(t, s, e, "clampRange(%d, %d, %d) should be empty", tc.off, tc.n, tc.size)
			continue
		}
		require.Equal(t, [2]int64{tc.start, tc.end}, [2]int64{s, e}, "clampRange(%d, %d, %d)", tc.off, tc.n, tc.size)
	}
}

func TestRegionRoundUp(t *testing.T) {
	require.Equal(t, int64(4096), roundUp(1, 4096))
	require.Equal(t, int64(4096), roundUp(4096, 4096))
	require.Equal(t, int64(8192), roundUp(4097, 4096))
	require.Less(t, roundUp(math.MaxInt64-1, 4096), int64(math.MaxInt64-1), "overflow must be detectable")
}

func TestRegionOptionsDefaults(t *testing.T) {
	var o RegionOptions
	require.Equal(t, "/sys", o.sysfsRoot())
	require.NotNil(t, o.logger())
	o.SysfsRoot = "/fake"
	require.Equal(t, "/fake", o.sysfsRoot())
}

func TestRegionUnsupportedOS(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("regions are supported on Linux")
	}
	_, err := CreateRegion(t.TempDir()+"/r", 4096, RegionOptions{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.ErrorContains(t, err, "needs Linux")
	_, err = OpenRegion(t.TempDir()+"/r", RegionOptions{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
}
