// Package logging sets up log/slog for quicklook's programs: JSON lines for
// CloudWatch (in AWS Batch, or whenever output is not a terminal), text on a
// terminal, and the Batch job's identity on every line.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"
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

// Writer is where logs go: stdout in AWS Batch (the awslogs driver ships it
// to CloudWatch, as the metrics line below), stderr elsewhere so stdout
// stays for the human summary.
func Writer() *os.File {
	if InBatch() {
		return os.Stdout
	}
	return os.Stderr
}

// Metrics writes one CloudWatch embedded-metric-format line: CloudWatch
// Logs turns it into metrics in namespace, without API calls.
func Metrics(w io.Writer, namespace string, dims map[string]string, counts map[string]float64) error {
	rec := map[string]any{}
	var dimNames []string
	for k, v := range dims {
		rec[k] = v
		dimNames = append(dimNames, k)
	}
	sort.Strings(dimNames)
	var metrics []map[string]string
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rec[k] = counts[k]
		unit := "Count"
		if strings.HasSuffix(k, "Bytes") {
			unit = "Bytes"
		} else if strings.HasSuffix(k, "Seconds") {
			unit = "Seconds"
		}
		metrics = append(metrics, map[string]string{"Name": k, "Unit": unit})
	}
	rec["_aws"] = map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": namespace, "Dimensions": [][]string{dimNames}, "Metrics": metrics,
		}},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
