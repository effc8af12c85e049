package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/logging"
	"quicklook/internal/runreport"
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
	definition := rec.Definition
	if c.IsSet("definition") {
		definition = c.String("definition")
	}
	exec, err := newExecutor(c, rec.Executor, rec.Queue, definition, submitting)
	return rec, exec, err
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show a run: jobs and array children by state, images done and per second, dollars spent and predicted, time left, failures",
		Description: "The counts come from the executor (Batch: ListJobs and DescribeJobs); images and dollars from the summaries the\n" +
			"jobs copied under the run, each read once. With --watch on a terminal the screen is redrawn in place;\n" +
			"elsewhere one line is printed per refresh, and the whole report at the end. Exit 1 when something failed.",
		UsageText: "submit status --run RUN --dest s3://THUMBS/ [--watch] [--interval 30s] [--failures 20]",
		Flags: runFlags(
			&cli.BoolFlag{Name: "watch", Usage: "refresh until no job is waiting or running"},
			&cli.DurationFlag{Name: "interval", Value: 15 * time.Second, Usage: "refresh interval with --watch"},
			&cli.IntFlag{Name: "failures", Value: 20, Usage: "list at most this many failed jobs and children (0: all)"},
		),
		Action: func(c *cli.Context) error {
			rec, exec, err := loadRun(c, false)
			if err != nil {
				return err
			}
			if c.Duration("interval") <= 0 || c.Int("failures") < 0 {
				return usageError{errors.New("--interval must be positive and --failures at least 0")}
			}
			summaries, err := runreport.NewReader(c.Context, rec.Dest, rec.RunID)
			if err != nil {
				return err
			}
			screen := c.Bool("watch") && logging.IsTerminal(os.Stdout)
			for {
				states, err := exec.Status(c.Context, rec)
				if err != nil {
					return err
				}
				account, err := summaries.Read(c.Context)
				if err != nil {
					return err
				}
				r := runreport.Report{Record: rec, States: states, Account: account, Now: time.Now()}
				over := r.Active() == 0
				switch {
				case screen:
					fmt.Print("\x1b[H\x1b[2J") // one screen, redrawn in place
					r.Write(os.Stdout, c.Int("failures"))
				case c.Bool("watch") && !over:
					fmt.Println(r.Line())
				default:
					r.Write(os.Stdout, c.Int("failures"))
				}
				if over {
					// Every job is over: make sure the contact sheet holds them all.
					rebuildContactSheet(c.Context, rec.Dest, account.Last)
				}
				if !c.Bool("watch") || over {
					if r.Failed() > 0 {
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
