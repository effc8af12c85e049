// Package localexec runs a run's jobs on this machine the way AWS Batch
// would: bin/job as a subprocess per job (per child for array jobs), the
// job definition's command and parameters, the Batch environment
// (AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_JOB_ARRAY_INDEX), and
// the same retry strategy: retry on exit 75 up to the attempts, never on 2 or 3.
package localexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"quicklook/internal/batch"
)

// ExitRetry is the exit code the retry strategy retries on.
const ExitRetry = 75

// Options for a local run.
type Options struct {
	JobBin   string // path of bin/job
	Parallel int    // jobs at once
	Attempts int    // per job, as the job definition's retry strategy (default 3)
	LogDir   string // each attempt's output goes to a file here
	Queue    string // AWS_BATCH_JQ_NAME of the children
	// Progress is called whenever a task starts or ends.
	Progress func(Counts)
}

// Counts across the run's tasks.
type Counts struct {
	Total, Running, Succeeded, Failed, Retries int
}

// Task is one process to run: a job, or one child of an array job.
type Task struct {
	Job   batch.Job
	Index int // array index, -1 for a plain job
}

// Result is how a task ended.
type Result struct {
	Task
	Status   string // SUCCEEDED or FAILED
	Attempts int
	ExitCode int
	Reason   string
	Log      string
}

// Tasks expands jobs into processes: one per plain job, one per array child.
func Tasks(jobs []batch.Job) []Task {
	var out []Task
	for _, j := range jobs {
		if j.ArraySize == 0 {
			out = append(out, Task{Job: j, Index: -1})
			continue
		}
		for i := 0; i < j.ArraySize; i++ {
			out = append(out, Task{Job: j, Index: i})
		}
	}
	return out
}

// Run runs the tasks. When ctx ends, no task starts, running ones get
// SIGTERM (as Batch does on termination) and are awaited.
func Run(ctx context.Context, tasks []Task, o Options) []Result {
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Progress == nil {
		o.Progress = func(Counts) {}
	}
	results := make([]Result, len(tasks))
	var mu sync.Mutex
	counts := Counts{Total: len(tasks)}
	report := func(f func(*Counts)) {
		mu.Lock()
		f(&counts)
		c := counts
		mu.Unlock()
		o.Progress(c)
	}
	report(func(*Counts) {})
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, t := range tasks {
		select {
		case <-ctx.Done():
			results[i] = Result{Task: t, Status: "FAILED", ExitCode: -1, Reason: "run stopped before the job started"}
			report(func(c *Counts) { c.Failed++ })
			continue
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func(i int, t Task) {
			defer wg.Done()
			defer func() { <-sem }()
			report(func(c *Counts) { c.Running++ })
			r := runTask(ctx, t, o, func() { report(func(c *Counts) { c.Retries++ }) })
			results[i] = r
			report(func(c *Counts) {
				c.Running--
				if r.Status == "SUCCEEDED" {
					c.Succeeded++
				} else {
					c.Failed++
				}
			})
		}(i, t)
	}
	wg.Wait()
	return results
}

func runTask(ctx context.Context, t Task, o Options, retried func()) Result {
	id := fmt.Sprintf("local-%s", t.Job.Name)
	label := t.Job.Name
	if t.Index >= 0 {
		id = fmt.Sprintf("%s:%d", id, t.Index)
		label = fmt.Sprintf("%s-%d", t.Job.Name, t.Index)
	}
	r := Result{Task: t}
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		r.Attempts = attempt
		if attempt > 1 {
			retried()
		}
		r.Log = filepath.Join(o.LogDir, fmt.Sprintf("%s.attempt-%d.log", label, attempt))
		code, err := runOnce(ctx, t, o, id, attempt, r.Log)
		r.ExitCode = code
		switch {
		case err != nil:
			r.Status, r.Reason = "FAILED", err.Error()
			return r
		case code == 0:
			r.Status, r.Reason = "SUCCEEDED", ""
			return r
		case code == ExitRetry && ctx.Err() == nil && attempt < o.Attempts:
			continue // transient: Batch would retry this attempt
		default:
			r.Status = "FAILED"
			r.Reason = fmt.Sprintf("Essential container in task exited (code %d)", code)
			return r
		}
	}
	return r
}

// workersPerJob divides four workers per CPU among the jobs run at once.
func workersPerJob(parallel int) int {
	return max(1, 4*runtime.NumCPU()/max(1, parallel))
}

func runOnce(ctx context.Context, t Task, o Options, id string, attempt int, logPath string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return -1, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return -1, err
	}
	defer logf.Close()
	// The job definition's command: run --source Ref::source --prefix Ref::prefix --dest Ref::dest.
	p := t.Job.Parameters
	cmd := exec.Command(o.JobBin, "run", "--source", p["source"], "--prefix", p["prefix"], "--dest", p["dest"])
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "AWS_BATCH_JOB_ID="+id, fmt.Sprintf("AWS_BATCH_JOB_ATTEMPT=%d", attempt), "AWS_BATCH_JQ_NAME="+o.Queue)
	if t.Index >= 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("AWS_BATCH_JOB_ARRAY_INDEX=%d", t.Index))
	}
	if _, set := t.Job.Env["QUICKLOOK_CONCURRENCY"]; !set && os.Getenv("QUICKLOOK_CONCURRENCY") == "" {
		// Jobs at once share the machine: each gets its part of the default
		// four workers (render processes) per CPU.
		cmd.Env = append(cmd.Env, fmt.Sprintf("QUICKLOOK_CONCURRENCY=%d", workersPerJob(o.Parallel)))
	}
	for k, v := range t.Job.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("starting %s: %w", o.JobBin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(30 * time.Second): // Batch's SIGKILL follows 30 s later
			cmd.Process.Kill()
			err = <-done
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}
