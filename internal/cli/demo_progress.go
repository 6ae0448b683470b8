package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
)

// demoProgress shows a job's progress, one line per stage: on a terminal a
// bar redrawn as tasks end and every 200 ms (the elapsed time moves while
// tasks run); elsewhere the line once, when the stage ends. Failed attempts
// get a line of their own.
type demoProgress struct {
	w       io.Writer
	tty     bool
	start   time.Time
	reduces int
	done    chan struct{} // closed by stop
	wg      sync.WaitGroup

	mu struct {
		sync.Mutex
		phase   mapreduce.Phase
		ended   int // tasks of the phase done
		total   int
		open    bool // a line is drawn and not ended (tty)
		stopped bool
	}
}

// newDemoProgress starts showing a job of maps map tasks (at most: the
// driver may make fewer splits) and reduces reduce tasks.
func newDemoProgress(w io.Writer, tty bool, maps, reduces int) *demoProgress {
	p := &demoProgress{w: w, tty: tty, start: time.Now(), reduces: reduces, done: make(chan struct{})}
	p.mu.phase, p.mu.total = mapreduce.PhaseMap, maps
	if tty {
		p.mu.Lock()
		p.drawLocked()
		p.mu.Unlock()
		p.wg.Go(p.tick)
	}
	return p
}

func (p *demoProgress) tick() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			if p.mu.open {
				p.drawLocked()
			}
			p.mu.Unlock()
		}
	}
}

// event is the job's driver.Env.Progress.
func (p *demoProgress) event(e driver.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.stopped {
		return
	}
	if e.Phase != p.mu.phase { // the reduce stage began
		p.endLocked()
		p.mu.phase = e.Phase
	}
	p.mu.total = e.Total
	if e.Err != nil {
		p.endLocked()
		retry := ""
		if e.Retrying {
			retry = "; retrying"
		}
		fmt.Fprintf(p.w, "   %s task %d attempt %d failed: %v%s\n", e.Phase, e.Task, e.Attempt, e.Err, retry)
		if p.tty {
			p.drawLocked()
		}
		return
	}
	p.mu.ended = e.Done
	if e.Done < e.Total {
		if p.tty {
			p.drawLocked()
		}
		return
	}
	p.drawLocked()
	p.endLocked()
	if e.Phase == mapreduce.PhaseMap && p.tty {
		p.mu.phase, p.mu.ended, p.mu.total = mapreduce.PhaseReduce, 0, p.reduces
		p.drawLocked()
	}
}

// drawLocked draws the current stage's line (redrawing it on a terminal).
func (p *demoProgress) drawLocked() {
	const width = 30
	fill := 0
	if p.mu.total > 0 {
		fill = width * p.mu.ended / p.mu.total
	}
	cr := ""
	if p.tty {
		cr = "\r"
	}
	fmt.Fprintf(p.w, "%s   %-6s [%s%s] %d/%d tasks  %5.1fs", cr, p.mu.phase,
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.mu.ended, p.mu.total, time.Since(p.start).Seconds())
	p.mu.open = true
}

// endLocked ends the line drawn, if any.
func (p *demoProgress) endLocked() {
	if p.mu.open {
		fmt.Fprintln(p.w)
		p.mu.open = false
	}
}

// stop ends the display; events after it are ignored.
func (p *demoProgress) stop() {
	p.mu.Lock()
	p.endLocked()
	p.mu.stopped = true
	p.mu.Unlock()
	close(p.done)
	p.wg.Wait()
}
