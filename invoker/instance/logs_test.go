package instance

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testToken = "TOKEN#"

func TestSplitter(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 1000)
	for _, tc := range []struct {
		name string
		max  int
		in   string
		want []rawLine
	}{
		{"lines", 100, "a\nb\n", []rawLine{{text: "a"}, {text: "b"}}},
		{"crlf", 100, "a\r\n", []rawLine{{text: "a"}}},
		{"empty line", 100, "\n", []rawLine{{text: ""}}},
		{"last line without newline", 100, "a\npartial", []rawLine{{text: "a"}, {text: "partial"}}},
		{"nothing", 100, "", nil},
		{"sentinel", 100, Sentinel + "\n", []rawLine{{ending: endSentinel}}},
		{"sentinel after a partial line", 100, "abc" + Sentinel + "\n", []rawLine{{text: "abc", ending: endSentinel}}},
		{"sentinel inside a line is text", 100, "a " + Sentinel + " b\n", []rawLine{{text: "a " + Sentinel + " b"}}},
		{"marker", 100, testToken + "7\n", []rawLine{{ending: endMarker, seq: 7}}},
		{"marker after a partial line", 100, "xy" + testToken + "12\n", []rawLine{{text: "xy", ending: endMarker, seq: 12}}},
		{"not a marker", 100, testToken + "x\n", []rawLine{{text: testToken + "x"}}},
		{"cut", 8, "0123456789abcdef\n", []rawLine{{text: "01234567 … [line cut at 8 bytes: 8 more bytes dropped]"}}},
		{"cut at EOF", 8, "0123456789", []rawLine{{text: "01234567 … [line cut at 8 bytes: 2 more bytes dropped]"}}},
		{"cut, then sentinel", 8, long + Sentinel + "\n", []rawLine{{text: "aaaaaaaa … [line cut at 8 bytes: 992 more bytes dropped]", ending: endSentinel}}},
		{"cut, then marker", 8, long + testToken + "3\r\n", []rawLine{{text: "aaaaaaaa … [line cut at 8 bytes: 992 more bytes dropped]", ending: endMarker, seq: 3}}},
		{"sentinel across the cut", 8, "abcde" + Sentinel + "\n", []rawLine{{text: "abcde", ending: endSentinel}}},
		{"cut on a character boundary", 4, "aé€x\n", []rawLine{{text: "aé … [line cut at 3 bytes: 4 more bytes dropped]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []rawLine
			sp := &splitter{max: tc.max, token: []byte(testToken)}
			require.NoError(t, readLines(strings.NewReader(tc.in), sp, func(l rawLine) { got = append(got, l) }))
			assert.Equal(t, tc.want, got, "read whole")

			// Fed a byte at a time, as a slow writer's output arrives.
			got = nil
			sp = &splitter{max: tc.max, token: []byte(testToken)}
			for _, b := range []byte(tc.in) {
				if b == '\n' {
					got = append(got, sp.line())
					continue
				}
				sp.feed([]byte{b})
			}
			if sp.started {
				got = append(got, sp.line())
			}
			assert.Equal(t, tc.want, got, "fed a byte at a time")
		})
	}
}

func TestLogLineString(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		time time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 0, 20, 0, 123456789, time.UTC), "2026-11-23T00:20:00.123456789Z stdout: hello"},
		{time.Date(2026, 11, 23, 0, 20, 0, 100000000, time.UTC), "2026-11-23T00:20:00.1Z         stdout: hello"},
		{time.Date(2026, 11, 23, 0, 20, 0, 0, time.UTC), "2026-11-23T00:20:00Z           stdout: hello"},
		{time.Date(2026, 11, 23, 1, 20, 0, 5000, paris), "2026-11-23T00:20:00.000005Z    stdout: hello"},
	} {
		assert.Equal(t, tc.want, LogLine{Time: tc.time, Stream: "stdout", Text: "hello"}.String())
	}
	assert.Equal(t, "2026-11-23T00:20:00Z           stderr:  two  spaces ",
		LogLine{Time: time.Date(2026, 11, 23, 0, 20, 0, 0, time.UTC), Stream: "stderr", Text: " two  spaces "}.String(), "the text as it is")
}

func TestRuntimeLogLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	lg := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lg.Warn("init env variable reserved by the runtime dropped", "name", "MARVEL_X")
	lg.Log(context.Background(), slog.LevelError+2, "worse")
	lg.Debug("x")
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		assert.Regexp(t, runtimeLogRE, l)
	}
	for _, l := range []string{"level=INFO msg=hi", "time is level=WARN msg=x", "hello", "time=now level=NOTICE msg=x"} {
		assert.NotRegexp(t, runtimeLogRE, l)
	}
}

// collectorLines returns the texts of lines.
func collectorTexts(lines []LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Stream+": "+l.Text)
	}
	return out
}

func TestCollectorRouting(t *testing.T) {
	t.Parallel()
	newC := func() *collector { return newCollector("test", slog.New(slog.DiscardHandler), testToken) }
	out := func(text string) rawLine { return rawLine{text: text} }
	sentinel := rawLine{ending: endSentinel}
	marker := func(seq uint64) rawLine { return rawLine{ending: endMarker, seq: seq} }

	t.Run("a run ends at its sentinels; later output goes to the next request", func(t *testing.T) {
		c := newC()
		c.add(stdout, out("idle"))
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		c.add(stderr, out("b"))
		c.add(stdout, sentinel)
		c.add(stdout, out("after"))
		assert.False(t, c.wait(w, 10*time.Millisecond), "stderr has not ended")
		c.add(stderr, sentinel)
		c.add(stdout, marker(w.seq))
		c.add(stderr, marker(w.seq))
		require.True(t, c.wait(w, time.Second))
		lines, trunc := c.end(w)
		assert.False(t, trunc)
		assert.Equal(t, []string{"stdout: idle", "stdout: a", "stderr: b"}, collectorTexts(lines))
		w = c.begin(false, 1<<20)
		lines, _ = c.end(w)
		assert.Equal(t, []string{"stdout: after"}, collectorTexts(lines))
	})

	t.Run("an init ends at its marker, not at a sentinel", func(t *testing.T) {
		c := newC()
		w := c.begin(false, 1<<20)
		c.add(stdout, out("a"))
		c.add(stdout, sentinel)
		c.add(stdout, out("b"))
		c.add(stdout, marker(w.seq))
		c.add(stderr, marker(w.seq))
		require.True(t, c.wait(w, time.Second))
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: a", "stdout: b"}, collectorTexts(lines))
	})

	t.Run("a run without sentinels ends at its marker", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		c.add(stdout, marker(w.seq))
		c.add(stderr, marker(w.seq))
		require.True(t, c.wait(w, time.Second))
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: a"}, collectorTexts(lines))
	})

	t.Run("the rest of an abandoned run is dropped up to its sentinels", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		lines, _ := c.abandon(w, true)
		assert.Equal(t, []string{"stdout: a"}, collectorTexts(lines))
		c.add(stdout, out("stale"))
		c.add(stderr, out("stale"))
		c.add(stdout, sentinel)
		w = c.begin(true, 1<<20)
		c.add(stderr, out("stale too"))
		c.add(stderr, sentinel)
		c.add(stdout, out("new"))
		c.add(stderr, out("new"))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		require.True(t, c.wait(w, time.Second))
		lines, _ = c.end(w)
		assert.Equal(t, []string{"stdout: new", "stderr: new"}, collectorTexts(lines))
	})

	t.Run("an abandoned run keeps its output up to its marker", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		c.giveUp(w)
		c.add(stdout, out("b"))
		c.add(stdout, marker(w.seq))
		c.add(stderr, marker(w.seq))
		require.True(t, c.wait(w, time.Second))
		lines, _ := c.abandon(w, true)
		assert.Equal(t, []string{"stdout: a", "stdout: b"}, collectorTexts(lines))
		c.add(stdout, out("stale"))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		c.add(stdout, out("idle"))
		w = c.begin(true, 1<<20)
		lines, _ = c.end(w)
		assert.Equal(t, []string{"stdout: idle"}, collectorTexts(lines))
	})

	t.Run("an abandoned run whose sentinels came owes nothing", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.giveUp(w)
		c.add(stdout, out("a"))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		c.abandon(w, true)
		c.add(stdout, out("idle"))
		w = c.begin(true, 1<<20)
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: idle"}, collectorTexts(lines))
	})

	t.Run("an abandoned run's sentinels read after its marker, before abandon, pay its debt", func(t *testing.T) {
		// The runtime noticed the caller leave and wrote the sentinels
		// just after the marker; the reader took them before abandon.
		c := newC()
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		c.giveUp(w)
		c.add(stdout, marker(w.seq))
		c.add(stderr, marker(w.seq))
		require.True(t, c.wait(w, time.Second))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		lines, _ := c.abandon(w, true)
		assert.Equal(t, []string{"stdout: a"}, collectorTexts(lines))
		w = c.begin(true, 1<<20)
		c.add(stdout, out("new"))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		require.True(t, c.wait(w, time.Second))
		lines, _ = c.end(w)
		assert.Equal(t, []string{"stdout: new"}, collectorTexts(lines), "the next run's output is its own, not dropped as the old run's")
	})

	t.Run("a run abandoned before it was sent owes nothing", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.abandon(w, false)
		w = c.begin(true, 1<<20)
		c.add(stdout, out("new"))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		require.True(t, c.wait(w, time.Second))
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: new"}, collectorTexts(lines))
	})

	t.Run("a debt whose sentinel never comes ends at the next marker", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.abandon(w, true)
		w = c.begin(true, 1<<20)
		c.add(stdout, marker(w.seq))
		c.add(stderr, marker(w.seq))
		require.True(t, c.wait(w, time.Second), "no hang")
		c.end(w)
		w = c.begin(true, 1<<20)
		c.add(stdout, out("later"))
		c.add(stdout, sentinel)
		c.add(stderr, sentinel)
		require.True(t, c.wait(w, time.Second))
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: later"}, collectorTexts(lines))
	})

	t.Run("a run whose output did not end in time owes its sentinels", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		assert.False(t, c.wait(w, time.Millisecond))
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: a"}, collectorTexts(lines))
		c.add(stdout, out("late"))
		c.add(stdout, sentinel)
		c.add(stdout, out("between"))
		c.add(stderr, marker(w.seq)) // stderr had no sentinel
		c.add(stdout, marker(w.seq))
		w = c.begin(true, 1<<20)
		lines, _ = c.end(w)
		assert.Equal(t, []string{"stdout: between"}, collectorTexts(lines))
	})

	t.Run("the end of a stream ends the request", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 1<<20)
		c.add(stdout, out("a"))
		c.closeStream(stdout)
		c.closeStream(stderr)
		require.True(t, c.wait(w, time.Second))
		lines, _ := c.end(w)
		assert.Equal(t, []string{"stdout: a"}, collectorTexts(lines))
	})

	t.Run("limit", func(t *testing.T) {
		c := newC()
		w := c.begin(true, 10)
		c.add(stdout, out("12345")) // 6 bytes
		c.add(stdout, out("123"))   // 4 bytes: 10
		c.add(stdout, out(""))      // 1 byte: over
		c.add(stdout, out("x"))
		lines, trunc := c.end(w)
		assert.True(t, trunc)
		assert.Equal(t, []string{"stdout: 12345", "stdout: 123", "stderr: " + TruncationNotice(10)}, collectorTexts(lines))
	})

	t.Run("output between requests is bounded", func(t *testing.T) {
		c := newC()
		line := strings.Repeat("x", 1023)
		for range idleLogBytes/1024 + 10 {
			c.add(stdout, out(line))
		}
		w := c.begin(true, 1<<30)
		lines, _ := c.end(w)
		assert.Len(t, lines, idleLogBytes/1024)
	})

	t.Run("stderr tail and listening", func(t *testing.T) {
		c := newC()
		c.add(stderr, out("listening on 127.0.0.1:1234"))
		assert.Equal(t, "127.0.0.1:1234", <-c.listening)
		c.add(stderr, out("time=2026-01-01T00:00:00Z level=WARN msg=x"))
		for n := range tailLines + 3 {
			c.add(stderr, out(strings.Repeat("e", n)))
		}
		c.add(stdout, out("not in the tail"))
		tail := c.stderrTail()
		assert.Len(t, tail, tailLines)
		assert.Equal(t, strings.Repeat("e", tailLines+2), tail[len(tail)-1])
		w := c.begin(true, 1<<30)
		lines, _ := c.end(w)
		for _, l := range lines {
			assert.NotContains(t, l.Text, "listening")
			assert.NotContains(t, l.Text, "level=WARN")
		}
	})
}
