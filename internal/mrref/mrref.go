// Package mrref computes the MapReduce workloads' results independently of
// package mapreduce, in the plainest way, for tests to compare a job's
// output with: a map of word counts, regexp matching line by line, a
// stable sort of the records. It shares no code with what it checks.
package mrref

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Counts renders counts as wordcount and grep output lines, "key\tcount",
// sorted by key.
func Counts(counts map[string]int) []string {
	out := make([]string, 0, len(counts))
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%s\t%d", k, n))
	}
	sort.Strings(out)
	return out
}

// WordCount counts the lower-cased runs of letters of text.
func WordCount(text []byte) []string {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(string(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		counts[strings.ToLower(w)]++
	}
	return Counts(counts)
}

// Grep counts the matches of pattern in each line of text.
func Grep(text []byte, pattern string) []string {
	re := regexp.MustCompile(pattern)
	counts := map[string]int{}
	for _, line := range strings.Split(string(text), "\n") {
		for _, m := range re.FindAllString(line, -1) {
			counts[m]++
		}
	}
	return Counts(counts)
}

// Sort returns the 100-byte records of recs in the order of their 10-byte
// keys (records of equal keys in input order).
func Sort(recs []byte) []byte {
	var rs [][]byte
	for off := 0; off+100 <= len(recs); off += 100 {
		rs = append(rs, recs[off:off+100])
	}
	slices.SortStableFunc(rs, func(a, b []byte) int { return bytes.Compare(a[:10], b[:10]) })
	return bytes.Join(rs, nil)
}

// Lines splits "k\tv\n" output into its lines, sorted (a job's parts are
// each sorted; their union is compared as a set of lines).
func Lines(b []byte) []string {
	l := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(l) == 1 && l[0] == "" {
		return []string{}
	}
	sort.Strings(l)
	return l
}
