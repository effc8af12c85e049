package runspec

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"quicklook/internal/layout"
	"quicklook/internal/storage"
)

// Record is a run as its executor left it, kept under the destination so
// that status and retry work from any machine.
type Record struct {
	RunID    string `json:"run_id"`
	Executor string `json:"executor"` // batch or local
	Queue    string `json:"queue,omitempty"`
	// Definition is the job definition the run submitted with; retry
	// submits with it unless told otherwise.
	Definition string    `json:"definition,omitempty"`
	Source     string    `json:"source"`
	Dest       string    `json:"dest"`
	Started    time.Time `json:"started"`
	Updated    time.Time `json:"updated"`
	// Planned is what the plan predicted, when the run was counted.
	Planned *Forecast   `json:"planned,omitempty"`
	Jobs    []JobRecord `json:"jobs"`

	index map[string]int // job name -> position in Jobs, built on first Upsert
}

// Forecast is a counted run's prediction: its images and bytes, its cost,
// and its wall time at the planned vCPUs (array runs).
type Forecast struct {
	Objects         int     `json:"objects"`
	Bytes           int64   `json:"bytes"`
	CostUSD         float64 `json:"cost_usd"`
	MakespanSeconds float64 `json:"makespan_seconds,omitempty"`
}

// JobRecord is one job of the run and, for local runs, how it ended.
type JobRecord struct {
	Job
	ID       string `json:"id,omitempty"`
	Status   string `json:"status,omitempty"` // SUBMITTED ... SUCCEEDED, FAILED (local runs)
	Attempts int    `json:"attempts,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Log      string `json:"log,omitempty"`
	// An array job's children by state, and the failed ones (local runs).
	Children       map[string]int `json:"children,omitempty"`
	FailedChildren []ChildFailure `json:"failed_children,omitempty"`
}

// Upsert replaces the record of the job of the same name, or adds it.
func (r *Record) Upsert(jr JobRecord) {
	if r.index == nil {
		r.index = make(map[string]int, len(r.Jobs))
		for i, j := range r.Jobs {
			r.index[j.Name] = i
		}
	}
	if i, ok := r.index[jr.Name]; ok {
		r.Jobs[i] = jr
		return
	}
	r.index[jr.Name] = len(r.Jobs)
	r.Jobs = append(r.Jobs, jr)
}

// RecordLocation is where a run's record lives.
func RecordLocation(dest, runID string) string { return layout.At(dest, layout.RunRecord(runID)) }

// Save writes the record (atomically, like every write).
func (r *Record) Save(ctx context.Context) error {
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
