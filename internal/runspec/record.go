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
	RunID    string      `json:"run_id"`
	Executor string      `json:"executor"` // batch or local
	Queue    string      `json:"queue,omitempty"`
	Source   string      `json:"source"`
	Dest     string      `json:"dest"`
	Updated  time.Time   `json:"updated"`
	Jobs     []JobRecord `json:"jobs"`

	index map[string]int // job name -> position in Jobs, built on first Upsert
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
