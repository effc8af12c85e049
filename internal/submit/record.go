package submit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"quicklook/internal/batch"
	"quicklook/internal/storage"
)

// Record is a run as the submitter left it, kept under the destination so
// that status and retry work from any machine.
type Record struct {
	RunID    string      `json:"run_id"`
	Executor string      `json:"executor"` // batch or local
	Queue    string      `json:"queue,omitempty"`
	Source   string      `json:"source"`
	Dest     string      `json:"dest"`
	Updated  time.Time   `json:"updated"`
	Jobs     []JobRecord `json:"jobs"`
}

// JobRecord is one job of the run and, for local runs, how it ended.
type JobRecord struct {
	batch.Job
	ID       string `json:"id,omitempty"`
	Status   string `json:"status,omitempty"` // SUBMITTED ... SUCCEEDED, FAILED (local runs)
	Attempts int    `json:"attempts,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Log      string `json:"log,omitempty"`
}

// RecordLocation is where a run's record lives.
func RecordLocation(dest, runID string) string {
	return strings.TrimSuffix(dest, "/") + "/" + RunDir(runID) + "run.json"
}

// SaveRecord writes the record (atomically, like every write).
func SaveRecord(ctx context.Context, r *Record) error {
	r.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return storage.WriteFile(ctx, RecordLocation(r.Dest, r.RunID), b, storage.PutOptions{ContentType: "application/json"})
}

// LoadRecord reads a run's record from its destination.
func LoadRecord(ctx context.Context, dest, runID string) (*Record, error) {
	b, err := storage.ReadFile(ctx, RecordLocation(dest, runID), storage.OpenOptions{})
	if err != nil {
		return nil, fmt.Errorf("run %s: no record under %s: %w", runID, dest, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run %s: damaged record: %w", runID, err)
	}
	return &r, nil
}

// SubmitResult says what a Batch submission did.
type SubmitResult struct {
	Submitted, Skipped int
}

// SubmitBatch submits the jobs that are not already queued, running or
// succeeded under the same name in this run (so rerunning the command, or
// retrying, never duplicates work), writing plan files only for array jobs
// it submits. progress is called after each job.
func SubmitBatch(ctx context.Context, c *batch.Client, w *Work, rec *Record, progress func(done, total int)) (SubmitResult, error) {
	existing, err := c.Jobs(ctx, "ql-"+rec.RunID+"-")
	if err != nil {
		return SubmitResult{}, err
	}
	latest := batch.Latest(existing)
	var res SubmitResult
	byName := map[string]int{}
	for i, j := range rec.Jobs {
		byName[j.Name] = i
	}
	for i, j := range w.Jobs {
		if s, ok := latest[j.Name]; ok && (s.Active() || s.Status == "SUCCEEDED") {
			res.Skipped++
			progress(i+1, len(w.Jobs))
			continue
		}
		if loc := j.Env["QUICKLOOK_PLAN"]; loc != "" {
			if p := w.PlanFiles[loc]; p != nil {
				if err := writePlan(ctx, loc, p); err != nil {
					return res, err
				}
			}
		}
		id, err := c.Submit(ctx, j)
		if err != nil {
			return res, err
		}
		jr := JobRecord{Job: j, ID: id, Status: "SUBMITTED"}
		if k, ok := byName[j.Name]; ok {
			rec.Jobs[k] = jr
		} else {
			byName[j.Name] = len(rec.Jobs)
			rec.Jobs = append(rec.Jobs, jr)
		}
		res.Submitted++
		progress(i+1, len(w.Jobs))
	}
	return res, nil
}
