package pmem_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/pmem"
)

// poolBenchDir is a namespace directory on tmpfs, so the benchmarks measure
// the pool and the region code rather than a disk.
func poolBenchDir(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "marvel-pool-bench-")
	if err != nil {
		b.Skipf("no tmpfs at /dev/shm: %v", err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkPoolGrant grants a new 64 KiB region and releases it
// (keep=false): create, format, map, close and delete per op.
func BenchmarkPoolGrant(b *testing.B) {
	p := newTestPool(b, poolBenchDir(b), poolOptions(1<<30, newPoolClock()))
	req := pmem.GrantRequest{Owner: "fn:bench", Name: "bench", Size: 64 * kib}
	b.ReportAllocs()
	for b.Loop() {
		l, err := p.Grant(req)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolRegrant re-grants a kept 64 KiB region and releases it with
// keep=true: the cold-start path of a function getting its state back.
func BenchmarkPoolRegrant(b *testing.B) {
	p := newTestPool(b, poolBenchDir(b), poolOptions(1<<30, newPoolClock()))
	req := pmem.GrantRequest{Owner: "fn:bench", Name: "bench", Size: 64 * kib}
	b.ReportAllocs()
	for b.Loop() {
		l, err := p.Grant(req)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolRenew renews a lease.
func BenchmarkPoolRenew(b *testing.B) {
	p := newTestPool(b, poolBenchDir(b), poolOptions(1<<30, newPoolClock()))
	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:bench", Name: "bench", Size: 64 * kib})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Renew(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolReclaim measures reclamation per region: leased 64 KiB
// regions expire (fake clock) and one Reap closes and deletes them. Granting
// is not timed.
func BenchmarkPoolReclaim(b *testing.B) {
	clk := newPoolClock()
	p := newTestPool(b, poolBenchDir(b), poolOptions(1<<30, clk))
	const batch = 256
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		b.StopTimer()
		for i := range k {
			name := fmt.Sprintf("r%d", done+i)
			if _, err := p.Grant(pmem.GrantRequest{Owner: "job:bench", Name: name, Size: 64 * kib}); err != nil {
				b.Fatal(err)
			}
		}
		clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + time.Nanosecond)
		b.StartTimer()
		if n := p.Reap(); n != k {
			b.Fatalf("reaped %d regions, want %d", n, k)
		}
		done += k
	}
}
