package job

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"quicklook/internal/manifest"
)

// tally is the bookkeeping both progress reporters share.
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

func (t *tally) record(r manifest.Record) {
	t.done++
	if r.Status == manifest.Failed {
		t.failed++
	}
}

// BarProgress draws one self-updating line on a terminal.
type BarProgress struct {
	W io.Writer
	tally
}

func (p *BarProgress) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start(total)
	p.draw(true)
}

func (p *BarProgress) Done(r manifest.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record(r)
	p.draw(p.done == p.total)
}

func (p *BarProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total > 0 {
		p.draw(true)
		fmt.Fprintln(p.W)
	}
}

func (p *BarProgress) draw(force bool) {
	now := time.Now()
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = width * p.done / p.total
	}
	rate := float64(p.done) / max(now.Sub(p.started).Seconds(), 1e-3)
	eta := ""
	if rate > 0 && p.done < p.total {
		eta = fmt.Sprintf(" eta %s", (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(p.W, "\r[%s%s] %d/%d  %.1f/s  %d failed%s\033[K",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.done, p.total, rate, p.failed, eta)
}

// LogProgress writes a structured progress line every Every (for Batch and
// other non-terminal output).
type LogProgress struct {
	Log   *slog.Logger
	Every time.Duration
	tally
}

func (p *LogProgress) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start(total)
	if p.Every <= 0 {
		p.Every = 30 * time.Second
	}
}

func (p *LogProgress) Done(r manifest.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record(r)
	if time.Since(p.last) >= p.Every {
		p.last = time.Now()
		p.emit()
	}
}

func (p *LogProgress) Finish() {}

func (p *LogProgress) emit() {
	elapsed := time.Since(p.started).Seconds()
	p.Log.Info("progress", "done", p.done, "total", p.total, "failed", p.failed,
		"per_second", float64(int(10*float64(p.done)/max(elapsed, 1e-3)))/10)
}
