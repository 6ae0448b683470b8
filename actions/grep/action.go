package main

import "github.com/marvel-serverless/marvel/mapreduce"

// Main runs one attempt of a grep map or reduce task: it counts the matches
// of a regular expression in its split (map) or sums the counts of its
// partitions (reduce). The parameters are a mapreduce.Task ("phase" says
// which), the result a mapreduce.MapResult or mapreduce.ReduceResult, or a
// mapreduce.Failure.
func Main(args map[string]any) (map[string]any, error) {
	return mapreduce.ServeWorkload(mapreduce.Grep, args)
}
