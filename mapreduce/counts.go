package mapreduce

import (
	"bufio"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/marvel-serverless/marvel/mapreduce/internal/partition"
)

// HashPartition returns the reducer, 0..reducers-1, of a key of the
// counting workloads (wordcount, grep): the 32-bit FNV-1a hash of the key
// modulo reducers.
func HashPartition(key []byte, reducers int) int {
	return int(fnv1a(key) % uint32(reducers))
}

func fnv1a[T string | []byte](b T) uint32 {
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(b); i++ {
		h ^= uint32(b[i])
		h *= prime32
	}
	return h
}

// counter sums counts by key. Lookups of a []byte key do not allocate; a
// new key is copied once.
type counter struct {
	index  map[string]int
	keys   []string
	counts []uint64
}

func newCounter() *counter { return &counter{index: make(map[string]int)} }

// add adds n to key's count, failing if the count would overflow.
func (c *counter) add(key []byte, n uint64) error {
	if i, ok := c.index[string(key)]; ok {
		s, carry := bits.Add64(c.counts[i], n, 0)
		if carry != 0 {
			return fmt.Errorf("mapreduce: count of key %q overflows 64 bits", clipKey(key))
		}
		c.counts[i] = s
		return nil
	}
	k := string(key)
	c.index[k] = len(c.keys)
	c.keys = append(c.keys, k)
	c.counts = append(c.counts, n)
	return nil
}

// inc adds 1 to key's count.
func (c *counter) inc(key []byte) {
	if i, ok := c.index[string(key)]; ok {
		c.counts[i]++
		return
	}
	k := string(key)
	c.index[k] = len(c.keys)
	c.keys = append(c.keys, k)
	c.counts = append(c.counts, 1)
}

// sorted returns the indexes of the keys in ascending key order.
func (c *counter) sorted() []int {
	order := make([]int, len(c.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(c.keys[a], c.keys[b]) })
	return order
}

// partitions encodes the counts as reducers partitions, each sorted by
// key, the key going to HashPartition(key).
func (c *counter) partitions(reducers int) ([][]byte, error) {
	builders := make([]*partition.Builder, reducers)
	for r := range builders {
		builders[r] = partition.NewBuilder(partition.KindCounts, 0)
	}
	for _, i := range c.sorted() {
		k := c.keys[i]
		if err := builders[fnv1a(k)%uint32(reducers)].AddCount([]byte(k), c.counts[i]); err != nil {
			return nil, fmt.Errorf("mapreduce: encode partition: %w", err)
		}
	}
	parts := make([][]byte, reducers)
	for r, b := range builders {
		parts[r] = b.Finish()
	}
	return parts, nil
}

// reduceCounts sums the counts of every input and writes "key\tcount\n"
// lines sorted by key (bytes).
func reduceCounts(inputs [][]byte, out io.Writer) (reduceStats, error) {
	var st reduceStats
	c := newCounter()
	for i, in := range inputs {
		r, err := partition.Open(in)
		if err != nil {
			return st, &inputDecodeError{input: i, err: err}
		}
		if r.Kind() != partition.KindCounts {
			return st, &inputDecodeError{input: i, err: fmt.Errorf("%w: a %v partition, want counts", partition.ErrCorrupt, r.Kind())}
		}
		for r.Next() {
			if err := c.add(r.Key(), r.Value()); err != nil {
				// No real job counts 2^64 of anything.
				return st, &inputDecodeError{input: i, err: fmt.Errorf("%w: %w", partition.ErrCorrupt, err)}
			}
			st.recordsIn++
		}
		if err := r.Err(); err != nil {
			return st, &inputDecodeError{input: i, err: err}
		}
	}
	w := bufio.NewWriterSize(out, 256<<10)
	var line []byte
	for _, i := range c.sorted() {
		line = append(line[:0], c.keys[i]...)
		line = append(line, '\t')
		line = strconv.AppendUint(line, c.counts[i], 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return st, err
		}
		st.recordsOut++
	}
	return st, w.Flush()
}

// inputDecodeError is a reduce input that does not decode; the task turns
// it into an *InputError naming the key.
type inputDecodeError struct {
	input int
	err   error
}

func (e *inputDecodeError) Error() string {
	return fmt.Sprintf("input %d: %v", e.input, e.err)
}

func (e *inputDecodeError) Unwrap() error { return e.err }

func clipKey(k []byte) []byte {
	if len(k) > 40 {
		return k[:40]
	}
	return k
}
