package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/progress"
	"quicklook/internal/runspec"
)

// runFlags name a run and where its record is; status and retry take them.
func runFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "run", Usage: "run id (printed by 'submit run')"},
		&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "the run's destination (where its record is)"},
	}, extra...)
}

// loadRun reads the record of the run the flags name, and makes the
// executor its jobs ran on.
func loadRun(c *cli.Context, submitting bool) (*runspec.Record, runspec.Executor, error) {
	if c.String("run") == "" || c.String("dest") == "" {
		return nil, nil, usageError{errors.New("--run and --dest are required")}
	}
	rec, err := runspec.LoadRecord(c.Context, c.String("dest"), c.String("run"))
	if err != nil {
		return nil, nil, err
	}
	exec, err := newExecutor(c, rec.Executor, rec.Queue, submitting)
	return rec, exec, err
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show a run's jobs by state, and the failed ones with their reasons and logs",
		UsageText: "submit status --run RUN --dest s3://THUMBS/ [--watch]",
		Flags: runFlags(
			&cli.BoolFlag{Name: "watch", Usage: "refresh until no job is waiting or running"},
			&cli.DurationFlag{Name: "interval", Value: 15 * time.Second, Usage: "refresh interval with --watch"},
		),
		Action: func(c *cli.Context) error {
			rec, exec, err := loadRun(c, false)
			if err != nil {
				return err
			}
			for {
				jobs, err := exec.Status(c.Context, rec)
				if err != nil {
					return err
				}
				active := printStatus(os.Stdout, rec, jobs)
				if active == 0 {
					// Every job is over: make sure the contact sheet holds them all.
					rebuildContactSheet(c.Context, rec.Dest)
				}
				if !c.Bool("watch") || active == 0 {
					if failed := countState(jobs, runspec.Failed); failed > 0 {
						return cli.Exit("", 1)
					}
					return nil
				}
				select {
				case <-c.Context.Done():
					return nil
				case <-time.After(c.Duration("interval")):
				}
			}
		},
	}
}

func countState(jobs []runspec.State, state string) int {
	n := 0
	for _, j := range jobs {
		if j.Status == state {
			n++
		}
	}
	return n
}

// printStatus prints counts by state, a progress bar and the failures;
// it returns how many jobs are still waiting or running.
func printStatus(w io.Writer, rec *runspec.Record, jobs []runspec.State) int {
	counts := map[string]int{}
	for _, j := range jobs {
		counts[j.Status]++
	}
	states := make([]string, 0, len(counts))
	for s := range counts {
		states = append(states, s)
	}
	sort.Strings(states)
	var parts []string
	for _, s := range states {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], strings.ToLower(s)))
	}
	done := counts[runspec.Succeeded] + counts[runspec.Failed]
	fmt.Fprintf(w, "run %s (%s, %s): %d jobs: %s\n", rec.RunID, rec.Executor, rec.Dest, len(jobs), strings.Join(parts, ", "))
	fmt.Fprintf(w, "%s %d/%d finished\n", progress.Text(done, len(jobs), 30), done, len(jobs))
	for _, j := range jobs {
		if j.Status != runspec.Failed {
			continue
		}
		code := "-"
		if j.ExitCode != nil {
			code = fmt.Sprint(*j.ExitCode)
		}
		fmt.Fprintf(w, "  FAILED %s prefix=%q exit=%s: %s", j.Name, j.Prefix, code, j.Reason)
		if j.LogStream != "" {
			fmt.Fprintf(w, " (log: %s)", j.LogStream)
		}
		fmt.Fprintln(w)
	}
	return len(jobs) - done - counts[runspec.Unknown]
}
