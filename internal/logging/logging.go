// Package logging sets up log/slog for quicklook's programs: JSON lines for
// CloudWatch (in AWS Batch, or whenever output is not a terminal), text on a
// terminal, and the Batch job's identity on every line.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// IsTerminal reports whether f is an interactive terminal.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// InBatch reports whether the process runs as an AWS Batch job.
func InBatch() bool { return os.Getenv("AWS_BATCH_JOB_ID") != "" }

// New returns a logger writing to w in format auto, json or text.
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "", "auto":
		f, isFile := w.(*os.File)
		if !InBatch() && isFile && IsTerminal(f) {
			h = slog.NewTextHandler(w, opts)
		} else {
			h = slog.NewJSONHandler(w, opts)
		}
	default:
		return nil, fmt.Errorf("log format %q: want auto, json or text", format)
	}
	return slog.New(h).With(batchAttrs()...), nil
}

// batchAttrs are the Batch environment's identity, when present.
func batchAttrs() []any {
	var out []any
	for _, kv := range [][2]string{
		{"batch_job_id", "AWS_BATCH_JOB_ID"},
		{"batch_attempt", "AWS_BATCH_JOB_ATTEMPT"},
		{"batch_queue", "AWS_BATCH_JQ_NAME"},
		{"batch_array_index", "AWS_BATCH_JOB_ARRAY_INDEX"},
	} {
		if v := os.Getenv(kv[1]); v != "" {
			out = append(out, kv[0], v)
		}
	}
	return out
}
