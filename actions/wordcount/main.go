// Command wordcount is the wordcount MapReduce action: a stateless action (annotate
// it state: false) serving both phases of the workload; see package
// mapreduce.
package main

import "github.com/marvel-serverless/marvel/runtime/sdk"

func main() { sdk.Main(Main) }
