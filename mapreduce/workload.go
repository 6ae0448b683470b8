package mapreduce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/marvel-serverless/marvel/mapreduce/internal/partition"
)

// Workload names, the values of Task.Workload.
const (
	WordCount = "wordcount"
	Grep      = "grep"
	Sort      = "sort"
)

// RecordSize is the length of a sort record; its first KeySize bytes are
// its key.
const (
	RecordSize = partition.RecordSize
	KeySize    = 10
)

// workload is the map and reduce side of one kind of job.
type workload struct {
	name string
	// recordSize is the input's record length, or 0 for lines of text.
	recordSize int
	// newMapper parses the map task's arguments.
	newMapper func(args json.RawMessage, reducers int) (mapper, error)
	// reduce merges the partitions of one reducer and writes its output.
	reduce func(inputs [][]byte, out io.Writer) (reduceStats, error)
}

// mapper runs the map side over one task's input: the lines or records it
// owns (LineRange or a record-aligned range) and returns one encoded
// partition per reducer.
type mapper interface {
	Map(data []byte) (parts [][]byte, st mapStats, err error)
}

type mapStats struct {
	recordsIn  int64 // lines or records read
	recordsOut int64 // entries written over all partitions
}

type reduceStats struct {
	recordsIn  int64 // entries read over all inputs
	recordsOut int64 // lines or records written
}

var workloads = map[string]*workload{
	WordCount: {name: WordCount, newMapper: newWordCountMapper, reduce: reduceCounts},
	Grep:      {name: Grep, newMapper: newGrepMapper, reduce: reduceCounts},
	Sort:      {name: Sort, recordSize: RecordSize, newMapper: newSortMapper, reduce: reduceRecords},
}

// Workloads returns the workload names, sorted.
func Workloads() []string {
	names := make([]string, 0, len(workloads))
	for n := range workloads {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// InputRecordSize returns the record length the workload's input is made
// of, for Splits: 0 for text (wordcount, grep), RecordSize for sort.
func InputRecordSize(workload string) (int, error) {
	w, err := lookupWorkload(workload)
	if err != nil {
		return 0, err
	}
	return w.recordSize, nil
}

func lookupWorkload(name string) (*workload, error) {
	w, ok := workloads[name]
	if !ok {
		return nil, fmt.Errorf("%w: workload %q: want one of %q", ErrInvalid, name, Workloads())
	}
	return w, nil
}

// decodeArgs decodes a workload's arguments into v, refusing unknown
// fields; absent or null arguments leave v as it is.
func decodeArgs(workload string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s args %s: %w", ErrInvalid, workload, clipJSON(raw), err)
	}
	return nil
}

func clipJSON(raw json.RawMessage) string {
	if len(raw) > 200 {
		return string(raw[:200]) + "..."
	}
	return string(raw)
}
