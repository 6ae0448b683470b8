// Package benchmarks holds Marvel's benchmark bodies (go test -bench). Each
// benchmark runs per backend as b.Run("backend=…/…") sub-benchmarks and
// reports percentiles with b.ReportMetric and ratios against a baseline
// measured in the same run; none asserts a wall-clock bound. BENCHMARKS.md at
// the repository root records results and the commands that produced them.
package benchmarks
