package planner

import (
	"context"
	"fmt"

	"quicklook/internal/layout"
	"quicklook/internal/planfile"
	"quicklook/internal/runspec"
)

// Retry is the work that reruns a run's failed jobs: a failed plain job
// again, under its name; the failed children of an array job as a new job
// over their shards alone (an array job, or a plain one for one shard), so
// that the children that succeeded are not started again.
func Retry(ctx context.Context, rec *runspec.Record, states []runspec.State) (*runspec.Work, error) {
	w := &runspec.Work{PlanFiles: map[string]*planfile.Plan{}}
	byName := map[string]runspec.Job{}
	retries := 0
	for _, j := range rec.Jobs {
		byName[j.Name] = j.Job
		if j.RetryOf != "" {
			retries++
		}
	}
	rerun := rec.Rerun()
	for _, s := range states {
		if s.Status != runspec.Failed {
			continue
		}
		j := byName[s.Name]
		if j.ArraySize == 0 || len(s.FailedChildren) == 0 {
			w.Jobs = append(w.Jobs, j)
			continue
		}
		var failed []runspec.ChildFailure // not rerun by an earlier retry job
		for _, f := range s.FailedChildren {
			if !rerun[s.Name][f.Index] {
				failed = append(failed, f)
			}
		}
		if len(failed) == 0 {
			continue
		}
		loc := j.Env[runspec.EnvPlan]
		p, err := runspec.ReadPlan(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("%s: reading its plan: %w", j.Name, err)
		}
		sub := *p
		sub.Shards = nil
		var indexes []int
		for _, f := range failed {
			shard, err := p.Shard(f.Index)
			if err != nil {
				return nil, fmt.Errorf("%s: failed child %d: %w", j.Name, f.Index, err)
			}
			sub.Shards = append(sub.Shards, shard)
			indexes = append(indexes, f.Index)
		}
		retries++
		subLoc := layout.At(rec.Dest, layout.RetryPlanFile(rec.RunID, retries))
		w.PlanFiles[subLoc] = &sub
		w.Jobs = append(w.Jobs, sharded(runspec.Job{
			Name:       runspec.JobName(rec.RunID, fmt.Sprintf("retry-%03d", retries), subLoc),
			Parameters: j.Parameters,
			Tags:       map[string]string{"quicklook-run": rec.RunID, "quicklook-plan": tagValue(subLoc), "quicklook-retry-of": j.Name},
			Env:        j.Env,
			RetryOf:    j.Name, RetryIndexes: indexes,
		}, subLoc, len(sub.Shards)))
	}
	return w, nil
}
