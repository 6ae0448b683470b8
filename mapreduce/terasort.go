package mapreduce

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/marvel-serverless/marvel/mapreduce/internal/partition"
)

// SortArgs are the arguments of the sort workload.
type SortArgs struct {
	// Splits are the reducers-1 split points, each a KeySize-byte key in
	// hex (20 digits), non-decreasing. Reducer i gets the records whose key
	// k has Splits[i-1] <= k < Splits[i] (see RangePartition).
	Splits []string `json:"splits"`
}

// NewSortArgs returns the arguments carrying split points (from
// SampleSplitPoints).
func NewSortArgs(splits [][]byte) SortArgs {
	a := SortArgs{Splits: make([]string, len(splits))}
	for i, s := range splits {
		a.Splits[i] = hex.EncodeToString(s)
	}
	return a
}

// Sort (TeraSort): the input is RecordSize-byte records whose first KeySize
// bytes are the key. The map task sends each record to the reducer of its
// key's range and sorts each partition; the reduce task merges the sorted
// partitions. Records are ordered by bytes.Compare of the whole record, so
// by key and, among equal keys, by the rest: the output does not depend on
// how the input was split. Concatenating parts 0..R-1 gives the whole input
// in order.

// RangePartition returns the reducer of key given split points: the number
// of split points <= key.
func RangePartition(key []byte, splits [][]byte) int {
	i, _ := slices.BinarySearchFunc(splits, key, func(s, k []byte) int {
		if bytes.Compare(s, k) <= 0 {
			return -1
		}
		return 1
	})
	return i
}

// sortKey is a key's first 8 bytes as a big-endian integer, then its last
// 2: comparing (hi, lo) compares the 10-byte keys.
type sortKey struct {
	hi uint64
	lo uint16
}

func keyOf(rec []byte) sortKey {
	return sortKey{binary.BigEndian.Uint64(rec[0:8]), binary.BigEndian.Uint16(rec[8:10])}
}

func (a sortKey) less(b sortKey) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

type sortMapper struct {
	splits   []sortKey
	reducers int
}

func newSortMapper(args json.RawMessage, reducers int) (mapper, error) {
	var a SortArgs
	if err := decodeArgs(Sort, args, &a); err != nil {
		return nil, err
	}
	if len(a.Splits) != reducers-1 {
		return nil, fmt.Errorf("%w: sort args: %d split points for %d reducers (want %d)", ErrInvalid, len(a.Splits), reducers, reducers-1)
	}
	m := &sortMapper{splits: make([]sortKey, len(a.Splits)), reducers: reducers}
	for i, s := range a.Splits {
		k, err := hex.DecodeString(s)
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("%w: sort args: splits[%d] %q: want %d hex digits", ErrInvalid, i, s, 2*KeySize)
		}
		m.splits[i] = keyOf(k)
		if i > 0 && m.splits[i].less(m.splits[i-1]) {
			return nil, fmt.Errorf("%w: sort args: splits[%d] %s sorts before splits[%d] %s", ErrInvalid, i, s, i-1, a.Splits[i-1])
		}
	}
	return m, nil
}

// partitionOf returns the number of split points <= k.
func (m *sortMapper) partitionOf(k sortKey) int {
	lo, hi := 0, len(m.splits)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if k.less(m.splits[mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// recordRef is a record of the map task's input, by index, with its key
// unpacked for fast comparison. It is 16 bytes, so that sorting moves
// little memory.
type recordRef struct {
	hi  uint64 // key bytes 0..7, big-endian
	lo  uint16 // key bytes 8..9, big-endian
	idx uint32 // the record's index in the input
}

func (r recordRef) key() sortKey { return sortKey{r.hi, r.lo} }

func (m *sortMapper) Map(data []byte) ([][]byte, mapStats, error) {
	if len(data)%RecordSize != 0 {
		return nil, mapStats{}, fmt.Errorf("%w: sort input range of %d bytes is not a whole number of %d-byte records", ErrBadInput, len(data), RecordSize)
	}
	n := len(data) / RecordSize
	if n > math.MaxUint32 {
		return nil, mapStats{}, fmt.Errorf("%w: sort input range of %d records is more than a map task takes (%d)", ErrInvalid, n, uint32(math.MaxUint32))
	}
	st := mapStats{recordsIn: int64(n), recordsOut: int64(n)}
	// One pass over the input: each record's key and reducer. Then the refs
	// are laid out by reducer (a counting sort), each reducer's run sorted
	// by key, and its records gathered into the partition.
	refs := make([]recordRef, n)
	var part []uint32 // reducer of refs[i]; nil with one reducer
	start := make([]int, m.reducers+1)
	if m.reducers > 1 {
		part = make([]uint32, n)
	}
	for i := range refs {
		rec := data[i*RecordSize:]
		k := keyOf(rec)
		refs[i] = recordRef{hi: k.hi, lo: k.lo, idx: uint32(i)}
		if part != nil {
			r := m.partitionOf(k)
			part[i] = uint32(r)
			start[r+1]++
		}
	}
	byPart := refs
	if part != nil {
		for r := range m.reducers {
			start[r+1] += start[r]
		}
		byPart = make([]recordRef, n)
		next := slices.Clone(start[:m.reducers])
		for i, ref := range refs {
			r := part[i]
			byPart[next[r]] = ref
			next[r]++
		}
	} else {
		start[1] = n
	}
	scratch := refs // refs is free once laid out by reducer (or is byPart)
	if part == nil {
		scratch = make([]recordRef, n)
	}
	parts := make([][]byte, m.reducers)
	for r := range parts {
		run := byPart[start[r]:start[r+1]]
		sortRefs(data, run, scratch[:len(run)])
		b := partition.NewBuilder(partition.KindRecords, len(run)*RecordSize)
		for _, ref := range run {
			off := int(ref.idx) * RecordSize
			if err := b.AddRecord(data[off : off+RecordSize]); err != nil {
				return nil, st, fmt.Errorf("mapreduce: encode partition %d: %w", r, err)
			}
		}
		parts[r] = b.Finish()
	}
	return parts, st, nil
}

// sortRefs sorts records by bytes.Compare of the whole record: a stable
// least-significant-digit radix sort on the 10-byte key (skipping the
// digits all keys share, as a reducer's keys share their leading bits),
// then a comparison sort of each run of equal keys by the rest of the
// record. scratch is as long as refs.
func sortRefs(data []byte, refs, scratch []recordRef) {
	if len(refs) < 2 {
		return
	}
	if len(refs) < 256 {
		slices.SortFunc(refs, func(a, b recordRef) int { return compareRefs(data, a, b) })
		return
	}
	src, dst := refs, scratch
	var count [256]int
	for d := range 10 { // digit 0 is the key's last byte, 9 its first
		digit := func(r recordRef) byte {
			if d < 2 {
				return byte(r.lo >> (8 * d))
			}
			return byte(r.hi >> (8 * (d - 2)))
		}
		count = [256]int{}
		for _, r := range src {
			count[digit(r)]++
		}
		if count[digit(src[0])] == len(src) {
			continue // every key has this byte
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, r := range src {
			b := digit(r)
			dst[count[b]] = r
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &refs[0] {
		copy(refs, src)
	}
	// Equal keys: order by the rest of the record.
	for i := 0; i < len(refs); {
		j := i + 1
		for j < len(refs) && refs[j].hi == refs[i].hi && refs[j].lo == refs[i].lo {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(refs[i:j], func(a, b recordRef) int { return compareRefs(data, a, b) })
		}
		i = j
	}
}

// compareRefs compares two records as bytes.Compare of the whole records.
func compareRefs(data []byte, a, b recordRef) int {
	switch {
	case a.key().less(b.key()):
		return -1
	case b.key().less(a.key()):
		return 1
	}
	ao, bo := int(a.idx)*RecordSize, int(b.idx)*RecordSize
	return bytes.Compare(data[ao+KeySize:ao+RecordSize], data[bo+KeySize:bo+RecordSize])
}

// reduceRecords merges the sorted inputs and writes their records in
// order.
func reduceRecords(inputs [][]byte, out io.Writer) (reduceStats, error) {
	var st reduceStats
	h := &mergeHeap{}
	for i, in := range inputs {
		r, err := partition.Open(in)
		if err != nil {
			return st, &inputDecodeError{input: i, err: err}
		}
		if r.Kind() != partition.KindRecords {
			return st, &inputDecodeError{input: i, err: fmt.Errorf("%w: a %v partition, want records", partition.ErrCorrupt, r.Kind())}
		}
		if r.Next() {
			h.runs = append(h.runs, mergeRun{r: r, input: i, key: keyOf(r.Key())})
		} else if err := r.Err(); err != nil {
			return st, &inputDecodeError{input: i, err: err}
		}
	}
	heap.Init(h)
	w := bufio.NewWriterSize(out, 256<<10)
	for len(h.runs) > 0 {
		top := &h.runs[0]
		if _, err := w.Write(top.r.Key()); err != nil {
			return st, err
		}
		st.recordsIn++
		st.recordsOut++
		if top.r.Next() {
			top.key = keyOf(top.r.Key())
			heap.Fix(h, 0)
			continue
		}
		if err := top.r.Err(); err != nil {
			return st, &inputDecodeError{input: top.input, err: err}
		}
		heap.Pop(h)
	}
	return st, w.Flush()
}

// mergeRun is one input of the merge, positioned at its smallest
// unwritten record.
type mergeRun struct {
	r     *partition.Reader
	input int
	key   sortKey
}

// mergeHeap orders runs by their current record; ties between equal
// records go to the lower input, which keeps the merge deterministic.
type mergeHeap struct{ runs []mergeRun }

func (h *mergeHeap) Len() int { return len(h.runs) }
func (h *mergeHeap) Less(i, j int) bool {
	a, b := &h.runs[i], &h.runs[j]
	if a.key != b.key {
		return a.key.less(b.key)
	}
	if c := bytes.Compare(a.r.Key()[KeySize:], b.r.Key()[KeySize:]); c != 0 {
		return c < 0
	}
	return a.input < b.input
}
func (h *mergeHeap) Swap(i, j int) { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *mergeHeap) Push(x any)    { h.runs = append(h.runs, x.(mergeRun)) }
func (h *mergeHeap) Pop() any {
	x := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return x
}
