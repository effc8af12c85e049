package job

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"quicklook/internal/manifest"
)

func TestBarProgressDrawsCountsAndFailures(t *testing.T) {
	var buf bytes.Buffer
	p := &BarProgress{W: &buf}
	p.Start(3)
	p.Done(manifest.Record{Status: manifest.Created})
	p.Done(manifest.Record{Status: manifest.Failed})
	p.Done(manifest.Record{Status: manifest.Created})
	p.Finish()
	out := buf.String()
	last := out[strings.LastIndex(out, "\r")+1:]
	if !strings.Contains(last, "3/3") || !strings.Contains(last, "1 failed") || !strings.Contains(last, strings.Repeat("=", 30)) {
		t.Fatalf("final bar %q", last)
	}
}

func TestLogProgressEmitsPeriodicLines(t *testing.T) {
	var buf bytes.Buffer
	p := &LogProgress{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Every: time.Millisecond}
	p.Start(2)
	time.Sleep(2 * time.Millisecond)
	p.Done(manifest.Record{Status: manifest.Created})
	if !strings.Contains(buf.String(), `"msg":"progress"`) || !strings.Contains(buf.String(), `"done":1`) || !strings.Contains(buf.String(), `"total":2`) {
		t.Fatalf("progress log %q", buf.String())
	}
}
