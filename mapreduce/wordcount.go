package mapreduce

import (
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// Wordcount: a word is a maximal run of letters (unicode.IsLetter),
// lower-cased (unicode.ToLower of each letter). Bytes that are not valid
// UTF-8 separate words. The map task counts the words of its lines
// (combining), the reduce task sums.

type wordCountMapper struct{ reducers int }

func newWordCountMapper(args json.RawMessage, reducers int) (mapper, error) {
	var none struct{}
	if err := decodeArgs(WordCount, args, &none); err != nil {
		return nil, err
	}
	return &wordCountMapper{reducers: reducers}, nil
}

func (m *wordCountMapper) Map(data []byte) ([][]byte, mapStats, error) {
	c := newCounter()
	st := mapStats{recordsIn: countLines(data)}
	forEachWord(data, c.inc)
	parts, err := c.partitions(m.reducers)
	st.recordsOut = int64(len(c.keys))
	return parts, st, err
}

// forEachWord calls fn with every word of text, lower-cased; the slice is
// reused between calls.
func forEachWord(text []byte, fn func(word []byte)) {
	word := make([]byte, 0, 64)
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z':
				word = append(word, c)
				continue
			case 'A' <= c && c <= 'Z':
				word = append(word, c+('a'-'A'))
				continue
			}
		} else {
			r, n := utf8.DecodeRune(text[i:])
			i += n
			// An invalid byte decodes as RuneError, which is not a letter.
			if unicode.IsLetter(r) {
				word = utf8.AppendRune(word, unicode.ToLower(r))
				continue
			}
		}
		if len(word) > 0 {
			fn(word)
			word = word[:0]
		}
	}
	if len(word) > 0 {
		fn(word)
	}
}

// countLines returns the number of lines in text: its newlines, plus one
// for a last line without one.
func countLines(text []byte) int64 {
	n := int64(0)
	for len(text) > 0 {
		i := indexNewline(text)
		if i < 0 {
			return n + 1
		}
		n++
		text = text[i+1:]
	}
	return n
}
