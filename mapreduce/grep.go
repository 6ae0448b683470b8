package mapreduce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// GrepArgs are the arguments of the grep workload.
type GrepArgs struct {
	// Pattern is a Go regular expression (regexp/syntax), matched against
	// each line without its newline, so ^ and $ anchor at the line.
	Pattern string `json:"pattern"`
}

// Grep: the map task finds every match of the pattern in each line
// (regexp.FindAll: leftmost-first, non-overlapping, empty matches
// included), counts them by matched text (combining), partitions by
// HashPartition of the match; the reduce task sums.

type grepMapper struct {
	re       *regexp.Regexp
	literal  []byte // the whole pattern when it is a non-empty literal
	reducers int
}

func newGrepMapper(args json.RawMessage, reducers int) (mapper, error) {
	var a GrepArgs
	if err := decodeArgs(Grep, args, &a); err != nil {
		return nil, err
	}
	if a.Pattern == "" {
		return nil, fmt.Errorf("%w: grep args: pattern is empty", ErrInvalid)
	}
	re, err := regexp.Compile(a.Pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: grep args: pattern %q: %w", ErrInvalid, a.Pattern, err)
	}
	m := &grepMapper{re: re, reducers: reducers}
	if prefix, complete := re.LiteralPrefix(); complete && prefix != "" {
		m.literal = []byte(prefix)
	}
	return m, nil
}

func (m *grepMapper) Map(data []byte) ([][]byte, mapStats, error) {
	c := newCounter()
	var st mapStats
	for len(data) > 0 {
		line := data
		if i := indexNewline(data); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		st.recordsIn++
		m.matches(line, c.inc)
	}
	parts, err := c.partitions(m.reducers)
	st.recordsOut = int64(len(c.keys))
	return parts, st, err
}

// matches calls fn with every match of the pattern in line.
func (m *grepMapper) matches(line []byte, fn func(match []byte)) {
	if m.literal != nil {
		// A literal pattern: the leftmost-first non-overlapping matches are
		// the successive occurrences, without the regexp machine.
		for {
			i := bytes.Index(line, m.literal)
			if i < 0 {
				return
			}
			fn(line[i : i+len(m.literal)])
			line = line[i+len(m.literal):]
		}
	}
	for _, loc := range m.re.FindAllIndex(line, -1) {
		fn(line[loc[0]:loc[1]])
	}
}

func indexNewline(b []byte) int { return bytes.IndexByte(b, '\n') }
