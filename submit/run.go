package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/contactsheet"
	"quicklook/internal/layout"
	"quicklook/internal/planner"
	"quicklook/internal/runspec"
	"quicklook/internal/storage"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "submit one job per prefix (or array jobs) to AWS Batch, or run them here",
		UsageText: "submit run --executor batch --queue Q --definition D --source s3://aws-naip --dest s3://THUMBS/ --requester-pays --array\n" +
			"   submit run --executor local --source ./data --dest ./thumbs --parallel 2",
		Flags: append(append(surveyFlags(),
			&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "where thumbnails go (required)"},
			&cli.StringFlag{Name: "from", Usage: "use the prefixes written by 'submit plan --output' instead of listing again"},
			&cli.BoolFlag{Name: "prune", Usage: "tell the jobs to delete thumbnails whose source is gone"},
			jobEnvFlag,
			&cli.BoolFlag{Name: "dry-run", Usage: "print the jobs (Batch requests, or local command lines) without sending or running them"},
		), executorFlags()...),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	cfg, err := configFrom(c)
	if err != nil {
		return err
	}
	if cfg.Dest == "" {
		return usageError{errors.New("--dest is required")}
	}
	if c.Bool("prune") {
		cfg.JobEnv["QUICKLOOK_PRUNE"] = "true"
	}
	if err := parseJobEnv(c, cfg.JobEnv); err != nil {
		return err
	}
	exec, err := newExecutor(c, c.String("executor"), c.String("queue"), c.String("definition"), !c.Bool("dry-run"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if !c.Bool("dry-run") {
		// Nothing is submitted on a bad start.
		if err := exec.Preflight(ctx); err != nil {
			return usageError{err}
		}
		if err := preflightStores(ctx, cfg); err != nil {
			return usageError{err}
		}
	}

	work, runID, forecast, err := plan(ctx, c, cfg)
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		out := map[string]any{"jobs": exec.DryRun(work)}
		locs := make([]string, 0, len(work.PlanFiles))
		for l := range work.PlanFiles {
			locs = append(locs, l)
		}
		sort.Strings(locs)
		out["plan_files"] = locs
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	if len(work.Jobs) == 0 {
		fmt.Println("nothing to run: no prefixes matched")
		return nil
	}
	rec, err := runspec.LoadRecord(ctx, cfg.Dest, runID)
	if err != nil {
		rec = &runspec.Record{RunID: runID, Source: cfg.Source, Dest: cfg.Dest}
	}
	if rec.Started.IsZero() {
		rec.Started = time.Now().UTC()
	}
	if forecast != nil {
		rec.Planned = forecast
	}
	rec.Executor = c.String("executor")
	return submit(ctx, exec, rec, work, "submitted")
}

// jobEnvFlag passes settings to every job; run and retry take it.
var jobEnvFlag = &cli.StringSliceFlag{Name: "job-env", Usage: "NAME=VALUE passed to every job, e.g. QUICKLOOK_BANDS=cir; repeatable"}

// parseJobEnv adds the --job-env settings to env.
func parseJobEnv(c *cli.Context, env map[string]string) error {
	for _, kv := range c.StringSlice("job-env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "QUICKLOOK_") {
			return usageError{fmt.Errorf("--job-env %q: want QUICKLOOK_NAME=VALUE", kv)}
		}
		if k == "QUICKLOOK_EXT" || k == runspec.EnvPlan || k == runspec.EnvShard || k == runspec.EnvRun {
			return usageError{fmt.Errorf("--job-env %q: set by the submitter (give --ext, which the plan counts with)", kv)}
		}
		env[k] = v
	}
	return nil
}

// preflightStores checks that the source can be listed (with the
// requester-pays setting) and that the destination takes writes: a probe
// object, written and removed.
func preflightStores(ctx context.Context, cfg planner.Config) error {
	src, err := storage.Open(ctx, cfg.Source, storage.OpenOptions{RequesterPays: cfg.RequesterPays})
	if err != nil {
		return fmt.Errorf("--source: %w", err)
	}
	errEnough := errors.New("enough")
	if err := src.List(ctx, cfg.Enumerate.Root, "/", func(storage.Entry) error { return errEnough }); err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("--source %s cannot be listed: %w", cfg.Source, err)
	}
	dst, err := storage.Open(ctx, cfg.Dest, storage.OpenOptions{Create: true})
	if err != nil {
		return fmt.Errorf("--dest: %w", err)
	}
	probe := layout.Dir + "probe-" + runspec.ShortHash(time.Now().String())
	if err := dst.Put(ctx, probe, []byte("quicklook checks it can write here"), storage.PutOptions{}); err != nil {
		return fmt.Errorf("--dest %s cannot be written: %w", cfg.Dest, err)
	}
	if err := dst.Delete(ctx, probe); err != nil {
		return fmt.Errorf("--dest %s: removing the probe %s: %w", cfg.Dest, probe, err)
	}
	return nil
}

// plan surveys the source (or reads a survey) and cuts the run into jobs;
// a counted run comes with its forecast.
func plan(ctx context.Context, c *cli.Context, cfg planner.Config) (*runspec.Work, string, *runspec.Forecast, error) {
	var inv *planner.Inventory
	if from := c.String("from"); from != "" {
		b, err := os.ReadFile(from)
		if err != nil {
			return nil, "", nil, usageError{err}
		}
		inv = &planner.Inventory{}
		if err := json.Unmarshal(b, inv); err != nil {
			return nil, "", nil, usageError{fmt.Errorf("--from %s: %w", from, err)}
		}
		if cfg.RunID != "" {
			inv.RunID = cfg.RunID
		}
	}
	var src storage.Store
	needCount := c.Bool("array")
	if inv == nil || (needCount && !inv.Counted) {
		fmt.Fprintf(os.Stderr, "listing prefixes of %s...\n", cfg.Source)
		fresh, st, err := planner.Survey(ctx, cfg, needCount)
		if err != nil {
			return nil, "", nil, err
		}
		if inv != nil {
			fresh.RunID = inv.RunID
		}
		inv, src = fresh, st
	}
	var work *runspec.Work
	var forecast *runspec.Forecast
	if inv.Counted {
		forecast = &runspec.Forecast{Objects: inv.Objects, Bytes: inv.Bytes}
		if inv.Estimate != nil {
			forecast.CostUSD = inv.Estimate.Cost.Total
		}
	}
	if c.Bool("array") {
		if src == nil {
			var err error
			if src, err = storage.Open(ctx, cfg.Source, storage.OpenOptions{RequesterPays: cfg.RequesterPays}); err != nil {
				return nil, "", nil, err
			}
		}
		packing, err := pack(ctx, c, cfg, inv, src)
		if err != nil {
			return nil, "", nil, err
		}
		printPacking(os.Stderr, packing)
		forecast.MakespanSeconds = packing.Makespan.Seconds()
		work = planner.Arrays(cfg, inv, packing)
	} else {
		work = planner.PerPrefix(cfg, inv)
	}
	fmt.Fprintf(os.Stderr, "run %s: %d jobs over %d prefixes\n", inv.RunID, len(work.Jobs), len(inv.Prefixes))
	return work, inv.RunID, forecast, nil
}

// submit hands the work to the executor, saves the run record and says
// what happened and what to do next.
func submit(ctx context.Context, exec runspec.Executor, rec *runspec.Record, work *runspec.Work, verb string) error {
	label := "submitting"
	if rec.Executor == "local" {
		label = "jobs"
	}
	line := newLine(label)
	started := time.Now()
	out, err := exec.Submit(ctx, rec, work, line.Update)
	line.End()
	if serr := rec.Save(context.WithoutCancel(ctx)); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if !out.Finished {
		fmt.Printf("run %s: %d jobs %s, %d already queued, running or done\n", rec.RunID, out.Submitted, verb, out.Skipped)
		fmt.Printf("watch it: submit status --run %s --dest %s --watch\n", rec.RunID, rec.Dest)
		return nil
	}
	rebuildContactSheet(ctx, rec.Dest, time.Time{})
	fmt.Printf("run %s: %d of %d jobs succeeded in %.1fs; logs in %s\n", rec.RunID, len(work.Jobs)-len(out.Failed), len(work.Jobs),
		time.Since(started).Seconds(), out.Logs)
	for _, f := range out.Failed {
		what := "prefix " + f.Parameters["prefix"]
		if f.ArraySize > 0 || f.Env[runspec.EnvPlan] != "" {
			what = "plan " + f.Env[runspec.EnvPlan]
		}
		fmt.Printf("  failed %s (%s): %s; log %s\n", f.Name, what, f.Reason, f.Log)
	}
	if len(out.Failed) > 0 {
		return cli.Exit(fmt.Sprintf("%d jobs failed: 'submit retry --run %s --dest %s' reruns them", len(out.Failed), rec.RunID, rec.Dest), 1)
	}
	return nil
}

// rebuildContactSheet makes the front page hold every job of the
// destination once a run's jobs have ended, unless it was written after
// unlessAfter (the last job's finish; zero: rebuild).
func rebuildContactSheet(ctx context.Context, dest string, unlessAfter time.Time) {
	st, err := storage.Open(ctx, dest, storage.OpenOptions{})
	if err != nil {
		return
	}
	if !unlessAfter.IsZero() && !contactsheet.IndexBefore(ctx, st, unlessAfter) {
		fmt.Printf("contact sheet: %s%s\n", st.URL(), contactsheet.Index)
		return
	}
	if err := contactsheet.RebuildIndex(ctx, st); err == nil {
		fmt.Printf("contact sheet: %s%s\n", st.URL(), contactsheet.Index)
	}
}
