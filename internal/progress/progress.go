// Package progress shows how far long work is: one self-updating line on a
// terminal, a plain or structured log line every so often elsewhere. The job
// reports images with it, the submitter jobs.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Reporter follows a known number of items.
type Reporter interface {
	Start(total int)
	Done(failed bool)
	Finish()
}

// Nop reports nothing.
type Nop struct{}

func (Nop) Start(int) {}
func (Nop) Done(bool) {}
func (Nop) Finish()   {}

// tally is the bookkeeping both reporters share.
type tally struct {
	mu      sync.Mutex
	total   int
	done    int
	failed  int
	started time.Time
	last    time.Time
}

func (t *tally) start(total int) {
	t.total, t.started, t.last = total, time.Now(), time.Now()
}

func (t *tally) record(failed bool) {
	t.done++
	if failed {
		t.failed++
	}
}

func (t *tally) rate(now time.Time) float64 {
	return float64(t.done) / max(now.Sub(t.started).Seconds(), 1e-3)
}

// Bar draws one self-updating line on a terminal: a bar, done/total, the
// rate, failures and the time left.
type Bar struct {
	W io.Writer
	tally
}

func (p *Bar) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start(total)
	p.draw(true)
}

func (p *Bar) Done(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record(failed)
	p.draw(p.done == p.total)
}

func (p *Bar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total > 0 {
		p.draw(true)
		fmt.Fprintln(p.W)
	}
}

func (p *Bar) draw(force bool) {
	now := time.Now()
	if !force && now.Sub(p.last) < redraw {
		return
	}
	p.last = now
	rate := p.rate(now)
	eta := ""
	if rate > 0 && p.done < p.total {
		eta = fmt.Sprintf(" eta %s", (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(p.W, "\r%s %d/%d  %.1f/s  %d failed%s\033[K", Text(p.done, p.total, width), p.done, p.total, rate, p.failed, eta)
}

// Log writes a structured progress line every Every (for Batch and other
// non-terminal output).
type Log struct {
	Log   *slog.Logger
	Every time.Duration
	tally
}

func (p *Log) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start(total)
	if p.Every <= 0 {
		p.Every = 30 * time.Second
	}
}

func (p *Log) Done(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record(failed)
	if time.Since(p.last) >= p.Every {
		p.last = time.Now()
		p.Log.Info("progress", "done", p.done, "total", p.total, "failed", p.failed,
			"per_second", float64(int(10*p.rate(time.Now())))/10)
	}
}

func (p *Log) Finish() {}

// Line shows counts kept elsewhere (the submitter's jobs): self-updating on
// a terminal, a plain line every 10 seconds (and at the end) otherwise.
type Line struct {
	W        io.Writer
	Label    string
	Terminal bool

	last  time.Time
	shown bool
}

// Update shows done of total, and detail after them.
func (l *Line) Update(done, total int, detail string) {
	if l.Terminal {
		if time.Since(l.last) < redraw && done < total {
			return
		}
		l.last, l.shown = time.Now(), true
		fmt.Fprintf(l.W, "\r%s %s %d/%d %s\033[K", l.Label, Text(done, total, width), done, total, detail)
		return
	}
	if l.last.IsZero() {
		l.last = time.Now()
	}
	if time.Since(l.last) >= 10*time.Second || (done == total && !l.shown) {
		l.last = time.Now()
		l.shown = done == total
		fmt.Fprintf(l.W, "%s: %d/%d %s\n", l.Label, done, total, detail)
	}
}

// End ends the line.
func (l *Line) End() {
	if l.Terminal && l.shown {
		fmt.Fprintln(l.W)
	}
}

const (
	width  = 30
	redraw = 100 * time.Millisecond
)

// Text is a bar of width characters, filled done/total.
func Text(done, total, width int) string {
	filled := 0
	if total > 0 {
		filled = min(width, width*done/total)
	}
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
}
