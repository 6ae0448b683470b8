package mapreduce

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// The references compute each workload's answer independently of the
// package: plainly, in memory, with the standard library.

// textLines splits text into lines without their newlines; a final
// newline does not start another line.
func textLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

func refWordCount(text string) map[string]int {
	m := make(map[string]int)
	for _, line := range textLines(text) {
		for _, w := range strings.FieldsFunc(line, func(r rune) bool { return !unicode.IsLetter(r) }) {
			m[strings.ToLower(w)]++
		}
	}
	return m
}

func refGrep(text, pattern string) map[string]int {
	re := regexp.MustCompile(pattern)
	m := make(map[string]int)
	for _, line := range textLines(text) {
		for _, match := range re.FindAllString(line, -1) {
			m[match]++
		}
	}
	return m
}

// countLines formats counts as the reduce output: "key\tcount\n" sorted by
// key.
func countsOutput(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%d\n", k, m[k])
	}
	return b.String()
}

func refSort(records []byte) []byte {
	recs := make([][]byte, 0, len(records)/RecordSize)
	for i := 0; i < len(records); i += RecordSize {
		recs = append(recs, records[i:i+RecordSize])
	}
	sort.Slice(recs, func(i, j int) bool { return bytes.Compare(recs[i], recs[j]) < 0 })
	return bytes.Join(recs, nil)
}
