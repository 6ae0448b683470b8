package mapreduce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// RecordsSummary describes a set of sort records independently of their
// order: how many there are and the sum of the CRC-32 (IEEE) of each, as
// TeraValidate's checksum. Equal summaries mean, short of a checksum
// collision, the same multiset of records.
type RecordsSummary struct {
	Records  int64  `json:"records"`
	Checksum uint64 `json:"checksum"`
}

func (s *RecordsSummary) add(rec []byte) {
	s.Records++
	s.Checksum += uint64(crc32.ChecksumIEEE(rec))
}

// SummarizeRecords reads sort records from r to its end, in any order.
func SummarizeRecords(r io.Reader) (RecordsSummary, error) {
	var s RecordsSummary
	err := eachRecord(r, func(rec []byte) error { s.add(rec); return nil })
	return s, err
}

// ValidateSorted checks the parts of a sort's output, in part order, as
// TeraValidate does: every key is >= the one before it, within a part and
// across parts (empty parts allowed). It returns the summary of all the
// records, to compare with the input's (ValidateSort does both). A problem
// is an error wrapping ErrNotSorted naming the part and record.
func ValidateSorted(parts ...io.Reader) (RecordsSummary, error) {
	var s RecordsSummary
	var prev [KeySize]byte
	for p, part := range parts {
		i := int64(0)
		err := eachRecord(part, func(rec []byte) error {
			if s.Records > 0 && bytes.Compare(rec[:KeySize], prev[:]) < 0 {
				where := "the record before it"
				if i == 0 {
					where = "the last record of the previous part"
				}
				return fmt.Errorf("%w: part %d record %d: key %x sorts before %s (key %x)", ErrNotSorted, p, i, rec[:KeySize], where, prev)
			}
			copy(prev[:], rec)
			s.add(rec)
			i++
			return nil
		})
		if err != nil {
			if errors.Is(err, ErrNotSorted) {
				return s, err
			}
			return s, fmt.Errorf("part %d: %w", p, err)
		}
	}
	return s, nil
}

// ValidateSort checks that parts (in order) are input sorted: globally
// ordered, with as many records as the input and the same checksum, so
// that no record is missing, duplicated or altered. It returns the
// output's summary; a problem is an error wrapping ErrNotSorted.
func ValidateSort(input io.Reader, parts ...io.Reader) (RecordsSummary, error) {
	in, err := SummarizeRecords(input)
	if err != nil {
		return RecordsSummary{}, fmt.Errorf("input: %w", err)
	}
	out, err := ValidateSorted(parts...)
	if err != nil {
		return out, err
	}
	switch {
	case out.Records != in.Records:
		return out, fmt.Errorf("%w: %d records in the output, %d in the input", ErrNotSorted, out.Records, in.Records)
	case out.Checksum != in.Checksum:
		return out, fmt.Errorf("%w: checksum %x of the output differs from the input's %x (a record is missing, duplicated or altered)", ErrNotSorted, out.Checksum, in.Checksum)
	}
	return out, nil
}

// eachRecord calls fn with every RecordSize-byte record of r; the slice is
// reused. A trailing partial record is an error wrapping ErrBadInput.
func eachRecord(r io.Reader, fn func(rec []byte) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var rec [RecordSize]byte
	for n := int64(0); ; n++ {
		k, err := io.ReadFull(br, rec[:])
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%w: %d bytes after record %d, not a whole record", ErrBadInput, k, n)
		case err != nil:
			return fmt.Errorf("mapreduce: read record %d: %w", n, err)
		}
		if err := fn(rec[:]); err != nil {
			return err
		}
	}
}
