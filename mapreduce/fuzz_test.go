package mapreduce

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/internal/partition"
)

// FuzzReduce feeds both reducers two arbitrary partitions: they never
// panic, and fail only with a decode error naming an input.
func FuzzReduce(f *testing.F) {
	counts := partition.NewBuilder(partition.KindCounts, 0)
	require.NoError(f, counts.AddCount([]byte("a"), 2))
	records := partition.NewBuilder(partition.KindRecords, 0)
	require.NoError(f, records.AddRecord(make([]byte, RecordSize)))
	f.Add(counts.Finish(), records.Finish())
	f.Add([]byte{}, []byte("MVLPART\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, reduce := range []func([][]byte, io.Writer) (reduceStats, error){reduceCounts, reduceRecords} {
			_, err := reduce([][]byte{a, b}, io.Discard)
			if err != nil {
				var de *inputDecodeError
				require.True(t, errors.As(err, &de), "%v", err)
				require.ErrorIs(t, err, partition.ErrCorrupt)
			}
		}
	})
}

func TestReduceCountsOverflow(t *testing.T) {
	p := partition.NewBuilder(partition.KindCounts, 0)
	require.NoError(t, p.AddCount([]byte("k"), 1<<63))
	b := p.Finish()
	_, err := reduceCounts([][]byte{b, b}, io.Discard)
	var de *inputDecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, 1, de.input)
	require.ErrorContains(t, err, "overflows")
}
