package records

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// BenchmarkAppend appends records from many goroutines at once (group
// commit) and from one, on disk and on tmpfs (no fsync cost), and reports
// records/s, records per fsync and latency percentiles.
func BenchmarkAppend(b *testing.B) {
	backends := []struct {
		name string
		fs   func(b *testing.B) (vfs.FS, string)
	}{
		{"disk", func(b *testing.B) (vfs.FS, string) { return vfs.OS{}, b.TempDir() }},
		// tmpfs: the same code with fdatasync a no-op, to show the cost
		// of everything but the disk.
		{"tmpfs", func(b *testing.B) (vfs.FS, string) {
			dir, err := os.MkdirTemp("/dev/shm", "marvel-records-bench-")
			if err != nil {
				b.Skipf("no /dev/shm: %v", err)
			}
			b.Cleanup(func() { os.RemoveAll(dir) })
			return vfs.OS{}, dir
		}},
	}
	sizes := []struct {
		name string
		logs int
	}{{"1KiB", 7}, {"16KiB", 150}}
	for _, be := range backends {
		for _, sz := range sizes {
			for _, writers := range []int{64, 1} {
				b.Run(fmt.Sprintf("backend=%s/size=%s/writers=%d", be.name, sz.name, writers), func(b *testing.B) {
					fsys, dir := be.fs(b)
					s := openT(b, fsys, dir, Options{})
					tmpl := activation(id(0), "guest", "bench", 1, sz.logs)
					raw, _ := json.Marshal(tmpl)
					b.SetBytes(int64(len(raw)))
					b.ReportAllocs()
					var next atomic.Uint64
					var mu sync.Mutex
					var lat []time.Duration
					// RunParallel starts parallelism*GOMAXPROCS goroutines.
					b.SetParallelism(max(1, writers/max(1, runtimeProcs())))
					if writers == 1 {
						b.SetParallelism(1)
					}
					b.ResetTimer()
					run := func(pb *testing.PB) {
						a := tmpl
						var mine []time.Duration
						for pb.Next() {
							a.ActivationID = id(int(next.Add(1)))
							t0 := time.Now()
							if err := s.Append(a); err != nil {
								b.Error(err)
								return
							}
							mine = append(mine, time.Since(t0))
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					}
					if writers == 1 {
						for i := 0; i < b.N; i++ {
							a := tmpl
							a.ActivationID = id(int(next.Add(1)))
							t0 := time.Now()
							if err := s.Append(a); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(t0))
						}
					} else {
						b.RunParallel(run)
					}
					b.StopTimer()
					st := s.Stats()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
					b.ReportMetric(float64(st.Appends)/float64(max(st.Syncs, 1)), "records/sync")
					if len(lat) > 0 {
						slices.Sort(lat)
						b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
						b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
					}
				})
			}
		}
	}
}

// BenchmarkIndexMemory reports the live heap the activation index holds
// per record kept (B/record), for records shaped as the invoker writes
// them: the heap after appending b.N records and collecting garbage, less
// the heap before. A standalone's resident memory for its records is about
// this times the retention (--max-activations), times up to two while
// dropped entries wait for compaction, plus the collector's headroom.
func BenchmarkIndexMemory(b *testing.B) {
	dir, err := os.MkdirTemp("/dev/shm", "marvel-records-bench-")
	if err != nil {
		dir = b.TempDir() // slower (an fdatasync per record), same figure
	} else {
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	s := openT(b, vfs.OS{}, dir, Options{MaxActivations: max(b.N, 1)})
	limits := map[string]int{"concurrency": 8, "logs": 10, "memory": 256, "timeout": 60000}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		a := whisk.Activation{
			Namespace: "guest", Name: "echo", Subject: "guest", ActivationID: id(i), Version: "0.0.3",
			Start: int64(1_700_000_000_000 + i), End: int64(1_700_000_000_003 + i), Duration: 3,
			Annotations: whisk.KeyValues{}.Set("path", "guest/echo").Set("kind", "go:1.26").
				Set("limits", limits).Set("timeout", false).Set("waitTime", i%50),
			Response: &whisk.Response{Status: "success", Success: true, Result: json.RawMessage(`{"n":1}`)},
		}
		if err := s.Append(a); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "B/record")
}
