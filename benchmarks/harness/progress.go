package harness

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is told what Run is doing: one step at a time, each begun, told
// of units done (bytes or tasks), and ended. Calls come from one goroutine
// at a time.
type Progress interface {
	// Begin starts a step of total units (bytes if bytes, else tasks).
	Begin(what string, total int64, bytes bool)
	// SetTotal corrects the step's total once it is known.
	SetTotal(total int64)
	// Add counts n more units done.
	Add(n int64)
	// End ends the step; note says how it went ("12.3s").
	End(note string)
}

// Silent is a Progress that shows nothing.
type Silent struct{}

func (Silent) Begin(string, int64, bool) {}
func (Silent) SetTotal(int64)            {}
func (Silent) Add(int64)                 {}
func (Silent) End(string)                {}

// Lines is a Progress that writes one line when a step begins and one when
// it ends, for logs and other writers that are not terminals.
type Lines struct {
	W     io.Writer
	what  string
	start time.Time
}

func (l *Lines) Begin(what string, _ int64, _ bool) {
	l.what, l.start = what, time.Now()
	fmt.Fprintf(l.W, "%s ...\n", what)
}

func (l *Lines) SetTotal(int64) {}
func (l *Lines) Add(int64)      {}

func (l *Lines) End(note string) {
	fmt.Fprintf(l.W, "%s: %s\n", l.what, note)
}

// Bar is a Progress that draws a progress bar on a terminal (package
// github.com/schollz/progressbar/v3), replaced by a line when the step
// ends.
type Bar struct {
	W    io.Writer
	what string
	bar  *progressbar.ProgressBar
}

func (b *Bar) Begin(what string, total int64, bytes bool) {
	b.what = what
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(b.W),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionUseIECUnits(true),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetItsString("tasks"))
	}
	// A known total keeps the bar from starting its spinner goroutine.
	b.bar = progressbar.NewOptions64(max(total, 1), opts...)
	b.bar.RenderBlank()
}

func (b *Bar) SetTotal(total int64) {
	if b.bar != nil {
		b.bar.ChangeMax64(max(total, 1))
	}
}

func (b *Bar) Add(n int64) {
	if b.bar != nil {
		b.bar.Add64(n)
	}
}

func (b *Bar) End(note string) {
	if b.bar != nil {
		b.bar.Finish()
		b.bar.Clear()
		b.bar = nil
	}
	fmt.Fprintf(b.W, "%s: %s\n", b.what, note)
}
