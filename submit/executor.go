package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/urfave/cli/v2"

	"quicklook/internal/batch"
	"quicklook/internal/localexec"
	"quicklook/internal/logging"
	"quicklook/internal/progress"
	"quicklook/internal/runspec"
)

// executorFlags choose where a run's jobs run; run takes them.
func executorFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "executor", EnvVars: env("EXECUTOR"), Value: "local", Usage: "batch (AWS Batch) or local (this machine)"},
		&cli.StringFlag{Name: "queue", EnvVars: env("QUEUE"), Usage: "Batch job queue (batch executor)"},
	}, submitFlags()...)
}

// submitFlags say how jobs are submitted or run; run and retry take them
// (retry runs a run's jobs where the run's record says).
func submitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "definition", EnvVars: env("DEFINITION"), Usage: "Batch job definition (batch executor; retry: default the run's)"},
		&cli.Float64Flag{Name: "submit-rate", Value: 40, Usage: "SubmitJob calls per second (Batch allows 50)"},
		&cli.IntFlag{Name: "priority", Usage: "Batch scheduling priority of the jobs (0-9999): on the stack's fair-share queue each run is a share, and a higher priority goes first within it"},
		&cli.IntFlag{Name: "parallel", Value: max(1, runtime.NumCPU()/2), Usage: "jobs at once (local executor)"},
		&cli.IntFlag{Name: "attempts", Value: runspec.Attempts, Usage: "attempts per job, retrying on exit 75 (local executor; Batch uses the job definition's)"},
		&cli.StringFlag{Name: "job-bin", Usage: "the job binary (local executor; default: job next to this binary)"},
		&cli.StringFlag{Name: "log-dir", Usage: "where job output goes (local executor; default quicklook-logs/RUN)"},
	}
}

// newExecutor makes the executor of that name, submitting to queue with
// definition (Batch); everything after this goes through runspec.Executor.
// Only submitting needs a job definition: watching does not.
func newExecutor(c *cli.Context, name, queue, definition string, submitting bool) (runspec.Executor, error) {
	switch name {
	case "batch":
		if submitting && queue == "" {
			return nil, usageError{errors.New("--executor batch needs --queue")}
		}
		if submitting && definition == "" {
			return nil, usageError{errors.New("submitting to Batch needs --definition")}
		}
		client, err := batch.New(c.Context, queue, definition, c.Float64("submit-rate"))
		if err != nil {
			return nil, err
		}
		if c.IsSet("priority") {
			p := c.Int("priority")
			if p < 0 || p > 9999 {
				return nil, usageError{fmt.Errorf("--priority %d: 0 to 9999", p)}
			}
			pr := int32(p)
			client.Priority = &pr
		}
		return client, nil
	case "local":
		jobBin := c.String("job-bin")
		if jobBin == "" {
			jobBin = defaultJobBin()
		}
		return &localexec.Executor{Options: localexec.Options{JobBin: jobBin, Parallel: c.Int("parallel"), Attempts: c.Int("attempts"),
			LogDir: c.String("log-dir")}}, nil
	}
	return nil, usageError{fmt.Errorf("--executor %q: batch or local", name)}
}

func defaultJobBin() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "job")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return "job"
}

func newLine(label string) *progress.Line {
	return &progress.Line{W: os.Stderr, Label: label, Terminal: logging.IsTerminal(os.Stderr)}
}
