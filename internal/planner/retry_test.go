package planner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"quicklook/internal/layout"
	"quicklook/internal/planfile"
	"quicklook/internal/runspec"
)

// Retry reruns only what failed and was not rerun already: a plain job
// again under its name; an array job's failed children as a job over their
// shards; a retry job's failed children (mapped to its own plan), never
// the children an earlier retry job took over.
func TestRetryRerunsWhatFailedOnce(t *testing.T) {
	ctx := context.Background()
	dest := t.TempDir()
	writePlan := func(key string, prefixes ...string) string {
		p := planfile.Plan{Version: planfile.Version, RunID: "r1", Source: "s3://src", Dest: dest}
		for _, pr := range prefixes {
			p.Shards = append(p.Shards, planfile.Shard{Ranges: []planfile.Range{{Prefix: pr}}, Objects: 1})
		}
		b, _ := json.Marshal(p)
		os.MkdirAll(filepath.Dir(filepath.Join(dest, key)), 0o755)
		if err := os.WriteFile(filepath.Join(dest, key), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return layout.At(dest, key)
	}
	arrayPlan := writePlan(layout.PlanFile("r1", 0), "a/", "b/", "c/", "d/")
	retryPlan := writePlan(layout.RetryPlanFile("r1", 1), "b/", "d/")
	three := 3
	rec := &runspec.Record{RunID: "r1", Dest: dest, Jobs: []runspec.JobRecord{
		{Job: runspec.Job{Name: "plain", Parameters: map[string]string{"prefix": "x/"}}},
		{Job: runspec.Job{Name: "array", ArraySize: 4, Env: map[string]string{runspec.EnvPlan: arrayPlan}}},
		{Job: runspec.Job{Name: "retry1", ArraySize: 2, Env: map[string]string{runspec.EnvPlan: retryPlan}, RetryOf: "array", RetryIndexes: []int{1, 3}}},
		{Job: runspec.Job{Name: "ok"}},
	}}
	states := []runspec.State{
		{Name: "plain", Status: runspec.Failed, ExitCode: &three},
		{Name: "array", Status: runspec.Failed, ArraySize: 4, Children: map[string]int{runspec.Succeeded: 2, runspec.Failed: 2},
			FailedChildren: []runspec.ChildFailure{{Index: 1}, {Index: 3}}},
		{Name: "retry1", Status: runspec.Failed, ArraySize: 2, Children: map[string]int{runspec.Succeeded: 1, runspec.Failed: 1},
			FailedChildren: []runspec.ChildFailure{{Index: 1}}},
		{Name: "ok", Status: runspec.Succeeded},
	}
	w, err := Retry(ctx, rec, states)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Jobs) != 2 || w.Jobs[0].Name != "plain" {
		t.Fatalf("jobs %+v, want plain and one retry of retry1", w.Jobs)
	}
	j := w.Jobs[1]
	if j.RetryOf != "retry1" || len(j.RetryIndexes) != 1 || j.RetryIndexes[0] != 1 || j.ArraySize != 0 || j.Env[runspec.EnvShard] != "0" {
		t.Fatalf("retry job %+v", j)
	}
	p := w.PlanFiles[j.Env[runspec.EnvPlan]]
	if p == nil || len(p.Shards) != 1 || p.Shards[0].Ranges[0].Prefix != "d/" {
		t.Fatalf("retry plan %+v, want d/'s shard alone", p)
	}
	// Counted once: array's children 1 and 3 are retried, retry1's child 1 failed.
	if got := runspec.Tally(rec, states); got[runspec.Retried] != 2 || got[runspec.Failed] != 2 {
		t.Fatalf("tally %v", got)
	}
}
