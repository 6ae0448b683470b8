package benchmarks

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/pmem"
)

// backends are the namespaces the pmem benchmarks run on: tmpfs (emulated,
// persistence is a store fence) and the disk under the test's temp dir
// (emulated, persistence is msync). Real DAX is not available here.
func backends(b *testing.B) map[string]string {
	dirs := map[string]string{"disk": b.TempDir()}
	if shm, err := os.MkdirTemp("/dev/shm", "marvel-bench-"); err == nil {
		b.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	return dirs
}

func openBench(b *testing.B, dir, name string, opts pmem.Options) *pmem.Store {
	s, err := pmem.Create(dir, name, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// percentiles reports p50 and p99 of per-operation latencies.
func percentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkGet1KiB: copying reads of 1 KiB values (checksum verified on every
// read), and zero-copy views.
func BenchmarkGet1KiB(b *testing.B) {
	for be, dir := range backends(b) {
		s := openBench(b, dir, "get", pmem.Options{InitialSize: 64 << 20})
		const keys = 10_000
		val := bytes.Repeat([]byte{7}, 1024)
		for i := range keys {
			if err := s.Put(fmt.Sprintf("key-%06d", i), val); err != nil {
				b.Fatal(err)
			}
		}
		names := make([]string, keys)
		for i := range names {
			names[i] = fmt.Sprintf("key-%06d", i)
		}
		b.Run("backend="+be+"/path=copy", func(b *testing.B) {
			b.SetBytes(1024)
			lat := make([]time.Duration, 0, b.N)
			buf := make([]byte, 0, 1024)
			i := 0
			for b.Loop() {
				t := time.Now()
				v, err := s.AppendValue(buf[:0], names[i%keys])
				lat = append(lat, time.Since(t))
				if err != nil || len(v) != 1024 {
					b.Fatal(err)
				}
				i++
			}
			percentiles(b, lat)
		})
		b.Run("backend="+be+"/path=view", func(b *testing.B) {
			b.SetBytes(1024)
			lat := make([]time.Duration, 0, b.N)
			sum := 0
			fn := func(v []byte) error { sum += int(v[0]); return nil }
			i := 0
			for b.Loop() {
				t := time.Now()
				err := s.View(names[i%keys], fn)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			percentiles(b, lat)
		})
	}
}

// BenchmarkPut1KiB: durable puts of 1 KiB values: when Put returns, the value
// survives a process crash (tmpfs) or power loss (disk, msync).
func BenchmarkPut1KiB(b *testing.B) {
	for be, dir := range backends(b) {
		b.Run("backend="+be, func(b *testing.B) {
			s := openBench(b, dir, "put", pmem.Options{InitialSize: 64 << 20})
			val := bytes.Repeat([]byte{9}, 1024)
			keys := make([]string, 4096)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%06d", i)
			}
			b.SetBytes(1024)
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				t := time.Now()
				err := s.Put(keys[i%len(keys)], val)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			percentiles(b, lat)
			b.ReportMetric(float64(s.Stats().Compactions), "compactions")
		})
	}
}

// BenchmarkSequential1MiB: 1 MiB sequential write+persist (Put) and read
// (Get, View) against plain copy() between DRAM buffers of the same sizes,
// interleaved in the same loop so both see the same machine state. Reported
// as ratios: store bandwidth / copy bandwidth.
func BenchmarkSequential1MiB(b *testing.B) {
	const size = 1 << 20
	const slots = 64 // rotate over 64 MiB so neither side runs from cache
	for be, dir := range backends(b) {
		s := openBench(b, dir, "seq", pmem.Options{InitialSize: 4 * slots * size})
		src := bytes.Repeat([]byte("marvel!!"), size/8)
		dram := make([]byte, slots*size)
		out := make([]byte, size)
		// Warm up both sides so the loop measures the steady state: every page
		// of the DRAM buffer and of the region written once before (a first
		// write to a never-used page costs a fault in the guest and often in
		// the host too, on either side).
		for i := range dram {
			dram[i] = 1
		}
		for i := range 6 * slots {
			if err := s.Put(fmt.Sprint(i%slots), src); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("backend="+be+"/op=write", func(b *testing.B) {
			var tStore, tCopy time.Duration
			i := 0
			for b.Loop() {
				slot := i % slots
				t := time.Now()
				copy(dram[slot*size:], src)
				tCopy += time.Since(t)
				t = time.Now()
				if err := s.Put(fmt.Sprint(slot), src); err != nil {
					b.Fatal(err)
				}
				tStore += time.Since(t)
				i++
			}
			b.SetBytes(size)
			reportRatio(b, i, size, tStore, tCopy)
		})
		b.Run("backend="+be+"/op=read", func(b *testing.B) {
			var tStore, tCopy time.Duration
			i := 0
			for b.Loop() {
				slot := i % slots
				t := time.Now()
				copy(out, dram[slot*size:(slot+1)*size])
				tCopy += time.Since(t)
				t = time.Now()
				if _, err := s.AppendValue(out[:0], fmt.Sprint(slot)); err != nil {
					b.Fatal(err)
				}
				tStore += time.Since(t)
				i++
			}
			b.SetBytes(size)
			reportRatio(b, i, size, tStore, tCopy)
		})
	}
}

func reportRatio(b *testing.B, n, size int, tStore, tCopy time.Duration) {
	mb := float64(n) * float64(size) / (1 << 20)
	b.ReportMetric(mb/tStore.Seconds(), "store-MiB/s")
	b.ReportMetric(mb/tCopy.Seconds(), "copy-MiB/s")
	b.ReportMetric(tCopy.Seconds()/tStore.Seconds(), "ratio-vs-copy")
}

// BenchmarkRecover1GiB: time to open a 1 GiB region on tmpfs and rebuild its
// index, for 64 KiB values (16 Ki records) and 1 KiB values (about 1 Mi
// records). Building the region takes a few seconds before timing starts.
func BenchmarkRecover1GiB(b *testing.B) {
	shm, err := os.MkdirTemp("/dev/shm", "marvel-recover-")
	if err != nil {
		b.Skip("needs /dev/shm")
	}
	b.Cleanup(func() { os.RemoveAll(shm) })
	for _, vsize := range []int{64 << 10, 1 << 10} {
		name := fmt.Sprintf("v%d", vsize)
		s, err := pmem.Create(shm, name, pmem.Options{InitialSize: 1<<30 + 64<<20})
		if err != nil {
			b.Fatal(err)
		}
		val := bytes.Repeat([]byte{1}, vsize)
		var batch pmem.Batch
		for i := 0; s.Stats().Tail < 1<<30-int64(vsize)*64; i++ {
			batch.Put(fmt.Sprintf("k%08d", i), val)
			if batch.Len() == 64 {
				if err := s.Apply(&batch); err != nil {
					b.Fatal(err)
				}
				batch.Reset()
			}
		}
		keys := s.Stats().Keys
		s.Close()
		b.Run(fmt.Sprintf("value=%dKiB", vsize>>10), func(b *testing.B) {
			for b.Loop() {
				s, err := pmem.Open(shm, name, pmem.Options{})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			b.ReportMetric(float64(keys), "records")
		})
	}
}
