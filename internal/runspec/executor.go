package runspec

import "context"

// Executor runs a run's jobs somewhere: AWS Batch or this machine.
type Executor interface {
	// Preflight checks, before anything is submitted or run, that the
	// executor can take the run's jobs (the queue and job definition exist
	// and take jobs; the job binary runs).
	Preflight(ctx context.Context) error
	// Submit starts the jobs of w, writes the plan files they read and
	// records them in rec; progress is told of each job handled. On Batch,
	// jobs already queued, running or succeeded in the run are skipped, so
	// running the same command again never duplicates work; on this machine
	// every job runs again and finds its thumbnails up to date.
	Submit(ctx context.Context, rec *Record, w *Work, progress Progress) (Outcome, error)
	// Status is the latest state of each job of rec, in rec's order.
	Status(ctx context.Context, rec *Record) ([]State, error)
	// DryRun is what Submit would send or run, for printing as JSON.
	DryRun(w *Work) any
}

// Progress is told how far a submission is: jobs handled of total, and what
// else the executor has to say (running, failed, retried).
type Progress func(done, total int, detail string)

// Outcome is what a submission did.
type Outcome struct {
	Submitted, Skipped int
	// Finished: the jobs have run to their end (a local run), and Failed are
	// the ones that failed. A Batch submission leaves them queued.
	Finished bool
	Failed   []JobRecord
	// Logs is where the jobs' output went.
	Logs string
}

// Job states, as Batch names them.
const (
	Submitted = "SUBMITTED"
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
	Unknown   = "UNKNOWN" // recorded, but the executor no longer knows it
)

// Active reports whether a job in this state is waiting or running.
func Active(status string) bool {
	switch status {
	case Submitted, "PENDING", "RUNNABLE", "STARTING", "RUNNING":
		return true
	}
	return false
}

// State is one job's latest state.
type State struct {
	ID, Name, Prefix, Status, Reason, LogStream string
	ExitCode                                    *int
	ArraySize                                   int
	// Children counts an array job's children by state; FailedChildren
	// says which failed and how.
	Children       map[string]int
	FailedChildren []ChildFailure
}

// ChildFailure is a failed child of an array job.
type ChildFailure struct {
	Index    int    `json:"index"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Retried is the state Tally gives failed children (and failed jobs) that a
// later job of the run reran.
const Retried = "RETRIED"

// Tally counts a run's runs by state (an array job's children each, a plain
// job once): a failure that a later retry job covers counts as retried.
func Tally(rec *Record, states []State) map[string]int {
	covered := rec.Rerun()
	out := map[string]int{}
	for _, s := range states {
		for k, v := range s.ChildCounts() {
			out[k] += v
		}
		rerun := 0
		for _, f := range s.FailedChildren {
			if covered[s.Name][f.Index] {
				rerun++
			}
		}
		if rerun > 0 {
			out[Failed] -= rerun
			out[Retried] += rerun
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

// Rerun says which children of which array jobs a retry job reran.
func (r *Record) Rerun() map[string]map[int]bool {
	out := map[string]map[int]bool{}
	for _, j := range r.Jobs {
		if j.RetryOf == "" {
			continue
		}
		if out[j.RetryOf] == nil {
			out[j.RetryOf] = map[int]bool{}
		}
		for _, i := range j.RetryIndexes {
			out[j.RetryOf][i] = true
		}
	}
	return out
}

// ChildCounts counts the job's runs by state: an array job's children, or
// the plain job itself.
func (s State) ChildCounts() map[string]int {
	if s.Status == Unknown {
		return map[string]int{Unknown: max(s.ArraySize, 1)}
	}
	if len(s.Children) > 0 {
		return s.Children
	}
	if s.ArraySize > 0 {
		return map[string]int{s.Status: s.ArraySize}
	}
	return map[string]int{s.Status: 1}
}
