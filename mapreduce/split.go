package mapreduce

import (
	"bytes"
	"fmt"
)

// Range is a byte range [Offset, Offset+Length) of an input.
type Range struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// End returns Offset+Length.
func (r Range) End() int64 { return r.Offset + r.Length }

// Splits cuts an input of size bytes into n ranges for n map tasks: in
// order, covering [0, size) exactly, as equal as recordSize allows. With
// recordSize > 1 every boundary is a multiple of recordSize, so a record is
// never cut (size must then be a multiple of recordSize); with recordSize 0
// or 1 boundaries fall anywhere, and the line rule of the map tasks (see
// LineRange) makes every line be read once. There are always n ranges:
// some are empty when the input is smaller than n records.
func Splits(size int64, n int, recordSize int) ([]Range, error) {
	switch {
	case size < 0:
		return nil, fmt.Errorf("%w: splits of %d bytes", ErrInvalid, size)
	case n < 1 || n > MaxTasks:
		return nil, fmt.Errorf("%w: %d splits: want 1..%d", ErrInvalid, n, MaxTasks)
	case recordSize < 0:
		return nil, fmt.Errorf("%w: record size %d", ErrInvalid, recordSize)
	}
	unit := int64(max(recordSize, 1))
	if size%unit != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte records", ErrBadInput, size, unit)
	}
	units := size / unit
	out := make([]Range, n)
	for i := range out {
		// Split i holds units [i*units/n, (i+1)*units/n), computed without
		// overflow for any size below 2^63.
		lo, hi := share(units, i, n), share(units, i+1, n)
		out[i] = Range{Offset: lo * unit, Length: (hi - lo) * unit}
	}
	return out, nil
}

// share returns floor(total*i/n) without overflowing.
func share(total int64, i, n int) int64 {
	q, r := total/int64(n), total%int64(n)
	return q*int64(i) + r*int64(i)/int64(n)
}

// LineRange returns the lines a map task reading [off, off+length) of data
// processes: the half-open byte range [start, end) of data holding exactly
// the lines whose first byte lies in [off, off+length).
//
// This is Hadoop's LineRecordReader rule in other words: a task other than
// the first skips the partial line it starts in (unless off is at the start
// of a line), and every task reads past its end to finish its last line.
// So over any splits of data every line is processed exactly once, by the
// task whose range holds its first byte. A line is the bytes up to and
// including '\n'; the last line of data may lack one.
func LineRange(data []byte, off, length int64) (start, end int64) {
	size := int64(len(data))
	off = min(max(off, 0), size)
	stop := min(off+max(length, 0), size)
	start = off
	if start > 0 && data[start-1] != '\n' {
		i := bytes.IndexByte(data[start:], '\n')
		if i < 0 {
			return size, size
		}
		start += int64(i) + 1
	}
	if start >= stop {
		return start, start
	}
	// The last line processed is the one holding byte stop-1.
	end = stop
	if data[end-1] != '\n' {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			end = size
		} else {
			end += int64(i) + 1
		}
	}
	return start, end
}
