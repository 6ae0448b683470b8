package mapreduce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

// benchJob is a workload with its arguments and an input of about size
// bytes.
type benchJob struct {
	workload string
	args     any
	input    []byte
}

const benchReducers = 8

func benchJobs(b *testing.B, size int) []benchJob {
	var text, recs bytes.Buffer
	if err := GenerateText(&text, int64(size), 1, 50_000); err != nil {
		b.Fatal(err)
	}
	if err := GenerateRecords(&recs, int64(size/RecordSize), 1); err != nil {
		b.Fatal(err)
	}
	sample, err := SampleRecords(bytes.NewReader(recs.Bytes()), int64(recs.Len()), 10_000)
	if err != nil {
		b.Fatal(err)
	}
	splits, err := SampleSplitPoints(sample, benchReducers)
	if err != nil {
		b.Fatal(err)
	}
	return []benchJob{
		{WordCount, nil, text.Bytes()},
		{Grep, GrepArgs{Pattern: `[aeiou]{2}[a-z]*`}, text.Bytes()},
		{Grep + "-literal", GrepArgs{Pattern: `st`}, text.Bytes()},
		{Sort, NewSortArgs(splits), recs.Bytes()},
	}
}

func (j benchJob) mapper(b *testing.B) (*workload, mapper) {
	name := j.workload
	if name == Grep+"-literal" {
		name = Grep
	}
	w, err := lookupWorkload(name)
	if err != nil {
		b.Fatal(err)
	}
	args, _ := json.Marshal(j.args)
	m, err := w.newMapper(args, benchReducers)
	if err != nil {
		b.Fatal(err)
	}
	return w, m
}

// BenchmarkMap measures the map side in memory: tokenise or match,
// combine, partition, sort and encode one split of 16 MiB into 8
// partitions. MB/s is of input.
func BenchmarkMap(b *testing.B) {
	for _, j := range benchJobs(b, 16<<20) {
		b.Run("workload="+j.workload+"/size=16MiB", func(b *testing.B) {
			_, m := j.mapper(b)
			b.SetBytes(int64(len(j.input)))
			for b.Loop() {
				if _, _, err := m.Map(j.input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReduce measures the reduce side in memory: decode and sum, or
// merge, what 8 map tasks over 16 MiB wrote for one of 8 reducers. MB/s is
// of partition bytes.
func BenchmarkReduce(b *testing.B) {
	for _, j := range benchJobs(b, 16<<20) {
		b.Run("workload="+j.workload+"/maps=8", func(b *testing.B) {
			w, m := j.mapper(b)
			splits, err := Splits(int64(len(j.input)), 8, w.recordSize)
			if err != nil {
				b.Fatal(err)
			}
			var inputs [][]byte
			var n int
			for _, s := range splits {
				data, err := inputRange(j.input, w, &Split{Offset: s.Offset, Length: s.Length})
				if err != nil {
					b.Fatal(err)
				}
				parts, _, err := m.Map(data)
				if err != nil {
					b.Fatal(err)
				}
				inputs = append(inputs, parts[0])
				n += len(parts[0])
			}
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := w.reduce(inputs, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunTask measures whole tasks through a Runner over each local
// shuffle store: a map task over a 16 MiB split of a file in the
// namespace (MB/s of input), then a reduce task over the partitions of 8
// such map tasks (MB/s of shuffle input).
func BenchmarkRunTask(b *testing.B) {
	jobs := benchJobs(b, 16<<20)
	for _, kind := range storeKinds {
		for _, j := range jobs {
			if j.workload == Grep+"-literal" {
				continue
			}
			b.Run(fmt.Sprintf("store=%s/workload=%s", kind, j.workload), func(b *testing.B) {
				e := newEnv(b, kind)
				e.write(b, "in/x", j.input)
				r := &Runner{Files: e.files}
				jb := job{"bench", j.workload, j.args, "in/x", 1, benchReducers, "out/bench"}
				mt := e.mapTask(b, jb, 0, 1, Range{0, int64(len(j.input))})
				var maps []MapResult
				b.Run("phase=map", func(b *testing.B) {
					b.SetBytes(int64(len(j.input)))
					for b.Loop() {
						res, err := r.RunMap(b.Context(), mt)
						if err != nil {
							b.Fatal(err)
						}
						maps = []MapResult{*res}
					}
				})
				for i := 1; i < 8; i++ { // the same partitions, as 8 maps' outputs
					maps = append(maps, maps[0])
				}
				rt := e.reduceTask(b, jb, 0, 1, maps)
				b.Run("phase=reduce", func(b *testing.B) {
					b.SetBytes(8 * maps[0].Bytes[0])
					for b.Loop() {
						if _, err := r.RunReduce(b.Context(), rt); err != nil {
							b.Fatal(err)
						}
					}
				})
				if err := e.store.DeletePrefix(b.Context(), JobPrefix("bench")); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
