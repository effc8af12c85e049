// Command submit plans a thumbnail run over many prefixes and runs it on AWS
// Batch or on this machine, then watches and retries it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/batch"
	"quicklook/internal/contactsheet"
	"quicklook/internal/localexec"
	"quicklook/internal/naming"
	"quicklook/internal/plan"
	"quicklook/internal/storage"
	"quicklook/internal/submit"
)

func main() {
	os.Exit(run(os.Args))
}

// usageError marks mistakes in the command line (exit 2).
type usageError struct{ error }

func env(name string) []string { return []string{"QUICKLOOK_" + name} }

func run(args []string) int {
	app := &cli.App{
		Name:  "submit",
		Usage: "plan a thumbnail run over many prefixes, run it on AWS Batch or here, watch and retry it",
		Description: "A run is one job per prefix (or array jobs over bin-packed shards) of the job\n" +
			"binary. Runs are named (--run-id, by default the day and a hash of the inputs),\n" +
			"so running the same command again submits only what is not queued, running or\n" +
			"done. Exit codes: 0 done, 1 some jobs failed, 2 usage or configuration error.",
		Commands:       []*cli.Command{planCommand(), runCommand(), statusCommand(), retryCommand()},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	err := app.Run(args)
	var ue usageError
	var ee cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.Error() != "" {
			fmt.Fprintln(os.Stderr, "submit:", ee.Error())
		}
		return ee.ExitCode()
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "submit:", err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "submit:", err)
		return 2
	}
}

func planFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "source", EnvVars: env("SOURCE"), Usage: "bucket or folder holding the imagery, e.g. s3://aws-naip"},
		&cli.StringFlag{Name: "root", EnvVars: env("ROOT"), Usage: "start below this prefix (default: the whole bucket)"},
		&cli.IntFlag{Name: "depth", EnvVars: env("DEPTH"), Value: 2, Usage: "prefix levels below --root, e.g. 2 for <state>/<year>/"},
		&cli.StringSliceFlag{Name: "include", EnvVars: env("INCLUDE"), Usage: "keep only prefixes matching this glob (e.g. 'al/*'); repeatable"},
		&cli.StringSliceFlag{Name: "exclude", EnvVars: env("EXCLUDE"), Usage: "drop prefixes matching this glob; repeatable (prefixes starting with . or _ are always skipped)"},
		&cli.BoolFlag{Name: "requester-pays", EnvVars: env("REQUESTER_PAYS"), Usage: "send x-amz-request-payer on source calls (and tell the jobs to)"},
		&cli.StringFlag{Name: "ext", EnvVars: env("EXT"), Value: strings.Join(naming.DefaultExtensions, ","), Usage: "extensions counted as images"},
		&cli.Float64Flag{Name: "seconds-per-image", EnvVars: env("SECONDS_PER_IMAGE"), Value: 0.5, Usage: "estimated render time of one image on one vCPU (for estimates and shard sizes)"},
		&cli.Float64Flag{Name: "vcpu-hour-price", EnvVars: env("VCPU_HOUR_PRICE"), Value: 0.015, Usage: "price of one Spot vCPU-hour in USD (for the cost estimate)"},
		&cli.IntFlag{Name: "list-parallel", Value: 8, Usage: "listings in flight while planning"},
		&cli.StringFlag{Name: "run-id", EnvVars: env("RUN_ID"), Usage: "name of the run (default: today's date and a hash of the inputs)"},
	}
}

func configFrom(c *cli.Context) (submit.Config, error) {
	cfg := submit.Config{
		Source: c.String("source"), Dest: c.String("dest"), RequesterPays: c.Bool("requester-pays"),
		Enumerate: plan.EnumerateOptions{Root: c.String("root"), Depth: c.Int("depth"), Include: c.StringSlice("include"),
			Exclude: c.StringSlice("exclude"), Parallel: c.Int("list-parallel")},
		SecondsPerImage: c.Float64("seconds-per-image"), PricePerVCPUHour: c.Float64("vcpu-hour-price"),
		RunID: c.String("run-id"), JobEnv: map[string]string{},
	}
	if cfg.Source == "" {
		return cfg, usageError{errors.New("--source is required")}
	}
	for _, e := range strings.Split(c.String("ext"), ",") {
		if e = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), ".")); e != "" {
			cfg.Extensions = append(cfg.Extensions, e)
		}
	}
	if cfg.RunID != "" && !batch.ValidName("ql-"+cfg.RunID) {
		return cfg, usageError{fmt.Errorf("--run-id %q: letters, digits, - and _ only", cfg.RunID)}
	}
	if cfg.RequesterPays {
		cfg.JobEnv["QUICKLOOK_REQUESTER_PAYS"] = "true"
	}
	return cfg, nil
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "list the prefixes a run would cover, with counts and an estimate",
		UsageText: "submit plan --source s3://aws-naip --depth 2 --requester-pays --count [--output plan.json]",
		Flags: append(planFlags(),
			&cli.BoolFlag{Name: "count", Usage: "count images and bytes per prefix (lists every object)"},
			&cli.StringFlag{Name: "output", Usage: "write the plan as JSON (for 'submit run --from')"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := configFrom(c)
			if err != nil {
				return err
			}
			p, _, err := submit.Plan(c.Context, cfg, c.Bool("count"))
			if err != nil {
				return err
			}
			printPlan(p, cfg)
			if out := c.String("output"); out != "" {
				b, _ := json.MarshalIndent(p, "", " ")
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Printf("plan written to %s\n", out)
			}
			return nil
		},
	}
}

func printPlan(p *submit.Planned, cfg submit.Config) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if p.Counted {
		fmt.Fprintln(w, "prefix\timages\tsize\tvCPU-hours\t")
		for _, s := range p.Prefixes {
			fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t\n", s.Prefix, s.Objects, human(s.Bytes), float64(s.Objects)*cfg.SecondsPerImage/3600)
		}
	} else {
		for _, s := range p.Prefixes {
			fmt.Fprintf(w, "%s\t\n", s.Prefix)
		}
	}
	w.Flush()
	fmt.Printf("\n%d prefixes", len(p.Prefixes))
	if p.Counted {
		fmt.Printf(", %d images, %s; about %.1f vCPU-hours, $%.2f at $%.3f per vCPU-hour (%.2f s per image)",
			p.Objects, human(p.Bytes), p.VCPUHours, p.Cost, cfg.PricePerVCPUHour, cfg.SecondsPerImage)
	}
	fmt.Println()
}

func human(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "submit one job per prefix (or array jobs) to AWS Batch, or run them here",
		UsageText: "submit run --executor batch --queue Q --definition D --source s3://aws-naip --dest s3://THUMBS/ --requester-pays --array\n" +
			"   submit run --executor local --source ./data --dest ./thumbs --parallel 2",
		Flags: append(planFlags(),
			&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "where thumbnails go (required)"},
			&cli.StringFlag{Name: "executor", EnvVars: env("EXECUTOR"), Value: "local", Usage: "batch (AWS Batch) or local (this machine)"},
			&cli.StringFlag{Name: "queue", EnvVars: env("QUEUE"), Usage: "Batch job queue (batch executor)"},
			&cli.StringFlag{Name: "definition", EnvVars: env("DEFINITION"), Usage: "Batch job definition (batch executor)"},
			&cli.BoolFlag{Name: "array", Usage: "bin-pack prefixes by bytes (splitting huge ones) into array jobs instead of one job per prefix"},
			&cli.Float64Flag{Name: "shard-minutes", Value: 20, Usage: "target run time of one array child, at --seconds-per-image on --job-vcpus"},
			&cli.IntFlag{Name: "job-vcpus", Value: 1, Usage: "vCPUs of one job (the job definition's)"},
			&cli.StringFlag{Name: "from", Usage: "use a plan written by 'submit plan --output' instead of listing again"},
			&cli.StringSliceFlag{Name: "profile", Usage: "thumbnail profiles for the jobs (NAME:SIZE:FORMAT); default the job's"},
			&cli.BoolFlag{Name: "prune", Usage: "tell the jobs to delete thumbnails whose source is gone"},
			&cli.StringSliceFlag{Name: "job-env", Usage: "NAME=VALUE passed to every job, e.g. QUICKLOOK_BANDS=cir; repeatable"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the jobs (Batch requests) without sending or running them"},
			&cli.Float64Flag{Name: "submit-rate", Value: 40, Usage: "SubmitJob calls per second (Batch allows 50)"},
			&cli.IntFlag{Name: "parallel", Value: max(1, runtime.NumCPU()/2), Usage: "jobs at once (local executor)"},
			&cli.IntFlag{Name: "attempts", Value: 3, Usage: "attempts per job, retrying on exit 75 (local executor; Batch uses the job definition's)"},
			&cli.StringFlag{Name: "job-bin", Usage: "the job binary (local executor; default: job next to this binary)"},
			&cli.StringFlag{Name: "log-dir", Usage: "where job output goes (local executor; default quicklook-logs/RUN)"},
		),
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
	executor := c.String("executor")
	if executor != "batch" && executor != "local" {
		return usageError{fmt.Errorf("--executor %q: batch or local", executor)}
	}
	if executor == "batch" && (c.String("queue") == "" || c.String("definition") == "") && !c.Bool("dry-run") {
		return usageError{errors.New("--executor batch needs --queue and --definition")}
	}
	if ps := c.StringSlice("profile"); len(ps) > 0 {
		if _, err := naming.ParseProfiles(ps); err != nil {
			return usageError{err}
		}
		cfg.JobEnv["QUICKLOOK_PROFILE"] = strings.Join(ps, ",")
	}
	if c.Bool("prune") {
		cfg.JobEnv["QUICKLOOK_PRUNE"] = "true"
	}
	for _, kv := range c.StringSlice("job-env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "QUICKLOOK_") {
			return usageError{fmt.Errorf("--job-env %q: want QUICKLOOK_NAME=VALUE", kv)}
		}
		cfg.JobEnv[k] = v
	}
	perImage := cfg.SecondsPerImage / float64(max(1, c.Int("job-vcpus")))
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var p *submit.Planned
	if from := c.String("from"); from != "" {
		b, err := os.ReadFile(from)
		if err != nil {
			return usageError{err}
		}
		p = &submit.Planned{}
		if err := json.Unmarshal(b, p); err != nil {
			return usageError{fmt.Errorf("--from %s: %w", from, err)}
		}
		if cfg.RunID != "" {
			p.RunID = cfg.RunID
		}
	}
	var src storage.Store
	needCount := c.Bool("array")
	if p == nil || (needCount && !p.Counted) {
		fmt.Fprintf(os.Stderr, "listing prefixes of %s...\n", cfg.Source)
		p2, st, err := submit.Plan(ctx, cfg, needCount)
		if err != nil {
			return err
		}
		if p != nil {
			p2.RunID = p.RunID
		}
		p, src = p2, st
	}
	var work *submit.Work
	if c.Bool("array") {
		if src == nil {
			if src, err = storage.Open(ctx, cfg.Source, storage.OpenOptions{RequesterPays: cfg.RequesterPays}); err != nil {
				return err
			}
		}
		avgBytes := float64(p.Bytes) / float64(max(1, p.Objects))
		cfg.ShardBytes = max(1, int64(c.Float64("shard-minutes")*60/perImage*avgBytes))
		if work, err = submit.JobsArray(ctx, cfg, p, src); err != nil {
			return err
		}
	} else {
		work = submit.JobsPerPrefix(cfg, p)
	}
	fmt.Fprintf(os.Stderr, "run %s: %d jobs over %d prefixes\n", p.RunID, len(work.Jobs), len(p.Prefixes))
	if c.Bool("dry-run") {
		return dryRun(c, work)
	}
	if len(work.Jobs) == 0 {
		fmt.Println("nothing to run: no prefixes matched")
		return nil
	}
	rec, err := submit.LoadRecord(ctx, cfg.Dest, p.RunID)
	if err != nil {
		rec = &submit.Record{RunID: p.RunID, Source: cfg.Source, Dest: cfg.Dest}
	}
	rec.Executor = executor
	if executor == "batch" {
		return submitBatch(ctx, c, work, rec)
	}
	return runLocal(ctx, c, work.Jobs, work, rec)
}

func dryRun(c *cli.Context, w *submit.Work) error {
	out := map[string]any{"jobs": []any{}}
	var reqs []any
	for _, j := range w.Jobs {
		req := map[string]any{"jobName": j.Name, "jobQueue": c.String("queue"), "jobDefinition": c.String("definition"),
			"parameters": j.Parameters, "tags": j.Tags, "propagateTags": true}
		if j.ArraySize > 0 {
			req["arrayProperties"] = map[string]int{"size": j.ArraySize}
		}
		if len(j.Env) > 0 {
			req["containerOverrides"] = map[string]any{"environment": j.Env}
		}
		reqs = append(reqs, req)
	}
	out["jobs"] = reqs
	locs := make([]string, 0, len(w.PlanFiles))
	for l := range w.PlanFiles {
		locs = append(locs, l)
	}
	sort.Strings(locs)
	out["plan_files"] = locs
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	return nil
}

func submitBatch(ctx context.Context, c *cli.Context, w *submit.Work, rec *submit.Record) error {
	client, err := batch.New(ctx, c.String("queue"), c.String("definition"), c.Float64("submit-rate"))
	if err != nil {
		return err
	}
	rec.Queue = c.String("queue")
	bar := newBar("submitting")
	res, err := submit.SubmitBatch(ctx, client, w, rec, func(done, total int) { bar.draw(done, total, "") })
	bar.end()
	if serr := submit.SaveRecord(context.WithoutCancel(ctx), rec); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	fmt.Printf("run %s: %d jobs submitted, %d already queued, running or done\n", rec.RunID, res.Submitted, res.Skipped)
	fmt.Printf("watch it: submit status --run %s --dest %s --watch\n", rec.RunID, rec.Dest)
	return nil
}

func defaultJobBin() string {
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "job"); fileExists(p) {
			return p
		}
	}
	return "job"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func runLocal(ctx context.Context, c *cli.Context, jobs []batch.Job, w *submit.Work, rec *submit.Record) error {
	if err := w.WritePlans(ctx); err != nil {
		return err
	}
	jobBin := c.String("job-bin")
	if jobBin == "" {
		jobBin = defaultJobBin()
	}
	logDir := c.String("log-dir")
	if logDir == "" {
		logDir = filepath.Join("quicklook-logs", rec.RunID)
	}
	tasks := localexec.Tasks(jobs)
	bar := newBar("jobs")
	started := time.Now()
	results := localexec.Run(ctx, tasks, localexec.Options{JobBin: jobBin, Parallel: c.Int("parallel"), Attempts: c.Int("attempts"),
		LogDir: logDir, Queue: "local", Progress: func(n localexec.Counts) {
			bar.draw(n.Succeeded+n.Failed, n.Total, fmt.Sprintf("%d running, %d failed, %d retried", n.Running, n.Failed, n.Retries))
		}})
	bar.end()
	failed := mergeLocal(rec, jobs, results)
	if err := submit.SaveRecord(context.WithoutCancel(ctx), rec); err != nil {
		return err
	}
	if dest, err := storage.Open(ctx, rec.Dest, storage.OpenOptions{}); err == nil {
		if err := contactsheet.RebuildIndex(ctx, dest); err == nil {
			fmt.Printf("contact sheet: %s%s\n", dest.URL(), contactsheet.Index)
		}
	}
	fmt.Printf("run %s: %d of %d jobs succeeded in %.1fs; logs in %s\n", rec.RunID, len(jobs)-len(failed), len(jobs), time.Since(started).Seconds(), logDir)
	for _, f := range failed {
		fmt.Printf("  failed %s (%s): %s; log %s\n", f.Name, f.Parameters["prefix"], f.Reason, f.Log)
	}
	if len(failed) > 0 {
		return cli.Exit(fmt.Sprintf("%d jobs failed: 'submit retry --run %s --dest %s' reruns them", len(failed), rec.RunID, rec.Dest), 1)
	}
	return nil
}

// mergeLocal folds task results into the run record (an array job
// succeeds when all its children do) and returns the failed jobs.
func mergeLocal(rec *submit.Record, jobs []batch.Job, results []localexec.Result) []submit.JobRecord {
	byJob := map[string]*submit.JobRecord{}
	for _, j := range jobs {
		byJob[j.Name] = &submit.JobRecord{Job: j, ID: "local-" + j.Name, Status: "SUCCEEDED"}
	}
	for _, r := range results {
		jr := byJob[r.Job.Name]
		jr.Attempts = max(jr.Attempts, r.Attempts)
		if r.Status != "SUCCEEDED" {
			jr.Status = "FAILED"
			code := r.ExitCode
			jr.ExitCode = &code
			jr.Reason = r.Reason
			if r.Index >= 0 {
				jr.Reason = fmt.Sprintf("child %d: %s", r.Index, r.Reason)
			}
			jr.Log = r.Log
		} else if jr.Log == "" {
			jr.Log = r.Log
		}
	}
	index := map[string]int{}
	for i, j := range rec.Jobs {
		index[j.Name] = i
	}
	var failed []submit.JobRecord
	for _, j := range jobs {
		jr := *byJob[j.Name]
		if k, ok := index[j.Name]; ok {
			rec.Jobs[k] = jr
		} else {
			rec.Jobs = append(rec.Jobs, jr)
		}
		if jr.Status == "FAILED" {
			failed = append(failed, jr)
		}
	}
	return failed
}
