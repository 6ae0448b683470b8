package instance

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// LogLine is one line of an action's output.
type LogLine struct {
	Time   time.Time // when the line was read
	Stream string    // "stdout" or "stderr"
	Text   string
}

// String formats the line as OpenWhisk's invoker does
// (LogLine.toFormattedString, f"$time%-30s $stream: $log"): the RFC 3339
// UTC time with nanoseconds, left-justified in 30 characters, a space, the
// stream, ": " and the text.
func (l LogLine) String() string {
	return fmt.Sprintf("%-30s %s: %s", l.Time.UTC().Format(time.RFC3339Nano), l.Stream, l.Text)
}

// TruncationNotice is OpenWhisk's last log line when an activation's logs
// exceed their limit.
func TruncationNotice(limit int64) string {
	return fmt.Sprintf("Logs were truncated because the total bytes size exceeds the limit of %d bytes.", limit)
}

// stream is the runtime's stdout or stderr.
type stream int

const (
	stdout stream = iota
	stderr
)

func (s stream) String() string {
	if s == stdout {
		return "stdout"
	}
	return "stderr"
}

// window collects the output of one request.
type window struct {
	run   bool   // a /run: its sentinels end its output
	seq   uint64 // the barrier marker that ends its output
	limit int64
	// open: the request's output on the stream has not ended yet (no
	// sentinel, marker or end of stream seen).
	open     [2]bool
	sentinel [2]bool // the stream's sentinel was seen
	// given: the request got no reply; its output is collected up to its
	// marker, and its sentinels may come later.
	given bool
	bytes int64
	lines []LogLine
	trunc bool
}

func (w *window) add(l LogLine) {
	if w.trunc {
		return
	}
	n := int64(len(l.Text)) + 1
	if w.bytes+n > w.limit {
		w.trunc = true
		return
	}
	w.bytes += n
	w.lines = append(w.lines, l)
}

// idleLogBytes bounds the output kept while no request is in progress (it
// goes to the next request).
const idleLogBytes = 1 << 20

// The stderr tail kept for error messages: the last tailLines lines, each
// cut at tailLineMax bytes.
const (
	tailLines   = 20
	tailLineMax = 300
)

// runtimeLogRE matches the runtime's own log lines: log/slog's text handler
// on its stderr (internal/cli: --log-level, warn by default).
var runtimeLogRE = regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR)([+-][0-9]+)? msg=`)

// collector routes the lines of both streams: to the request in progress,
// to the next request (output while none is in progress), to the logger
// (the runtime's own log lines), or nowhere (sentinels, markers, and the
// output of an abandoned /run).
type collector struct {
	name      string
	log       *slog.Logger
	token     string
	listening chan string // receives the address of "listening on", once

	mu sync.Mutex
	// Guarded by mu:
	listened bool
	cur      *window // the request collecting, nil when idle
	nextSeq  uint64
	eof      [2]bool
	// owed counts sentinels still to come on a stream from /run requests
	// whose output was given up (abandoned, or not ended in time); the
	// stream's output up to them is dropped. A marker numbered owedAt or
	// later cancels the debt: everything written before it has been read.
	owed   [2]int
	owedAt [2]uint64
	// pending is the output read while no request was in progress, for
	// the next one (at most idleLogBytes; pendingDropped lines more).
	pending                      []LogLine
	pendingBytes, pendingDropped int64
	// dropped counts the lines of given-up runs dropped.
	dropped int64
	// tail is the last stderr lines, for error messages.
	tail []string
	// changed is closed and replaced when a window ends.
	changed chan struct{}
}

func newCollector(name string, log *slog.Logger, token string) *collector {
	return &collector{name: name, log: log, token: token, listening: make(chan string, 1), changed: make(chan struct{}), nextSeq: 1}
}

// add routes one line read from s.
func (c *collector) add(s stream, l rawLine) {
	if s == stderr && l.ending == endNone {
		if addr, ok := strings.CutPrefix(l.text, "listening on "); ok && c.listen(addr) {
			c.keepTail(l.text)
			return
		}
		if m := runtimeLogRE.FindStringSubmatch(l.text); m != nil {
			var lvl slog.Level
			_ = lvl.UnmarshalText([]byte(m[1] + m[2]))
			c.log.Log(context.Background(), lvl, "runtime log", "instance", c.name, "line", l.text)
			c.keepTail(l.text)
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.text != "" || l.ending == endNone {
		c.outputLocked(s, l.text)
	}
	switch l.ending {
	case endSentinel:
		c.sentinelLocked(s)
	case endMarker:
		c.markerLocked(s, l.seq)
	}
}

// listen reports whether addr is the runtime's first "listening on".
func (c *collector) listen(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listened {
		return false
	}
	c.listened = true
	c.listening <- strings.TrimSpace(addr)
	return true
}

func (c *collector) keepTail(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keepTailLocked(text)
}

func (c *collector) keepTailLocked(text string) {
	if len(text) > tailLineMax {
		n := tailLineMax
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n] + "…"
	}
	if len(c.tail) == tailLines {
		c.tail = append(c.tail[:0], c.tail[1:]...)
	}
	c.tail = append(c.tail, text)
}

// stderrTail returns the last stderr lines.
func (c *collector) stderrTail() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tail...)
}

func (c *collector) outputLocked(s stream, text string) {
	if s == stderr {
		c.keepTailLocked(text)
	}
	if c.owed[s] > 0 {
		c.dropped++
		return
	}
	l := LogLine{Time: time.Now(), Stream: s.String(), Text: text}
	if w := c.cur; w != nil && w.open[s] {
		w.add(l)
		return
	}
	n := int64(len(text)) + 1
	if c.pendingBytes+n > idleLogBytes {
		c.pendingDropped++
		return
	}
	c.pendingBytes += n
	c.pending = append(c.pending, l)
}

func (c *collector) sentinelLocked(s stream) {
	if c.owed[s] > 0 {
		c.owed[s]--
		return
	}
	// A given-up run's marker may have closed the stream before its
	// sentinel came (the runtime writes it once it has stopped the
	// activation): the sentinel is still its, and abandon must not leave a
	// debt that the next run's sentinel would pay with its output.
	if w := c.cur; w != nil && w.run && !w.sentinel[s] && (w.open[s] || w.given) {
		w.sentinel[s], w.open[s] = true, false
		c.notifyLocked()
		return
	}
	c.log.Debug("sentinel outside a run ignored", "instance", c.name, "stream", s.String())
}

func (c *collector) markerLocked(s stream, seq uint64) {
	if c.owed[s] > 0 && seq >= c.owedAt[s] {
		c.log.Debug("sentinels of an abandoned run never came", "instance", c.name, "stream", s.String(), "owed", c.owed[s])
		c.owed[s] = 0
	}
	if w := c.cur; w != nil && w.seq == seq && w.open[s] {
		w.open[s] = false
		if w.run && !w.given {
			c.log.Warn("the runtime wrote no sentinel after a run; its output ends at the reply", "instance", c.name, "stream", s.String())
		}
		c.notifyLocked()
	}
}

// closeStream records that s has ended: no more lines will come.
func (c *collector) closeStream(s stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eof[s] = true
	c.owed[s] = 0
	if w := c.cur; w != nil {
		w.open[s] = false
	}
	c.notifyLocked()
}

func (c *collector) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// begin starts collecting a request's output; the output that arrived
// while no request was in progress comes first.
func (c *collector) begin(run bool, limit int64) *window {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &window{run: run, seq: c.nextSeq, limit: limit, open: [2]bool{!c.eof[stdout], !c.eof[stderr]}}
	c.nextSeq++
	if c.pendingDropped > 0 {
		c.log.Warn("output written between requests dropped", "instance", c.name, "lines", c.pendingDropped, "limit", idleLogBytes)
	}
	for _, l := range c.pending {
		w.add(l)
	}
	c.pending, c.pendingBytes, c.pendingDropped = nil, 0, 0
	if c.dropped > 0 {
		c.log.Debug("output of abandoned runs dropped", "instance", c.name, "lines", c.dropped)
		c.dropped = 0
	}
	c.cur = w
	return w
}

// wait waits until w's output has ended on both streams, or timeout
// passes; it reports whether the output ended.
func (c *collector) wait(w *window, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		c.mu.Lock()
		ended := !w.open[stdout] && !w.open[stderr]
		changed := c.changed
		c.mu.Unlock()
		if ended {
			return true
		}
		select {
		case <-changed:
		case <-t.C:
			return false
		}
	}
}

// end stops collecting w and returns its lines. A /run whose sentinel has
// not come on a stream (the reply came, the output did not end in time)
// leaves a debt: its sentinel, when it comes, ends the stream's output that
// nobody collects (owedAt is w's own marker).
func (c *collector) end(w *window) ([]LogLine, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range w.open {
		if w.open[s] && w.run {
			c.oweLocked(stream(s), w.seq)
		}
		w.open[s] = false
	}
	return c.finishLocked(w)
}

// giveUp marks w as a request that got no reply: its marker, written
// next, ends its output without meaning its sentinels will not come.
func (c *collector) giveUp(w *window) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.given = true
}

// abandon stops collecting w, a request that got no reply. When a /run may
// have reached the runtime (sent), its sentinels may still come: the
// output up to them is dropped, until a later request's marker shows they
// never will.
func (c *collector) abandon(w *window, sent bool) ([]LogLine, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range w.open {
		if w.run && sent && !w.sentinel[s] && !c.eof[s] {
			c.oweLocked(stream(s), c.nextSeq)
		}
		w.open[s] = false
	}
	return c.finishLocked(w)
}

func (c *collector) oweLocked(s stream, at uint64) {
	c.owed[s]++
	c.owedAt[s] = max(c.owedAt[s], at)
}

func (c *collector) finishLocked(w *window) ([]LogLine, bool) {
	if c.cur == w {
		c.cur = nil
	}
	lines := w.lines
	if w.trunc {
		lines = append(lines, LogLine{Time: time.Now(), Stream: stderr.String(), Text: TruncationNotice(w.limit)})
	}
	return lines, w.trunc
}
