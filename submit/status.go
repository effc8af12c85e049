package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/batch"
	"quicklook/internal/contactsheet"
	"quicklook/internal/logging"
	"quicklook/internal/storage"
	"quicklook/internal/submit"
)

// runFlags name a run and where its record is; status and retry take them.
func runFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "run", Usage: "run id (printed by 'submit run')"},
		&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "the run's destination (where its record is)"},
	}, extra...)
}

// loadRun reads the record of the run the flags name.
func loadRun(c *cli.Context) (*submit.Record, error) {
	if c.String("run") == "" || c.String("dest") == "" {
		return nil, usageError{errors.New("--run and --dest are required")}
	}
	return submit.LoadRecord(c.Context, c.String("dest"), c.String("run"))
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
			rec, err := loadRun(c)
			if err != nil {
				return err
			}
			for {
				jobs, err := currentJobs(c.Context, rec)
				if err != nil {
					return err
				}
				active := printStatus(os.Stdout, rec, jobs)
				if active == 0 {
					// Every job is over: make sure the contact sheet holds them all.
					if dest, err := storage.Open(c.Context, rec.Dest, storage.OpenOptions{}); err == nil {
						contactsheet.RebuildIndex(c.Context, dest)
					}
				}
				if !c.Bool("watch") || active == 0 {
					if failed := countState(jobs, "FAILED"); failed > 0 {
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

// jobState is one job's latest state, from Batch or from a local run's record.
type jobState struct {
	Name, Prefix, Status, Reason, LogStream string
	ExitCode                                *int
	ArraySize                               int
}

func currentJobs(ctx context.Context, rec *submit.Record) ([]jobState, error) {
	var out []jobState
	if rec.Executor != "batch" {
		for _, j := range rec.Jobs {
			out = append(out, jobState{Name: j.Name, Prefix: j.Parameters["prefix"], Status: j.Status, Reason: j.Reason, LogStream: j.Log, ExitCode: j.ExitCode, ArraySize: j.ArraySize})
		}
		return out, nil
	}
	client, err := batch.New(ctx, rec.Queue, "", 0)
	if err != nil {
		return nil, err
	}
	all, err := client.Jobs(ctx, "ql-"+rec.RunID+"-")
	if err != nil {
		return nil, err
	}
	latest := batch.Latest(all)
	for _, j := range rec.Jobs {
		s, ok := latest[j.Name]
		st := jobState{Name: j.Name, Prefix: j.Parameters["prefix"], Status: "UNKNOWN", ArraySize: j.ArraySize}
		if ok {
			st.Status, st.Reason, st.LogStream = s.Status, s.Reason, s.LogStream
			if s.ExitCode != nil {
				code := int(*s.ExitCode)
				st.ExitCode = &code
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func countState(jobs []jobState, state string) int {
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
func printStatus(w io.Writer, rec *submit.Record, jobs []jobState) int {
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
	done := counts["SUCCEEDED"] + counts["FAILED"]
	fmt.Fprintf(w, "run %s (%s, %s): %d jobs: %s\n", rec.RunID, rec.Executor, rec.Dest, len(jobs), strings.Join(parts, ", "))
	fmt.Fprintf(w, "%s %d/%d finished\n", barText(done, len(jobs), 30), done, len(jobs))
	for _, j := range jobs {
		if j.Status != "FAILED" {
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
	return len(jobs) - done - counts["UNKNOWN"]
}

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "resubmit (or rerun) only the failed jobs of a run",
		UsageText: "submit retry --run RUN --dest s3://THUMBS/ [--definition D]",
		Flags: runFlags(
			&cli.StringFlag{Name: "definition", EnvVars: env("DEFINITION"), Usage: "Batch job definition (batch runs)"},
			&cli.Float64Flag{Name: "submit-rate", Value: 40, Usage: "SubmitJob calls per second"},
			&cli.IntFlag{Name: "parallel", Value: 1, Usage: "jobs at once (local runs)"},
			&cli.IntFlag{Name: "attempts", Value: 3, Usage: "attempts per job (local runs)"},
			&cli.StringFlag{Name: "job-bin", Usage: "the job binary (local runs)"},
			&cli.StringFlag{Name: "log-dir", Usage: "where job output goes (local runs)"},
		),
		Action: func(c *cli.Context) error {
			rec, err := loadRun(c)
			if err != nil {
				return err
			}
			states, err := currentJobs(c.Context, rec)
			if err != nil {
				return err
			}
			failed := map[string]bool{}
			for _, s := range states {
				if s.Status == "FAILED" {
					failed[s.Name] = true
				}
			}
			var jobs []batch.Job
			for _, j := range rec.Jobs {
				if failed[j.Name] {
					jobs = append(jobs, j.Job)
				}
			}
			if len(jobs) == 0 {
				fmt.Printf("run %s: no failed jobs\n", rec.RunID)
				return nil
			}
			fmt.Fprintf(os.Stderr, "run %s: retrying %d failed jobs\n", rec.RunID, len(jobs))
			w := &submit.Work{Jobs: jobs}
			if rec.Executor == "batch" {
				if c.String("definition") == "" {
					return usageError{errors.New("retrying a Batch run needs --definition")}
				}
				client, err := batch.New(c.Context, rec.Queue, c.String("definition"), c.Float64("submit-rate"))
				if err != nil {
					return err
				}
				res, err := submit.SubmitBatch(c.Context, client, w, rec, func(int, int) {})
				if serr := submit.SaveRecord(context.WithoutCancel(c.Context), rec); err == nil {
					err = serr
				}
				if err != nil {
					return err
				}
				fmt.Printf("run %s: %d jobs resubmitted\n", rec.RunID, res.Submitted)
				return nil
			}
			return runLocal(c.Context, c, jobs, w, rec)
		},
	}
}

// bar draws one self-updating progress line on a terminal, and a plain
// line every 10 seconds (and at the end) otherwise.
type bar struct {
	label    string
	terminal bool
	last     time.Time
	shown    bool
	done     int
}

func newBar(label string) *bar {
	return &bar{label: label, terminal: logging.IsTerminal(os.Stderr), last: time.Now()}
}

func (b *bar) draw(done, total int, extra string) {
	b.done = done
	if b.terminal {
		if time.Since(b.last) < 100*time.Millisecond && done < total {
			return
		}
		b.last, b.shown = time.Now(), true
		fmt.Fprintf(os.Stderr, "\r%s %s %d/%d %s\033[K", b.label, barText(done, total, 30), done, total, extra)
		return
	}
	if time.Since(b.last) >= 10*time.Second || (done == total && !b.shown) {
		b.last = time.Now()
		b.shown = done == total
		fmt.Fprintf(os.Stderr, "%s: %d/%d %s\n", b.label, done, total, extra)
	}
}

func (b *bar) end() {
	if b.terminal && b.shown {
		fmt.Fprintln(os.Stderr)
	}
}

func barText(done, total, width int) string {
	filled := 0
	if total > 0 {
		filled = width * done / total
	}
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
}
