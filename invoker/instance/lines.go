package instance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Sentinel is the line the runtime writes on stdout and on stderr after
// every /run, after the action's output for it and before the reply.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// ending is what ended a line besides its newline.
type ending int

const (
	endNone     ending = iota
	endSentinel        // the runtime's Sentinel
	endMarker          // this package's barrier marker
)

// rawLine is one line read from a stream.
type rawLine struct {
	// text is the line without its newline, its \r, and the sentinel or
	// marker that ended it; a line longer than the bound is cut, with a
	// note saying how much was dropped.
	text   string
	ending ending
	seq    uint64 // the marker's number when ending is endMarker
}

// viewLen is how many bytes of a line's end are kept to recognise a
// sentinel or a marker after the line has been cut.
const viewLen = 256

// splitter assembles lines from fragments, keeping at most max bytes of a
// line (the head) and the last viewLen bytes of what it dropped (the tail),
// so that the sentinel or a marker ending an overlong line is still seen.
type splitter struct {
	max     int
	token   []byte // the barrier marker's prefix; its number follows
	head    []byte
	cut     int64  // bytes dropped after head
	tail    []byte // the last min(cut, viewLen) dropped bytes
	started bool   // something was fed since the last line
}

func (s *splitter) feed(frag []byte) {
	if len(frag) == 0 {
		return
	}
	s.started = true
	if room := s.max - len(s.head); room > 0 {
		n := min(room, len(frag))
		s.head = append(s.head, frag[:n]...)
		frag = frag[n:]
	}
	if len(frag) == 0 {
		return
	}
	s.cut += int64(len(frag))
	if len(frag) >= viewLen {
		s.tail = append(s.tail[:0], frag[len(frag)-viewLen:]...)
		return
	}
	s.tail = append(s.tail, frag...)
	if over := len(s.tail) - viewLen; over > 0 {
		s.tail = s.tail[:copy(s.tail, s.tail[over:])]
	}
}

// end returns the last bytes of the line: all of it if nothing was cut,
// else the tail, preceded by the end of the head when the two touch.
func (s *splitter) end() []byte {
	switch {
	case s.cut == 0:
		return s.head
	case s.cut > int64(len(s.tail)) || len(s.tail) >= viewLen:
		return s.tail
	}
	k := min(viewLen-len(s.tail), len(s.head))
	v := make([]byte, 0, k+len(s.tail))
	return append(append(v, s.head[len(s.head)-k:]...), s.tail...)
}

// drop removes the last n bytes of the line.
func (s *splitter) drop(n int) {
	if s.cut >= int64(n) {
		s.cut -= int64(n)
		s.tail = s.tail[:max(0, len(s.tail)-n)]
		return
	}
	n -= int(s.cut)
	s.cut, s.tail = 0, s.tail[:0]
	s.head = s.head[:len(s.head)-n]
}

// line ends the current line and returns it.
func (s *splitter) line() rawLine {
	var l rawLine
	if bytes.HasSuffix(s.end(), []byte("\r")) {
		s.drop(1)
	}
	end := s.end()
	if bytes.HasSuffix(end, []byte(Sentinel)) {
		l.ending = endSentinel
		s.drop(len(Sentinel))
	} else if i := bytes.LastIndex(end, s.token); i >= 0 {
		if seq, err := strconv.ParseUint(string(end[i+len(s.token):]), 10, 64); err == nil {
			l.ending, l.seq = endMarker, seq
			s.drop(len(end) - i)
		}
	}
	if s.cut == 0 {
		l.text = string(s.head)
	} else {
		// Cut on a character boundary.
		h := s.head
		i := len(h) - 1
		for i > 0 && i > len(h)-utf8.UTFMax && !utf8.RuneStart(h[i]) {
			i--
		}
		if i >= 0 && !utf8.FullRune(h[i:]) {
			s.cut += int64(len(h) - i)
			h = h[:i]
		}
		l.text = fmt.Sprintf("%s … [line cut at %d bytes: %d more bytes dropped]", h, len(h), s.cut)
	}
	s.head, s.cut, s.tail, s.started = s.head[:0], 0, s.tail[:0], false
	if cap(s.head) > 64<<10 {
		s.head = nil // do not keep a megabyte per stream for one long line
	}
	return l
}

// readLines reads r to its end, passing every line to emit; a last line
// without a newline is passed too. It returns nil at EOF.
func readLines(r io.Reader, s *splitter, emit func(rawLine)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		frag, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			s.feed(frag[:len(frag)-1])
			s.started = true
			emit(s.line())
		case errors.Is(err, bufio.ErrBufferFull):
			s.feed(frag)
		default:
			s.feed(frag)
			if s.started {
				emit(s.line())
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
