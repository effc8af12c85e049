package planner

import (
	"context"
	"fmt"

	"quicklook/internal/layout"
	"quicklook/internal/planfile"
	"quicklook/internal/runspec"
	"quicklook/internal/storage"
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
		b, err := storage.ReadFile(ctx, loc, storage.OpenOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: reading its plan: %w", j.Name, err)
		}
		p, err := planfile.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.Name, err)
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
		env := map[string]string{}
		for k, v := range j.Env {
			env[k] = v
		}
		env[runspec.EnvPlan] = subLoc
		delete(env, runspec.EnvShard)
		rj := runspec.Job{
			Name:       runspec.JobName(rec.RunID, fmt.Sprintf("retry-%03d", retries), subLoc),
			Parameters: j.Parameters,
			Tags:       map[string]string{"quicklook-run": rec.RunID, "quicklook-plan": tagValue(subLoc), "quicklook-retry-of": j.Name},
			Env:        env,
			ArraySize:  len(sub.Shards),
			RetryOf:    j.Name, RetryIndexes: indexes,
		}
		if len(sub.Shards) == 1 {
			rj.ArraySize = 0
			env[runspec.EnvShard] = "0"
		}
		w.Jobs = append(w.Jobs, rj)
	}
	return w, nil
}
