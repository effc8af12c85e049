package localexec

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"quicklook/internal/runspec"
)

// Executor runs a run's jobs here, to their end.
type Executor struct{ Options }

// Submit runs every job of w (each array child a task) and records how each
// ended; an array job succeeds when all its children do.
func (e *Executor) Submit(ctx context.Context, rec *runspec.Record, w *runspec.Work, progress runspec.Progress) (runspec.Outcome, error) {
	o := e.Options
	if o.LogDir == "" {
		o.LogDir = filepath.Join("quicklook-logs", rec.RunID)
	}
	if o.Queue == "" {
		o.Queue = "local"
	}
	for _, j := range w.Jobs {
		if err := w.WritePlan(ctx, j); err != nil {
			return runspec.Outcome{}, err
		}
	}
	o.Progress = func(n Counts) {
		progress(n.Succeeded+n.Failed, n.Total, fmt.Sprintf("%d running, %d failed, %d retried", n.Running, n.Failed, n.Retries))
	}
	results := Run(ctx, Tasks(w.Jobs), o)
	out := runspec.Outcome{Submitted: len(w.Jobs), Finished: true, Logs: o.LogDir}
	byJob := map[string]*runspec.JobRecord{}
	for _, j := range w.Jobs {
		byJob[j.Name] = &runspec.JobRecord{Job: j, ID: "local-" + j.Name, Status: runspec.Succeeded}
	}
	for _, r := range results {
		jr := byJob[r.Job.Name]
		jr.Attempts = max(jr.Attempts, r.Attempts)
		if r.Index >= 0 {
			if jr.Children == nil {
				jr.Children = map[string]int{}
			}
			jr.Children[r.Status]++
			if r.Status != runspec.Succeeded {
				code := r.ExitCode
				jr.FailedChildren = append(jr.FailedChildren, runspec.ChildFailure{Index: r.Index, ExitCode: &code, Reason: r.Reason})
			}
		}
		if r.Status != runspec.Succeeded {
			jr.Status = runspec.Failed
			code := r.ExitCode
			jr.ExitCode = &code
			jr.Reason = r.Reason
			if r.Index >= 0 {
				jr.Reason = fmt.Sprintf("child %d: %s", r.Index, r.Reason)
			}
			jr.Log = r.Log
		} else if jr.Log == "" {
			jr.Log = r.Log
		}
	}
	for _, j := range w.Jobs {
		jr := *byJob[j.Name]
		if n := len(jr.FailedChildren); n > 1 {
			jr.Reason = fmt.Sprintf("%d of %d children failed; %s", n, j.ArraySize, jr.Reason)
		}
		rec.Upsert(jr)
		if jr.Status == runspec.Failed {
			out.Failed = append(out.Failed, jr)
		}
	}
	return out, nil
}

// Preflight checks that the job binary is there to run.
func (e *Executor) Preflight(context.Context) error {
	p, err := exec.LookPath(e.JobBin)
	if err != nil {
		return fmt.Errorf("the job binary %s: %w (build it with make build, or give --job-bin)", e.JobBin, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		return fmt.Errorf("the job binary %s is not executable", p)
	}
	return nil
}

// Status is what the record says: a local run's jobs have ended.
func (e *Executor) Status(_ context.Context, rec *runspec.Record) ([]runspec.State, error) {
	var out []runspec.State
	for _, j := range rec.Jobs {
		out = append(out, runspec.State{Name: j.Name, Prefix: j.Parameters["prefix"], Status: j.Status, Reason: j.Reason,
			LogStream: j.Log, ExitCode: j.ExitCode, ArraySize: j.ArraySize, Children: j.Children, FailedChildren: j.FailedChildren})
	}
	return out, nil
}

// DryRun is the command line and environment of each process it would start.
func (e *Executor) DryRun(w *runspec.Work) any {
	procs := []any{}
	for _, t := range Tasks(w.Jobs) {
		id := taskID(t)
		procs = append(procs, map[string]any{"job": t.Job.Name, "command": e.JobBin + " " + strings.Join(t.Job.Resolve(), " "),
			"env": taskEnv(t, e.Options, id, 1)})
	}
	return procs
}
