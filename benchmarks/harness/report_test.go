package harness

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/driver"
)

// fakeReport is a report of made-up runs: job times in seconds by store,
// one per repetition.
func fakeReport(sortBytes int64, jobs map[string][]float64, stores ...string) *Report {
	r := &Report{Setup: Setup{Workloads: []string{"sort"}, Stores: stores, SortBytes: sortBytes, Repeat: len(jobs[stores[0]])}}
	seq := 0
	for rep := range len(jobs[stores[0]]) {
		for _, s := range stores {
			seq++
			d := time.Duration(jobs[s][rep] * float64(time.Second))
			r.Runs = append(r.Runs, RunResult{Seq: seq, Repeat: rep + 1, Store: s, Result: driver.Result{
				Workload: "sort", Maps: 4, Reduces: 2,
				Times:         driver.Times{Total: d, MapStage: d / 2, ReduceStage: d / 2, ShuffleWrite: d / 4, ShuffleRead: d / 4, TaskTime: 2 * d},
				BytesShuffled: 1 << 20, GBSeconds: jobs[s][rep]}})
		}
	}
	r.Summarize()
	return r
}

func TestSummarize(t *testing.T) {
	r := fakeReport(FullSize/100*100, map[string][]float64{
		"pmem":      {2, 1, 3},
		"redis":     {3, 3.5, 2},
		"s3":        {9, 10, 20},
		"disk":      {4, 1, 100},
		"redis+2ms": {5, 6, 7},
	}, "pmem", "redis", "s3", "disk", "redis+2ms")
	require.Len(t, r.Summaries, 5)
	pm := r.Summaries[0]
	require.Equal(t, "pmem", pm.Store)
	require.Equal(t, 3, pm.Runs)
	require.Equal(t, 2*time.Second, pm.Median.Total, "median of 2, 1, 3")
	require.Equal(t, time.Second, pm.JobMin)
	require.Equal(t, 3*time.Second, pm.JobMax)
	require.Equal(t, time.Second, pm.Median.MapStage)
	require.Equal(t, 2.0, pm.GBSeconds)
	require.InDelta(t, 0.25, pm.ShuffleShare, 1e-9)

	want := map[string]struct {
		ratio, target float64
		met           bool
	}{
		"redis":     {1.5, 1.5, true},
		"s3":        {5, 3, true},
		"disk":      {2, 2, true},
		"redis+2ms": {3, 0, false}, // injected latency: no target
	}
	require.Len(t, r.Speedups, len(want))
	for _, sp := range r.Speedups {
		w := want[sp.Baseline]
		require.InDelta(t, w.ratio, sp.Ratio, 1e-9, sp.Baseline)
		require.Equal(t, w.target, sp.Target, sp.Baseline)
		require.Equal(t, w.met, sp.Met, sp.Baseline)
		require.True(t, sp.AtFullSize)
		require.Equal(t, 2*time.Second, sp.PMEM)
	}

	// Even counts take the mean of the middle two; a target missed is
	// reported as such.
	r = fakeReport(1<<20, map[string][]float64{"pmem": {1, 3}, "s3": {4, 4}}, "pmem", "s3")
	require.Equal(t, 2*time.Second, r.Summaries[0].Median.Total)
	require.Len(t, r.Speedups, 1)
	require.InDelta(t, 2, r.Speedups[0].Ratio, 1e-9)
	require.False(t, r.Speedups[0].Met)
	require.False(t, r.Speedups[0].AtFullSize)

	// Without pmem there is nothing to compare.
	r = fakeReport(1<<20, map[string][]float64{"redis": {1}, "s3": {4}}, "redis", "s3")
	require.Len(t, r.Summaries, 2)
	require.Empty(t, r.Speedups)
}

func TestWriteTable(t *testing.T) {
	r := fakeReport(1<<20, map[string][]float64{"pmem": {1, 1.2, 0.9}, "s3": {2.5, 2, 3}, "disk": {1.5, 1.4, 1.6}}, "pmem", "s3", "disk")
	r.Storage.summarize([]string{"pmem", "s3", "disk"}, "")
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, r))
	out := b.String()
	require.Contains(t, out, "storage: PMEM emulated on")
	require.Regexp(t, `(?m)^sort +pmem +4×2 +1\.00s +0\.900s–1\.20s .* 25% .* —$`, out)
	require.Regexp(t, `(?m)^sort +s3 +4×2 +2\.50s +2\.00s–3\.00s .* 2\.50× \(target 3×: short, below full size\)$`, out)
	require.Regexp(t, `(?m)^sort +disk +4×2 +1\.50s .* 1\.50× \(target 2×: short, below full size\)$`, out)
	require.Contains(t, out, "targets (issue 6")
}

func TestStorageSummary(t *testing.T) {
	s := Storage{DataFS: "tmpfs", ScratchFS: "ext4", Redis: "redis-server 7.0.15", S3: "MinIO"}
	s.summarize([]string{"pmem", "redis", "s3", "disk"}, "2ms latency injected before every redis and s3 request")
	require.Equal(t, "PMEM emulated on tmpfs (DRAM); disk = ext4 with fsync; redis = redis-server 7.0.15, no persistence; "+
		"s3 = MinIO on ext4; 2ms latency injected before every redis and s3 request", s.Summary)
	s = Storage{DataFS: "tmpfs", DataHuge: "always", ScratchFS: "ext4"}
	s.summarize([]string{"pmem", "disk"}, "")
	require.Equal(t, "PMEM emulated on tmpfs (DRAM, huge=always: 2 MiB pages); disk = ext4 with fsync", s.Summary)
	s = Storage{DataFS: "ext4", ScratchFS: "ext4"}
	s.summarize([]string{"pmem", "disk"}, "")
	require.Equal(t, "PMEM emulated on ext4 (not tmpfs: not memory speed); disk = ext4 with fsync", s.Summary)

	require.Equal(t, "redis-server 7.0.15", redisVersion("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d"))
	require.Equal(t, "MinIO (built from source)", minioVersion("minio version DEVELOPMENT.GOGET (commit-id=DEVELOPMENT.GOGET)"))
	require.Equal(t, "MinIO RELEASE.2025-04-22T22-12-26Z", minioVersion("minio version RELEASE.2025-04-22T22-12-26Z (commit-id=x)"))
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, func() error { o := QuickOptions(); o.Binary = "/bin/marvel"; return o.Validate() }())
	o := Options{Workloads: []string{"sort", "terasort", "sort"}, Stores: []string{"pmem", "nvme"}, SortSize: 10,
		Repeat: -1, Mappers: -1, Latency: -time.Second, MemoryMB: 4096, Binary: "marvel", GrepPattern: "("}
	err := o.Validate()
	require.ErrorIs(t, err, ErrInvalidOptions)
	for _, msg := range []string{`workload "terasort"`, `workload "sort" is listed twice`, `store "nvme"`, "sort size 10",
		"repeat -1", "-1 mappers", "latency -1s", "memory 4096 MB", `"marvel" is not an absolute path`, "grep pattern"} {
		require.ErrorContains(t, err, msg)
	}
	require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 10, "every problem at once")
}

func TestTasks(t *testing.T) {
	o := Options{}
	for _, tc := range []struct {
		size     int64
		maps, rs int
	}{
		{1 << 20, 4, 2},
		{QuickSize, 4, 2},
		{1 << 30, 16, 8},
		{FullSize, 64, 32},
		{1 << 40, 256, 128},
	} {
		m, r := o.tasks(tc.size)
		require.Equal(t, [2]int{tc.maps, tc.rs}, [2]int{m, r}, tc.size)
	}
	o = Options{Mappers: 7, Reducers: 3}
	m, r := o.tasks(FullSize)
	require.Equal(t, [2]int{7, 3}, [2]int{m, r})
}
