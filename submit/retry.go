package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"quicklook/internal/planner"
)

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "resubmit (or rerun) only what failed in a run, where the run ran: failed jobs, and an array job's failed children as one new job over their shards",
		UsageText: "submit retry --run RUN --dest s3://THUMBS/ [--definition D]",
		Flags:     runFlags(submitFlags()...),
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
