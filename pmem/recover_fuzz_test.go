package pmem_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
)

// fuzzImage is a small valid region: a few puts, an overwrite, a delete and a
// compaction, so both roots and every record kind are present.
func fuzzImage() []byte {
	m := pmemtest.NewCrashMedium(64 << 10)
	s, err := pmem.Format(m, pmem.Options{})
	if err != nil {
		panic(err)
	}
	for i := range 12 {
		k := fmt.Sprintf("k%d", i%5)
		if err := s.Put(k, value(k, i, 50+i*40)); err != nil {
			panic(err)
		}
	}
	if err := s.Delete("k1"); err != nil {
		panic(err)
	}
	if err := s.Compact(); err != nil {
		panic(err)
	}
	if err := s.Put("after", []byte("compaction")); err != nil {
		panic(err)
	}
	return m.Durable()
}

// FuzzRecover damages a valid region image (bytes patched at an offset, then
// optionally truncated) and checks that opening it either fails with a typed
// error naming the offset, or yields a store whose every read and check
// works without panicking.
func FuzzRecover(f *testing.F) {
	img := fuzzImage()
	f.Add(uint32(0), []byte("X"), uint32(0))
	f.Add(uint32(256), []byte{0xff}, uint32(0))
	f.Add(uint32(640), []byte{1, 2, 3, 4, 5, 6, 7, 8}, uint32(0))
	f.Add(uint32(4096+8), []byte{0xff, 0xff, 0xff, 0x7f}, uint32(0))
	f.Add(uint32(4096+40), []byte("zz"), uint32(0))
	f.Add(uint32(0), []byte{}, uint32(5000))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, truncate uint32) {
		b := append([]byte(nil), img...)
		if len(patch) > 0 {
			o := int(off) % len(b)
			copy(b[o:], patch)
		}
		if truncate > 0 && int(truncate) < len(b) {
			b = b[:truncate]
		}
		s, err := pmem.Recover(pmemtest.FromImage(b), pmem.Options{})
		if err != nil {
			var ce *pmem.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("untyped recovery error %T: %v", err, err)
			}
			if ce.Offset < 0 || ce.Offset > int64(len(img)) {
				t.Fatalf("offset %d outside the region: %v", ce.Offset, err)
			}
			return
		}
		defer s.Close()
		s.Check()
		for _, k := range s.Keys("", "") {
			if _, err := s.Get(k); err != nil && !errors.Is(err, pmem.ErrCorrupt) {
				t.Fatalf("get %q: %v", k, err)
			}
		}
		// A recovered store takes writes.
		if err := s.Put("fuzz", []byte("ok")); err != nil && !errors.Is(err, pmem.ErrFull) {
			t.Fatalf("put after recovery: %v", err)
		}
	})
}
