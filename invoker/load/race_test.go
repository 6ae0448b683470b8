//go:build race

package load

// raceEnabled: under the race detector the colinmarc client's checksums
// run ~30 times slower, so the HDFS files shrink and the flatness test
// runs fewer rounds, keeping the package within a minute.
const raceEnabled = true
