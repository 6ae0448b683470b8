package shuffle_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// BenchmarkStores moves 1 MiB values through every store kind in one run:
// op=put+get writes a value and reads it back (a map task's partition and
// its reducer's fetch), op=get and op=view only read (view checksums the
// bytes in place, as a reducer reading them would). MB/s counts value
// bytes per op; x-pmem-time is the op's time over the first pmem row's in
// the same run (>1: slower than pmem). The pmem store runs twice, with its
// directory on tmpfs (/dev/shm: emulated PMEM whose persistence is a store
// fence) and in TMPDIR (a disk: persistence is msync and fsync), as in
// BENCHMARKS.md; the disk and MinIO directories are in TMPDIR.
//
//	go test -run '^$' -bench Stores -benchtime 2s ./mapreduce/shuffle/
func BenchmarkStores(b *testing.B) {
	const size = 1 << 20
	const keys = 16
	data := randomBytes(rand.New(rand.NewPCG(1, 2)), size)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	sum := crc32.Checksum(data, castagnoli)
	ops := []struct {
		name string
		run  func(ctx context.Context, s shuffle.Store, key string) error
	}{
		{"put+get", func(ctx context.Context, s shuffle.Store, key string) error {
			if err := s.Put(ctx, key, data); err != nil {
				return err
			}
			got, err := s.Get(ctx, key)
			if err == nil && len(got) != size {
				err = fmt.Errorf("got %d bytes", len(got))
			}
			return err
		}},
		{"get", func(ctx context.Context, s shuffle.Store, key string) error {
			got, err := s.Get(ctx, key)
			if err == nil && len(got) != size {
				err = fmt.Errorf("got %d bytes", len(got))
			}
			return err
		}},
		{"view", func(ctx context.Context, s shuffle.Store, key string) error {
			return s.View(ctx, key, func(b []byte) error {
				// A reducer reads every byte: checksum them.
				if crc32.Checksum(b, castagnoli) != sum {
					return fmt.Errorf("viewed %d bytes, not the value", len(b))
				}
				return nil
			})
		}},
	}
	pmemNs := map[string]float64{} // op → ns/op of the first pmem row in this run
	for _, k := range benchConfigs() {
		for _, op := range ops {
			b.Run(fmt.Sprintf("store=%s/op=%s/size=1MiB", k.kind, op.name), func(b *testing.B) {
				c := k.config(b)
				s := open(b, c)
				ctx := context.Background()
				prefix := "bench-" + strings.ReplaceAll(op.name, "+", "-") + "/"
				b.Cleanup(func() { s.DeletePrefix(ctx, prefix) })
				for i := range keys {
					if err := s.Put(ctx, fmt.Sprintf("%sk%d", prefix, i), data); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(size)
				i := 0
				for b.Loop() {
					if err := op.run(ctx, s, fmt.Sprintf("%sk%d", prefix, i%keys)); err != nil {
						b.Fatal(err)
					}
					i++
				}
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				if strings.HasPrefix(k.kind, shuffle.KindPMEM) && pmemNs[op.name] == 0 {
					pmemNs[op.name] = ns
				}
				if p := pmemNs[op.name]; p > 0 {
					b.ReportMetric(ns/p, "x-pmem-time")
				}
			})
		}
	}
}

// benchConfigs are the stores of BenchmarkStores: configs, with the pmem
// store on tmpfs first and then in TMPDIR, each kind named with the
// filesystem of its directory ("pmem/fs=tmpfs").
func benchConfigs() []struct {
	kind   string
	config func(t testing.TB) shuffle.Config
} {
	all := configs()
	fileStore := func(kind string, dir func(t testing.TB) string) struct {
		kind   string
		config func(t testing.TB) shuffle.Config
	} {
		return struct {
			kind   string
			config func(t testing.TB) shuffle.Config
		}{kind, func(t testing.TB) shuffle.Config {
			c := shuffle.Config{Kind: kind, Dir: dir(t)}
			if kind == shuffle.KindPMEM {
				c.Mode = "emulated"
			}
			return c
		}}
	}
	shm := func(t testing.TB) string {
		d, err := os.MkdirTemp("/dev/shm", "marvel-shuffle-bench-")
		if err != nil {
			t.Skipf("no tmpfs at /dev/shm: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	tmp := func(t testing.TB) string { return t.TempDir() }
	pmemShm, pmemTmp, disk := fileStore(shuffle.KindPMEM, shm), fileStore(shuffle.KindPMEM, tmp), fileStore(shuffle.KindDisk, tmp)
	pmemShm.kind = "pmem/fs=" + fsName("/dev/shm")
	pmemTmp.kind = "pmem/fs=" + fsName(os.TempDir())
	disk.kind = "disk/fs=" + fsName(os.TempDir())
	return append([]struct {
		kind   string
		config func(t testing.TB) shuffle.Config
	}{pmemShm, pmemTmp, disk}, all[2:]...)
}

// BenchmarkFileStores measures the file-backed stores alone, per value size
// (a wordcount partition is ~100 KiB, a 1 GiB sort's 8 MiB): op=put writes
// a value durably, op=get reads a copy, op=view reads it in place and
// checksums it (as a reducer decoding it does). x-disk-time is the op's
// time over the disk store's in the same run (<1: faster than disk); the
// disk row runs first for that reason. The pmem store runs on tmpfs
// (/dev/shm, emulated PMEM), on the disk's filesystem for the record, and
// on tmpfs lending mappings from View as it does on DAX ("/mapped").
//
//	go test -run '^$' -bench FileStores -benchtime 1s ./mapreduce/shuffle/
func BenchmarkFileStores(b *testing.B) {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	all := benchConfigs()
	stores := []struct {
		kind   string
		config func(t testing.TB) shuffle.Config
	}{all[2], all[0], all[1], all[0]} // disk first: the reference; pmem on tmpfs again, lending mappings as on DAX
	stores[3].kind += "/mapped"
	for _, size := range []int{100 << 10, 1 << 20, 8 << 20} {
		data := randomBytes(rand.New(rand.NewPCG(1, 2)), size)
		sum := crc32.Checksum(data, castagnoli)
		const keys = 8
		ops := []struct {
			name string
			run  func(ctx context.Context, s shuffle.Store, key string) error
		}{
			{"put", func(ctx context.Context, s shuffle.Store, key string) error { return s.Put(ctx, key, data) }},
			{"get", func(ctx context.Context, s shuffle.Store, key string) error {
				got, err := s.Get(ctx, key)
				if err == nil && len(got) != size {
					err = fmt.Errorf("got %d bytes", len(got))
				}
				return err
			}},
			{"view", func(ctx context.Context, s shuffle.Store, key string) error {
				return s.View(ctx, key, func(b []byte) error {
					if crc32.Checksum(b, castagnoli) != sum {
						return fmt.Errorf("viewed %d bytes, not the value", len(b))
					}
					return nil
				})
			}},
		}
		diskNs := map[string]float64{}
		for _, op := range ops {
			for _, k := range stores {
				b.Run(fmt.Sprintf("op=%s/size=%s/store=%s", op.name, sizeName(size), k.kind), func(b *testing.B) {
					s := open(b, k.config(b))
					if strings.HasSuffix(k.kind, "/mapped") {
						shuffle.LendMappings(s)
					}
					ctx := context.Background()
					prefix := "bench-" + op.name + "/"
					b.Cleanup(func() { s.DeletePrefix(ctx, prefix) })
					for i := range keys {
						if err := s.Put(ctx, fmt.Sprintf("%sk%d", prefix, i), data); err != nil {
							b.Fatal(err)
						}
					}
					b.SetBytes(int64(size))
					i := 0
					for b.Loop() {
						if err := op.run(ctx, s, fmt.Sprintf("%sk%d", prefix, i%keys)); err != nil {
							b.Fatal(err)
						}
						i++
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					if strings.HasPrefix(k.kind, shuffle.KindDisk) {
						diskNs[op.name] = ns
					}
					if d := diskNs[op.name]; d > 0 {
						b.ReportMetric(ns/d, "x-disk-time")
					}
				})
			}
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
