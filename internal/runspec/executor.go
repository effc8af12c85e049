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
	Name, Prefix, Status, Reason, LogStream string
	ExitCode                                *int
	ArraySize                               int
}
