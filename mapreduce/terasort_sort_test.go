package mapreduce

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortRefsMatchesBytesCompare checks the radix sort of sortRefs against
// sorting the records with bytes.Compare, on inputs rich in equal keys and
// equal key prefixes (where a radix sort goes wrong), small and large.
func TestSortRefsMatchesBytesCompare(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, n := range []int{0, 1, 2, 255, 256, 257, 5000} {
		data := make([]byte, n*RecordSize)
		for i := range n {
			rec := data[i*RecordSize : (i+1)*RecordSize]
			for j := range rec {
				rec[j] = byte(rng.IntN(2)) // two distinct bytes: many equal keys
			}
			if rng.IntN(4) == 0 {
				rec[0] = 0xFF // a shared prefix, then ties deeper down
			}
		}
		refs := make([]recordRef, n)
		for i := range refs {
			k := keyOf(data[i*RecordSize:])
			refs[i] = recordRef{hi: k.hi, lo: k.lo, idx: uint32(i)}
		}
		sortRefs(data, refs, make([]recordRef, n))
		var got [][]byte
		for _, r := range refs {
			got = append(got, data[int(r.idx)*RecordSize:int(r.idx+1)*RecordSize])
		}
		var want [][]byte
		for i := range n {
			want = append(want, data[i*RecordSize:(i+1)*RecordSize])
		}
		slices.SortFunc(want, bytes.Compare)
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("n=%d: record %d is %x, want %x", n, i, got[i][:KeySize], want[i][:KeySize])
			}
		}
	}
}
