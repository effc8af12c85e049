package batch

import (
	"context"

	"quicklook/internal/runspec"
)

// Submit submits the jobs that are not already queued, running or
// succeeded under the same name in this run, writing plan files only for
// the array jobs it submits.
func (c *Client) Submit(ctx context.Context, rec *runspec.Record, w *runspec.Work, progress runspec.Progress) (runspec.Outcome, error) {
	var out runspec.Outcome
	rec.Queue, rec.Definition = c.Queue, c.Definition
	if !c.checked {
		if err := c.Preflight(ctx); err != nil {
			return out, err
		}
	}
	existing, err := c.Jobs(ctx, runspec.NamePrefix(rec.RunID))
	if err != nil {
		return out, err
	}
	latest := Latest(existing)
	for i, j := range w.Jobs {
		if s, ok := latest[j.Name]; ok && (runspec.Active(s.Status) || s.Status == runspec.Succeeded) {
			out.Skipped++
			progress(i+1, len(w.Jobs), "")
			continue
		}
		if err := w.WritePlan(ctx, j); err != nil {
			return out, err
		}
		id, err := c.submitOne(ctx, j)
		if err != nil {
			return out, err
		}
		rec.Upsert(runspec.JobRecord{Job: j, ID: id, Status: runspec.Submitted})
		out.Submitted++
		progress(i+1, len(w.Jobs), "")
	}
	return out, nil
}

// Status asks Batch for the newest job of each name the record holds.
func (c *Client) Status(ctx context.Context, rec *runspec.Record) ([]runspec.State, error) {
	all, err := c.Jobs(ctx, runspec.NamePrefix(rec.RunID))
	if err != nil {
		return nil, err
	}
	latest := Latest(all)
	var out []runspec.State
	for _, j := range rec.Jobs {
		st := runspec.State{Name: j.Name, Prefix: j.Parameters["prefix"], Status: runspec.Unknown, ArraySize: j.ArraySize}
		if s, ok := latest[j.Name]; ok {
			st.Status, st.Reason, st.LogStream, st.ID = s.Status, s.Reason, s.LogStream, s.ID
			if s.ExitCode != nil {
				code := int(*s.ExitCode)
				st.ExitCode = &code
			}
			if len(s.Summary) > 0 {
				st.Children = map[string]int{}
				for k, v := range s.Summary {
					if v > 0 {
						st.Children[k] = int(v)
					}
				}
				if st.Children[runspec.Failed] > 0 && s.Status == runspec.Failed {
					if st.FailedChildren, err = c.FailedChildren(ctx, s.ID); err != nil {
						return nil, err
					}
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// DryRun is the SubmitJob requests the jobs would make, in Batch's JSON
// field names.
func (c *Client) DryRun(w *runspec.Work) any {
	reqs := []any{}
	for _, j := range w.Jobs {
		req := map[string]any{"jobName": j.Name, "jobQueue": c.Queue, "jobDefinition": c.Definition,
			"parameters": j.Parameters, "tags": j.Tags, "propagateTags": true}
		if j.ArraySize > 0 {
			req["arrayProperties"] = map[string]int{"size": j.ArraySize}
		}
		if len(j.Env) > 0 {
			req["containerOverrides"] = map[string]any{"environment": j.Env}
		}
		reqs = append(reqs, req)
	}
	return reqs
}
