// Package localexec is the executor that runs a run's jobs on this machine
// (runspec.Executor) the way AWS Batch would: bin/job as a subprocess per
// job (per child for array jobs), the job definition's command and
// parameters, the Batch environment (AWS_BATCH_JOB_ID,
// AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_JOB_ARRAY_INDEX), and the same retry
// strategy: retry on runspec.ExitTransient up to the attempts, never on
// anything else.
package localexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"quicklook/internal/runspec"
)

// Options for a local run.
type Options struct {
	JobBin   string // path of bin/job
	Parallel int    // jobs at once
	Attempts int    // per job, as the job definition's retry strategy (default runspec.Attempts)
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
	Job   runspec.Job
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
func Tasks(jobs []runspec.Job) []Task {
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
		o.Attempts = runspec.Attempts
	}
	if o.Progress == nil {
		o.Progress = func(Counts) {}
	}
	results := make([]Result, len(tasks))
	var mu sync.Mutex
	counts := Counts{Total: len(tasks)}
	// Reported under the lock: the callback sees the counts in order and is
	// never called twice at once (a progress line keeps state).
	report := func(f func(*Counts)) {
		mu.Lock()
		defer mu.Unlock()
		f(&counts)
		o.Progress(counts)
	}
	report(func(*Counts) {})
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, t := range tasks {
		// A stopped run starts nothing more (select alone would pick at
		// random between the stop and a free slot).
		acquired := false
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case sem <- struct{}{}:
				acquired = true
			}
		}
		if ctx.Err() != nil {
			if acquired {
				<-sem
			}
			results[i] = Result{Task: t, Status: runspec.Failed, ExitCode: -1, Reason: "run stopped before the job started"}
			report(func(c *Counts) { c.Failed++ })
			continue
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
				if r.Status == runspec.Succeeded {
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
	id := taskID(t)
	label := t.Job.Name
	if t.Index >= 0 {
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
			r.Status, r.Reason = runspec.Failed, err.Error()
			return r
		case code == runspec.ExitOK:
			r.Status, r.Reason = runspec.Succeeded, ""
			return r
		case code == runspec.ExitTransient && ctx.Err() == nil && attempt < o.Attempts:
			continue // transient: Batch would retry this attempt
		default:
			r.Status = runspec.Failed
			r.Reason = fmt.Sprintf("Essential container in task exited (code %d)", code)
			return r
		}
	}
	return r
}

// taskID is the task's AWS_BATCH_JOB_ID, as Batch forms a child's.
func taskID(t Task) string {
	if t.Index >= 0 {
		return fmt.Sprintf("local-%s:%d", t.Job.Name, t.Index)
	}
	return "local-" + t.Job.Name
}

// taskEnv is what Batch would set for the task's attempt, and the job's
// own environment.
func taskEnv(t Task, o Options, id string, attempt int) []string {
	env := []string{"AWS_BATCH_JOB_ID=" + id, fmt.Sprintf("AWS_BATCH_JOB_ATTEMPT=%d", attempt), "AWS_BATCH_JQ_NAME=" + o.Queue}
	if t.Index >= 0 {
		env = append(env, fmt.Sprintf("AWS_BATCH_JOB_ARRAY_INDEX=%d", t.Index))
	}
	if _, set := t.Job.Env["QUICKLOOK_CONCURRENCY"]; !set && os.Getenv("QUICKLOOK_CONCURRENCY") == "" {
		// Jobs at once share the machine: each gets its part of the default
		// four workers (render processes) per CPU.
		env = append(env, fmt.Sprintf("QUICKLOOK_CONCURRENCY=%d", workersPerJob(o.Parallel)))
	}
	keys := make([]string, 0, len(t.Job.Env))
	for k := range t.Job.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+t.Job.Env[k])
	}
	return env
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
	cmd := exec.Command(o.JobBin, t.Job.Resolve()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), taskEnv(t, o, id, attempt)...)
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
