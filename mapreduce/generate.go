package mapreduce

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"unicode/utf8"
)

// ZipfS is the exponent of the word distribution GenerateText draws from.
const ZipfS = 1.1

// GenerateText writes exactly size bytes of text to w, deterministic in
// seed: lines of 10 to 15 words drawn from a vocabulary of vocab distinct
// words with a Zipf distribution (exponent ZipfS; rank 1 is the most
// frequent). A line starts with a capital letter and ends with ".\n"; some
// words are followed by a comma, a few tokens are numbers (not words), and
// about one word in sixteen holds a non-ASCII letter. The last line is cut
// (at a character boundary, padded with spaces) to end exactly at size,
// with a newline. It streams: memory is the vocabulary, not the text.
func GenerateText(w io.Writer, size int64, seed int64, vocab int) error {
	if size < 0 || vocab < 1 {
		return fmt.Errorf("%w: generate text of %d bytes over %d words", ErrInvalid, size, vocab)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d61707265647563)) // "mapreduc"
	words := vocabulary(rng, vocab)
	zipf := rand.NewZipf(rng, ZipfS, 1, uint64(vocab-1))
	bw := bufio.NewWriterSize(w, 256<<10)
	line := make([]byte, 0, 256)
	for size > 0 {
		line = line[:0]
		n := 10 + rng.IntN(6)
		for i := range n {
			if i > 0 {
				line = append(line, ' ')
			}
			if rng.IntN(40) == 0 {
				line = fmt.Appendf(line, "%d", rng.IntN(3000))
				continue
			}
			start := len(line)
			line = append(line, words[zipf.Uint64()]...)
			if i == 0 && 'a' <= line[start] && line[start] <= 'z' {
				line[start] -= 'a' - 'A'
			}
			if i < n-1 && rng.IntN(12) == 0 {
				line = append(line, ',')
			}
		}
		line = append(line, '.', '\n')
		if int64(len(line)) > size {
			line = cutLine(line, int(size))
		}
		if _, err := bw.Write(line); err != nil {
			return err
		}
		size -= int64(len(line))
	}
	return bw.Flush()
}

// cutLine shortens line to exactly n > 0 bytes ending in a newline, without
// splitting a character.
func cutLine(line []byte, n int) []byte {
	keep := n - 1
	for keep > 0 && !utf8.RuneStart(line[keep]) {
		keep--
	}
	line = line[:keep]
	for len(line) < n-1 {
		line = append(line, ' ')
	}
	return append(line, '\n')
}

// nonASCII are the letters a generated word may hold besides a–z.
var nonASCII = []rune("éüßøåñçжλ")

// vocabulary draws n distinct words of 2 to 10 letters, in random order.
func vocabulary(rng *rand.Rand, n int) [][]byte {
	seen := make(map[string]bool, n)
	words := make([][]byte, 0, n)
	for len(words) < n {
		l := 2 + rng.IntN(9)
		w := make([]byte, 0, l+2)
		for range l {
			w = append(w, byte('a'+rng.IntN(26)))
		}
		if rng.IntN(16) == 0 {
			i := 1 + rng.IntN(l-1)
			w = utf8.AppendRune(w[:i:i], nonASCII[rng.IntN(len(nonASCII))])
			w = append(w, byte('a'+rng.IntN(26)))
		}
		if !seen[string(w)] {
			seen[string(w)] = true
			words = append(words, w)
		}
	}
	return words
}

// GenerateRecords writes n sort records to w, deterministic in seed; see
// GenerateRecordsAt.
func GenerateRecords(w io.Writer, n int64, seed int64) error {
	return GenerateRecordsAt(w, 0, n, seed)
}

// GenerateRecordsAt writes records first..first+n-1 of the record sequence
// of seed, so that parts of a large input can be generated in parallel and
// concatenated. Record i is laid out as TeraGen's:
//
//	 0 10  key: random bytes, a function of (seed, i) only
//	10  2  00 11
//	12 32  i as 32 uppercase hex digits
//	44  4  88 99 AA BB
//	48 48  filler: 12 runs of 4 letters A–Z, from i
//	96  4  CC DD EE FF
func GenerateRecordsAt(w io.Writer, first, n int64, seed int64) error {
	if first < 0 || n < 0 {
		return fmt.Errorf("%w: generate records %d..%d", ErrInvalid, first, first+n)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var rec [RecordSize]byte
	for i := first; i < first+n; i++ {
		fillRecord(&rec, uint64(seed), uint64(i))
		if _, err := bw.Write(rec[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func fillRecord(rec *[RecordSize]byte, seed, row uint64) {
	const hexDigits = "0123456789ABCDEF"
	a := splitmix(seed ^ splitmix(row))
	b := splitmix(a ^ row)
	binary.BigEndian.PutUint64(rec[0:8], a)
	binary.BigEndian.PutUint16(rec[8:10], uint16(b))
	rec[10], rec[11] = 0x00, 0x11
	for i := range 16 {
		rec[12+i] = '0'
	}
	for i := range 16 {
		rec[28+i] = hexDigits[(row>>(60-4*i))&0xF]
	}
	rec[44], rec[45], rec[46], rec[47] = 0x88, 0x99, 0xAA, 0xBB
	for i := range 12 {
		c := byte('A' + (row+uint64(i))%26)
		rec[48+4*i], rec[49+4*i], rec[50+4*i], rec[51+4*i] = c, c, c, c
	}
	rec[96], rec[97], rec[98], rec[99] = 0xCC, 0xDD, 0xEE, 0xFF
}

// splitmix is the SplitMix64 finaliser: a bijective mix of 64 bits.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleRecords reads up to n records of a sort input of size bytes at
// evenly spaced record numbers (all of them when there are fewer), for
// SampleSplitPoints.
func SampleRecords(r io.ReaderAt, size int64, n int) ([]byte, error) {
	if size < 0 || size%RecordSize != 0 {
		return nil, fmt.Errorf("%w: sort input of %d bytes is not a whole number of %d-byte records", ErrBadInput, size, RecordSize)
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: %d samples", ErrInvalid, n)
	}
	records := size / RecordSize
	n = int(min(int64(n), records))
	out := make([]byte, n*RecordSize)
	for i := range n {
		rec := share(records, i, n)
		if _, err := r.ReadAt(out[i*RecordSize:(i+1)*RecordSize], rec*RecordSize); err != nil {
			return nil, fmt.Errorf("mapreduce: sample record %d: %w", rec, err)
		}
	}
	return out, nil
}

// SampleSplitPoints picks reducers-1 split points from a sample of records
// (a whole number of RecordSize-byte records, such as SampleRecords
// returns), as TeraSort does: the sampled keys sorted, and the keys at
// positions len*i/reducers for i = 1..reducers-1, so that each reducer gets
// about as many records. With no sample every split point is the zero key
// (any split points are right for an empty input).
func SampleSplitPoints(sample []byte, reducers int) ([][]byte, error) {
	if reducers < 1 || reducers > MaxTasks {
		return nil, fmt.Errorf("%w: %d reducers: want 1..%d", ErrInvalid, reducers, MaxTasks)
	}
	if len(sample)%RecordSize != 0 {
		return nil, fmt.Errorf("%w: sample of %d bytes is not a whole number of %d-byte records", ErrInvalid, len(sample), RecordSize)
	}
	keys := make([][]byte, 0, len(sample)/RecordSize)
	for off := 0; off < len(sample); off += RecordSize {
		keys = append(keys, sample[off:off+KeySize:off+KeySize])
	}
	slices.SortFunc(keys, func(a, b []byte) int { return bytes.Compare(a, b) })
	splits := make([][]byte, reducers-1)
	for i := range splits {
		k := make([]byte, KeySize)
		if len(keys) > 0 {
			copy(k, keys[share(int64(len(keys)), i+1, reducers)])
		}
		splits[i] = k
	}
	return splits, nil
}
