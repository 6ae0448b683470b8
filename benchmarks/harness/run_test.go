package harness_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/benchmarks/harness"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/servers"
)

// testStores are pmem and disk, and redis and s3 when their servers are
// installed (or required: MARVEL_REQUIRE_SERVERS=1, as the test command
// sets; then a missing server fails the test).
func testStores(t *testing.T) []string {
	stores := []string{shuffle.KindPMEM, shuffle.KindDisk}
	required := os.Getenv("MARVEL_REQUIRE_SERVERS") == "1"
	if _, err := exec.LookPath(servers.RedisBinary); err == nil || required {
		stores = append(stores, shuffle.KindRedis)
	} else {
		t.Logf("redis store not benchmarked: %v", err)
	}
	if _, ok := servers.FindMinIO(servers.DefaultS3Options()); ok || required {
		stores = append(stores, shuffle.KindS3)
	} else {
		t.Logf("s3 store not benchmarked: no minio executable (MARVEL_REQUIRE_SERVERS=1 builds one)")
	}
	return stores
}

// TestRunTiny runs every workload on every available store at a few MiB,
// twice, and checks the report's structure, the speedups against the
// medians, and the files written from it. It asserts no timing.
func TestRunTiny(t *testing.T) {
	stores := testStores(t)
	o := harness.Options{
		Stores:   stores,
		TextSize: 2 << 20, SortSize: 2 << 20,
		Repeat:  2,
		Mappers: 3, Reducers: 2, Concurrency: 2,
		Data: t.TempDir(), Scratch: t.TempDir(),
		Binary:  marvelBin,
		Command: "harness test",
	}
	var log bytes.Buffer
	rep, err := harness.Run(t.Context(), o, &harness.Lines{W: &log})
	t.Logf("progress:\n%s", log.String())
	require.NoError(t, err)

	workloads := []string{"wordcount", "sort", "grep"}
	require.Equal(t, workloads, rep.Setup.Workloads)
	require.Equal(t, stores, rep.Setup.Stores)
	require.Equal(t, "harness test", rep.Command)
	require.NotEmpty(t, rep.Machine.Go)
	require.Positive(t, rep.Machine.Cores)
	require.Contains(t, rep.Storage.Summary, "PMEM emulated on")
	require.Contains(t, rep.Storage.Summary, "with fsync")

	// Interleaved: repetition, then workload, then store, the stores'
	// order rotated by one each repetition.
	require.Len(t, rep.Runs, 2*len(workloads)*len(stores))
	i := 0
	digests := map[string]string{}
	for r := 1; r <= 2; r++ {
		k := (r - 1) % len(stores)
		order := append(append([]string{}, stores[k:]...), stores[:k]...)
		for _, w := range workloads {
			for _, s := range order {
				run := rep.Runs[i]
				i++
				require.Equal(t, i, run.Seq)
				require.Equal(t, r, run.Repeat)
				require.Equal(t, w, run.Workload)
				require.Equal(t, s, run.Store)
				require.Equal(t, 3, run.Maps)
				require.Equal(t, 2, run.Reduces)
				require.Positive(t, run.Total)
				require.Positive(t, run.BytesShuffled)
				require.Positive(t, run.GBSeconds)
				require.Positive(t, run.TaskTime)
				require.Len(t, run.OutputSHA256, 64)
				if d, ok := digests[w]; ok {
					require.Equal(t, d, run.OutputSHA256, "%s on %s: outputs are identical across stores", w, s)
				}
				digests[w] = run.OutputSHA256
			}
		}
	}

	// One summary per workload × store, one speedup per workload ×
	// baseline, each from the medians.
	require.Len(t, rep.Summaries, len(workloads)*len(stores))
	require.Len(t, rep.Speedups, len(workloads)*(len(stores)-1))
	for _, sp := range rep.Speedups {
		var pm, other harness.Summary
		for _, s := range rep.Summaries {
			if s.Workload == sp.Workload && s.Store == "pmem" {
				pm = s
			}
			if s.Workload == sp.Workload && s.Store == sp.Baseline {
				other = s
			}
		}
		require.Equal(t, pm.Median.Total, sp.PMEM)
		require.Equal(t, other.Median.Total, sp.Other)
		require.InDelta(t, other.Median.Total.Seconds()/pm.Median.Total.Seconds(), sp.Ratio, 1e-9)
		require.False(t, sp.AtFullSize)
		if sp.Workload == "sort" {
			require.Equal(t, harness.Targets[sp.Baseline], sp.Target)
		} else {
			require.Zero(t, sp.Target)
		}
	}
	for _, s := range rep.Summaries {
		require.Equal(t, 2, s.Runs)
		require.LessOrEqual(t, s.JobMin, s.Median.Total)
		require.LessOrEqual(t, s.Median.Total, s.JobMax)
		require.True(t, s.ShuffleShare >= 0 && s.ShuffleShare <= 1, s.ShuffleShare)
	}

	checkFiles(t, rep)
	var table bytes.Buffer
	require.NoError(t, harness.WriteTable(&table, rep))
	t.Logf("table:\n%s", table.String())
	for _, s := range stores {
		require.Regexp(t, `(?m)^sort +`+s+` +3×2 `, table.String())
	}
}

// checkFiles writes the report's results and plots and reads them back.
func checkFiles(t *testing.T, rep *harness.Report) {
	dir := t.TempDir()
	require.NoError(t, harness.WriteResults(dir, rep))
	back, err := harness.ReadResults(dir)
	require.NoError(t, err)
	require.Equal(t, rep.Runs, back.Runs)
	require.Equal(t, rep.Summaries, back.Summaries)
	require.Equal(t, rep.Speedups, back.Speedups)
	require.Equal(t, rep.Machine, back.Machine)

	f, err := os.Open(filepath.Join(dir, harness.ResultsCSV))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(rep.Runs))
	require.Equal(t, harness.CSVHeader, rows[0])
	for i, row := range rows[1:] {
		require.Equal(t, rep.Runs[i].Workload, row[2])
		require.Equal(t, rep.Runs[i].Store, row[3])
		require.Equal(t, rep.Runs[i].OutputSHA256, row[len(row)-1])
	}

	files, err := harness.WritePlots(dir, rep, harness.PlotPNG)
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, p := range files {
		f, err := os.Open(p)
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err, p)
		require.Greater(t, img.Bounds().Dx(), 100)
	}
	files, err = harness.WritePlots(dir, rep, harness.PlotSVG)
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var doc struct{ XMLName xml.Name }
		require.NoError(t, xml.Unmarshal(b, &doc), p)
		require.Equal(t, "svg", doc.XMLName.Local)
	}
	files, err = harness.WritePlots(dir, rep, harness.PlotNone)
	require.NoError(t, err)
	require.Empty(t, files)
	_, err = harness.WritePlots(dir, rep, "jpeg")
	require.ErrorIs(t, err, harness.ErrInvalidOptions)
}

// TestRunStopsOnCancel: a cancelled run ends with the context's error.
func TestRunStopsOnCancel(t *testing.T) {
	parent := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o := harness.Options{Stores: []string{"pmem"}, TextSize: 1 << 20, SortSize: 1 << 20, Binary: marvelBin,
		Data: filepath.Join(parent, "data"), Scratch: filepath.Join(parent, "scratch")}
	_, err := harness.Run(ctx, o, nil)
	require.ErrorIs(t, err, context.Canceled)
}

// TestRunNoRoom: a size the data directory cannot hold is refused before
// anything starts.
func TestRunNoRoom(t *testing.T) {
	o := harness.Options{Workloads: []string{"sort"}, Stores: []string{"pmem"}, SortSize: 1 << 50, Binary: marvelBin,
		Data: t.TempDir(), Scratch: t.TempDir()}
	_, err := harness.Run(t.Context(), o, nil)
	require.ErrorIs(t, err, harness.ErrNoRoom)
	require.ErrorContains(t, err, "use a smaller --size")
}
