package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestBarDrawsCountsAndFailures(t *testing.T) {
	var buf bytes.Buffer
	p := &Bar{W: &buf}
	p.Start(3)
	p.Done(false)
	p.Done(true)
	p.Done(false)
	p.Finish()
	out := buf.String()
	last := out[strings.LastIndex(out, "\r")+1:]
	if !strings.Contains(last, "3/3") || !strings.Contains(last, "1 failed") || !strings.Contains(last, strings.Repeat("=", 30)) {
		t.Fatalf("final bar %q", last)
	}
}

func TestLogEmitsPeriodicLines(t *testing.T) {
	var buf bytes.Buffer
	p := &Log{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Every: time.Millisecond}
	p.Start(2)
	time.Sleep(2 * time.Millisecond)
	p.Done(false)
	if !strings.Contains(buf.String(), `"msg":"progress"`) || !strings.Contains(buf.String(), `"done":1`) || !strings.Contains(buf.String(), `"total":2`) {
		t.Fatalf("progress log %q", buf.String())
	}
}

func TestLineOffTerminalPrintsTheEndOnce(t *testing.T) {
	var buf bytes.Buffer
	l := &Line{W: &buf, Label: "jobs"}
	l.Update(0, 2, "")
	l.Update(1, 2, "1 running")
	l.Update(2, 2, "0 running")
	l.Update(2, 2, "0 running")
	l.End()
	if buf.String() != "jobs: 2/2 0 running\n" {
		t.Fatalf("off a terminal: %q", buf.String())
	}
}
