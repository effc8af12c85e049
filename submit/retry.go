package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"quicklook/internal/planner"
	"quicklook/internal/runspec"
)

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "resubmit (or rerun) only what failed in a run, where the run ran: failed jobs, and an array job's failed children as one new job over their shards",
		UsageText: "submit retry --run RUN --dest s3://THUMBS/ [--definition D] [--job-env QUICKLOOK_MAX_FAILURE_RATE=0.2]",
		Flags:     runFlags(append(submitFlags(), jobEnvFlag)...),
		Action: func(c *cli.Context) error {
			rec, exec, err := loadRun(c, true)
			if err != nil {
				return err
			}
			states, err := exec.Status(c.Context, rec)
			if err != nil {
				return err
			}
			// Failed plain jobs run again; an array job's failed children
			// become a job over their shards alone.
			work, err := planner.Retry(c.Context, rec, states)
			if err != nil {
				return err
			}
			if len(work.Jobs) == 0 {
				fmt.Printf("run %s: no failed jobs\n", rec.RunID)
				return nil
			}
			overrides := map[string]string{}
			if err := parseJobEnv(c, overrides); err != nil {
				return err
			}
			for i := range work.Jobs {
				env := map[string]string{}
				for k, v := range work.Jobs[i].Env {
					env[k] = v
				}
				for k, v := range overrides {
					env[k] = v
				}
				work.Jobs[i].Env = env
			}
			if n := brokenImageFailures(states); n > 0 && len(overrides) == 0 {
				fmt.Fprintf(os.Stderr, "run %s: %d failed on broken images (exit 3): they fail again unless the data changes "+
					"or --job-env QUICKLOOK_MAX_FAILURE_RATE=... allows more\n", rec.RunID, n)
			}
			for _, j := range work.Jobs {
				if j.RetryOf != "" {
					fmt.Fprintf(os.Stderr, "run %s: %d failed children of %s rerun as %s\n", rec.RunID, len(j.RetryIndexes), j.RetryOf, j.Name)
				} else {
					fmt.Fprintf(os.Stderr, "run %s: %s runs again\n", rec.RunID, j.Name)
				}
			}
			return submit(c.Context, exec, rec, work, "resubmitted")
		},
	}
}

// brokenImageFailures counts the failed jobs and children that exited 3.
func brokenImageFailures(states []runspec.State) int {
	n := 0
	for _, s := range states {
		if len(s.FailedChildren) == 0 && s.Status == runspec.Failed && s.ExitCode != nil && *s.ExitCode == runspec.ExitData {
			n++
		}
		for _, f := range s.FailedChildren {
			if f.ExitCode != nil && *f.ExitCode == runspec.ExitData {
				n++
			}
		}
	}
	return n
}
