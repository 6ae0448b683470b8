//go:build !linux

package shuffle_test

import "github.com/marvel-serverless/marvel/mapreduce/shuffle"

func fsName(dir string) string { return "unknown" }

func tooLargeValue() []byte { return make([]byte, shuffle.MaxValueSize+1) }
