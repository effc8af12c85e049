package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"quicklook/internal/planfile"
	"quicklook/internal/runspec"
)

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "resubmit (or rerun) only the failed jobs of a run, where the run ran",
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
			failed := map[string]bool{}
			for _, s := range states {
				if s.Status == runspec.Failed {
					failed[s.Name] = true
				}
			}
			// Array jobs' plan files are already under the destination.
			work := &runspec.Work{PlanFiles: map[string]*planfile.Plan{}}
			for _, j := range rec.Jobs {
				if failed[j.Name] {
					work.Jobs = append(work.Jobs, j.Job)
				}
			}
			if len(work.Jobs) == 0 {
				fmt.Printf("run %s: no failed jobs\n", rec.RunID)
				return nil
			}
			fmt.Fprintf(os.Stderr, "run %s: retrying %d failed jobs\n", rec.RunID, len(work.Jobs))
			return submit(c.Context, exec, rec, work, "resubmitted")
		},
	}
}
