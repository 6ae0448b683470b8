package mapreduce

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func readers(parts ...[]byte) []io.Reader {
	rs := make([]io.Reader, len(parts))
	for i, p := range parts {
		rs[i] = bytes.NewReader(p)
	}
	return rs
}

func TestValidateSort(t *testing.T) {
	input := genRecords(t, 300, 9)
	sorted := refSort(input)
	rec := func(i int) []byte { return sorted[i*RecordSize : (i+1)*RecordSize] }
	cat := func(ps ...[]byte) []byte { return bytes.Join(ps, nil) }
	good := [][]byte{sorted[:100*RecordSize], nil, sorted[100*RecordSize:]}

	sum, err := ValidateSort(bytes.NewReader(input), readers(good...)...)
	require.NoError(t, err, "a good sort, with an empty part")
	in, err := SummarizeRecords(bytes.NewReader(input))
	require.NoError(t, err)
	require.Equal(t, in, sum)
	require.Equal(t, int64(300), sum.Records)

	swapped := bytes.Clone(sorted)
	copy(swapped[10*RecordSize:11*RecordSize], rec(11))
	copy(swapped[11*RecordSize:12*RecordSize], rec(10))
	altered := bytes.Clone(sorted)
	altered[50*RecordSize+50] ^= 1 // not in the key: order holds, the checksum does not

	for _, tc := range []struct {
		name   string
		parts  [][]byte
		reason string
	}{
		{"parts out of order", [][]byte{good[2], good[0]}, "the last record of the previous part"},
		{"records out of order in a part", [][]byte{swapped}, "sorts before the record before it"},
		{"a missing record", [][]byte{cat(sorted[:5*RecordSize], sorted[6*RecordSize:])}, "299 records in the output, 300 in the input"},
		{"a duplicated record", [][]byte{cat(sorted[:6*RecordSize], sorted[5*RecordSize:])}, "301 records in the output"},
		{"a missing part", [][]byte{good[0]}, "100 records in the output"},
		{"an altered record", [][]byte{altered}, "checksum"},
		{"a record replaced by its neighbour", [][]byte{cat(sorted[:7*RecordSize], rec(6), sorted[8*RecordSize:])}, "checksum"},
		{"a partial record", [][]byte{sorted[:150]}, "not a whole record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateSort(bytes.NewReader(input), readers(tc.parts...)...)
			require.ErrorContains(t, err, tc.reason)
			if tc.name != "a partial record" {
				require.ErrorIs(t, err, ErrNotSorted)
			} else {
				require.ErrorIs(t, err, ErrBadInput)
			}
		})
	}
}
