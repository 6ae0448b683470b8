package main

import "github.com/marvel-serverless/marvel/mapreduce"

// Main runs one attempt of a sort map or reduce task: it range-partitions
// and sorts the records of its split (map) or merges its sorted partitions
// (reduce), TeraSort-style. The parameters are a mapreduce.Task ("phase"
// says which), the result a mapreduce.MapResult or mapreduce.ReduceResult,
// or a mapreduce.Failure.
func Main(args map[string]any) (map[string]any, error) {
	return mapreduce.ServeWorkload(mapreduce.Sort, args)
}
