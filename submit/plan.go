package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/flagset"
	"quicklook/internal/layout"
	"quicklook/internal/localexec"
	"quicklook/internal/naming"
	"quicklook/internal/planner"
	"quicklook/internal/runspec"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

// surveyFlags choose what a run covers; plan and run take them.
func surveyFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "source", EnvVars: env("SOURCE"), Usage: "bucket or folder holding the imagery, e.g. s3://aws-naip"},
		&cli.StringFlag{Name: "root", EnvVars: env("ROOT"), Usage: "start below this prefix (default: the whole bucket)"},
		&cli.IntFlag{Name: "depth", EnvVars: env("DEPTH"), Value: 2, Usage: "prefix levels below --root, e.g. 2 for <state>/<year>/"},
		&cli.StringSliceFlag{Name: "include", EnvVars: env("INCLUDE"), Usage: "keep only prefixes matching this glob (e.g. 'al/*'); repeatable"},
		&cli.StringSliceFlag{Name: "exclude", EnvVars: env("EXCLUDE"), Usage: "drop prefixes matching this glob; repeatable (folders starting with . or _ are always skipped)"},
		&cli.BoolFlag{Name: "requester-pays", EnvVars: env("REQUESTER_PAYS"), Usage: "send x-amz-request-payer on source calls (and tell the jobs to)"},
		&cli.StringFlag{Name: "ext", EnvVars: env("EXT"), Value: strings.Join(sources.DefaultExtensions, ","), Usage: "extensions of the images to count and render (every job gets the same list)"},
		&cli.StringSliceFlag{Name: "profile", EnvVars: env("PROFILE"), Usage: "thumbnail profiles for the jobs (NAME:SIZE:FORMAT); default the job's (" + naming.DefaultProfile.String() + ")"},
		flagset.ProfilesFlag(),
		&cli.Float64Flag{Name: "seconds-per-image", EnvVars: env("SECONDS_PER_IMAGE"), Value: 0.5, Usage: "the guess of one image's vCPU-seconds, when no image was measured (see plan --calibrate, --from-run)"},
		&cli.IntFlag{Name: "list-parallel", Value: 8, Usage: "listings in flight while planning"},
		&cli.BoolFlag{Name: "array", Usage: "array jobs: the counted prefixes packed by predicted cost (huge ones split by key range) into children of about --shard-minutes each"},
		&cli.Float64Flag{Name: "shard-minutes", Value: 20, Usage: "predicted run time of one array child on --job-vcpus"},
		&cli.IntFlag{Name: "job-vcpus", Value: 1, Usage: "vCPUs of one job (the job definition's)"},
		&cli.IntFlag{Name: "max-vcpus", Value: 256, Usage: "vCPUs the run may use at once (the compute environment's): the wall time is predicted at it"},
		&cli.StringFlag{Name: "run-id", EnvVars: env("RUN_ID"), Usage: "name of the run (default: today's date and a hash of the inputs)"},
	}, flagset.Prices()...)
}

// configFrom reads the run's description from the flags. Everything that
// decides what the jobs render goes into JobEnv, so every job gets it.
func configFrom(c *cli.Context) (planner.Config, error) {
	cfg := planner.Config{
		Source: c.String("source"), Dest: c.String("dest"), RequesterPays: c.Bool("requester-pays"),
		Enumerate: planner.EnumerateOptions{Root: c.String("root"), Depth: c.Int("depth"), Include: c.StringSlice("include"),
			Exclude: c.StringSlice("exclude"), Parallel: c.Int("list-parallel")},
		SecondsPerImage: c.Float64("seconds-per-image"), RunID: c.String("run-id"), JobEnv: map[string]string{},
	}
	if cfg.Source == "" {
		return cfg, usageError{errors.New("--source is required")}
	}
	// Checked before any listing: planning NAIP lists 1.3 M keys first.
	if c.Bool("array") && (c.Float64("shard-minutes") <= 0 || c.Int("job-vcpus") < 1 || c.Int("max-vcpus") < c.Int("job-vcpus")) {
		return cfg, usageError{errors.New("--shard-minutes must be positive and --max-vcpus at least --job-vcpus (at least 1)")}
	}
	var err error
	if cfg.Prices, err = flagset.PricesFrom(c); err != nil {
		return cfg, usageError{err}
	}
	if cfg.RunID != "" && !runspec.ValidRunID(cfg.RunID) {
		return cfg, usageError{fmt.Errorf("--run-id %q: letters, digits, - and _ only", cfg.RunID)}
	}
	profiles, err := flagset.ProfilesFrom(c, "profile")
	if err != nil {
		return cfg, usageError{err}
	}
	cfg.Outputs = len(profiles)
	switch {
	case c.String("profiles") != "":
		// Every job gets the same definition, checked here once.
		cfg.JobEnv["QUICKLOOK_PROFILES"] = naming.ProfilesJSON(profiles)
		if n := len(cfg.JobEnv["QUICKLOOK_PROFILES"]); n > maxProfilesBytes {
			return cfg, usageError{fmt.Errorf("--profiles: %d outputs take %d bytes, over the %d a Batch request can carry to every job", len(profiles), n, maxProfilesBytes)}
		}
	case len(c.StringSlice("profile")) > 0:
		cfg.JobEnv["QUICKLOOK_PROFILE"] = strings.Join(c.StringSlice("profile"), ",")
	}
	if cfg.Filter, err = sources.New(c.String("ext"), profiles); err != nil {
		return cfg, usageError{fmt.Errorf("--ext: %w", err)}
	}
	cfg.JobEnv["QUICKLOOK_EXT"] = cfg.Filter.ExtensionList()
	// Each job writes its page; the index is rebuilt once, when the run is over.
	cfg.JobEnv["QUICKLOOK_CONTACT_SHEET"] = "page"
	if cfg.RequesterPays {
		cfg.JobEnv["QUICKLOOK_REQUESTER_PAYS"] = "true"
	}
	return cfg, nil
}

// maxProfilesBytes keeps a job's request, profiles included, well under
// Batch's 30 KiB SubmitJob limit (about 150 bytes an output).
const maxProfilesBytes = 16 << 10

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "list the prefixes a run would cover, with counts and what it would cost",
		UsageText: "submit plan --source s3://aws-naip --depth 2 --requester-pays --count [--output plan.json]\n" +
			"   submit plan --source s3://aws-naip --depth 2 --requester-pays --calibrate 3 --dest s3://THUMBS/\n" +
			"   submit plan --source s3://aws-naip --depth 2 --requester-pays --from-run RUN --dest s3://THUMBS/",
		Description: "With --count, each prefix's images are counted and the run is priced: requests by kind,\n" +
			"vCPU-hours, dollars and the wall time at --max-vcpus. The prediction is measured, not guessed,\n" +
			"with --calibrate N (N images of each prefix rendered here into a scratch folder under --dest,\n" +
			"removed afterwards, and extrapolated by layout and bytes) or --from-run RUN (the manifests of an\n" +
			"earlier run under --dest); otherwise it rests on --seconds-per-image, and says it is a guess.",
		Flags: append(surveyFlags(),
			&cli.BoolFlag{Name: "count", Usage: "count images and bytes per prefix (lists every object) and price the run"},
			&cli.StringFlag{Name: "output", Usage: "write the prefixes, counts and estimates as JSON, for 'submit run --from'"},
			&cli.IntFlag{Name: "calibrate", Usage: "render N images of each prefix (here, into a scratch folder under --dest) to measure the costs (implies --count)"},
			&cli.StringFlag{Name: "from-run", Usage: "measure the costs from the manifests of this earlier run under --dest (implies --count)"},
			&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "the destination: where --calibrate renders its samples, where --from-run's manifests are"},
			&cli.StringFlag{Name: "job-bin", Usage: "the job binary for --calibrate (default: job next to this binary)"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := configFrom(c)
			if err != nil {
				return err
			}
			measured := c.Int("calibrate") > 0 || c.String("from-run") != ""
			if measured && c.String("dest") == "" {
				return usageError{errors.New("--calibrate and --from-run need --dest")}
			}
			if c.Int("max-vcpus") < 1 {
				return usageError{errors.New("--max-vcpus must be at least 1")}
			}
			inv, src, err := planner.Survey(c.Context, cfg, c.Bool("count") || measured || c.Bool("array"))
			if err != nil {
				return err
			}
			switch {
			case c.Int("calibrate") > 0:
				if err := calibrate(c, cfg, inv, src); err != nil {
					return err
				}
			case c.String("from-run") != "":
				if err := fromRun(c, cfg, inv); err != nil {
					return err
				}
			}
			printInventory(inv, c.Int("max-vcpus"))
			if c.Bool("array") {
				packing, err := pack(c.Context, c, cfg, inv, src)
				if err != nil {
					return err
				}
				printPacking(os.Stdout, packing)
			}
			if out := c.String("output"); out != "" {
				b, _ := json.MarshalIndent(inv, "", " ")
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Printf("plan written to %s\n", out)
			}
			return nil
		},
	}
}

// calibrate renders N images of each prefix into a scratch folder under the
// destination with the local executor, prices the run from what they cost,
// and removes the scratch folder.
func calibrate(c *cli.Context, cfg planner.Config, inv *planner.Inventory, src storage.Store) error {
	ctx := c.Context
	scratch := layout.At(c.String("dest"), layout.CalibrateDir(time.Now().UTC().Format("20060102T150405")))
	st, err := storage.Open(ctx, scratch, storage.OpenOptions{Create: true})
	if err != nil {
		return err
	}
	defer func() {
		var keys []string
		st.List(context.WithoutCancel(ctx), "", "", func(e storage.Entry) error {
			keys = append(keys, e.Key)
			return nil
		})
		if err := st.Delete(context.WithoutCancel(ctx), keys...); err != nil {
			fmt.Fprintf(os.Stderr, "submit: removing the samples under %s: %v\n", scratch, err)
		}
		if local, ok := st.(*storage.Local); ok {
			os.RemoveAll(local.Root()) // the folder's own bookkeeping
			os.Remove(filepath.Dir(local.Root()))
		}
	}()
	work, err := planner.CalibrationWork(ctx, cfg, inv, src, c.Int("calibrate"), scratch)
	if err != nil {
		return err
	}
	jobBin := c.String("job-bin")
	if jobBin == "" {
		jobBin = defaultJobBin()
	}
	logs, err := os.MkdirTemp("", "quicklook-calibrate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(logs)
	fmt.Fprintf(os.Stderr, "calibrating: rendering up to %d images of each prefix into %s\n", c.Int("calibrate"), scratch)
	exec := &localexec.Executor{Options: localexec.Options{JobBin: jobBin, Parallel: 1, Attempts: 1, LogDir: logs}}
	line := newLine("calibrating")
	out, err := exec.Submit(ctx, &runspec.Record{RunID: "calibrate"}, work, line.Update)
	line.End()
	if err != nil {
		return err
	}
	if len(out.Failed) > 0 {
		b, _ := os.ReadFile(out.Failed[0].Log)
		return fmt.Errorf("calibration renders failed (%s):\n%s", out.Failed[0].Reason, b)
	}
	samples, err := planner.ScratchSamples(ctx, st, prefixesOf(inv))
	if err != nil {
		return err
	}
	planner.EstimateAll(inv, samples, cfg.Prices, cfg.SecondsPerImage, cfg.Outputs, "calibrated")
	return nil
}

// fromRun prices the run from the manifests of an earlier one.
func fromRun(c *cli.Context, cfg planner.Config, inv *planner.Inventory) error {
	rec, err := runspec.LoadRecord(c.Context, c.String("dest"), c.String("from-run"))
	if err != nil {
		return usageError{err}
	}
	dst, err := storage.Open(c.Context, c.String("dest"), storage.OpenOptions{})
	if err != nil {
		return err
	}
	samples, err := planner.RunSamples(c.Context, dst, rec, prefixesOf(inv))
	if err != nil {
		return err
	}
	planner.EstimateAll(inv, samples, cfg.Prices, cfg.SecondsPerImage, cfg.Outputs, "from run "+rec.RunID)
	return nil
}

func prefixesOf(inv *planner.Inventory) []string {
	var out []string
	for _, s := range inv.Prefixes {
		out = append(out, s.Prefix)
	}
	return out
}

func printInventory(inv *planner.Inventory, maxVCPUs int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if inv.Counted {
		fmt.Fprintln(w, "prefix\timages\tsize\trequests\tvCPU-hours\tUSD\t")
		for _, s := range inv.Prefixes {
			e := inv.Estimates[s.Prefix]
			fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%.3f\t%s\t\n", s.Prefix, s.Objects, human(s.Bytes), e.Requests.Total(), e.VCPUHours, usd(e.Cost.Total))
		}
	} else {
		for _, s := range inv.Prefixes {
			fmt.Fprintf(w, "%s\t\n", s.Prefix)
		}
	}
	w.Flush()
	fmt.Printf("\n%d prefixes", len(inv.Prefixes))
	if inv.Counted && inv.Estimate != nil {
		e := inv.Estimate
		fmt.Printf(", %d images, %s\n", inv.Objects, human(inv.Bytes))
		r := e.Requests
		fmt.Printf("predicted: %d requests (%d GET, %d HEAD, %d PUT, %d LIST), %.3f vCPU-hours (%.3f CPU-hours rendering)\n",
			r.Total(), r.GET, r.HEAD, r.PUT, r.LIST, e.VCPUHours, e.CPUSeconds/3600)
		fmt.Printf("cost: %s (%s requests, %s compute)", usd(e.Cost.Total), usd(e.Cost.Requests), usd(e.Cost.Compute))
		if inv.Objects > 0 {
			fmt.Printf(", $%.4f per 1,000 thumbnails", e.Cost.PerThousand)
		}
		fmt.Printf("\nwall time at %d vCPUs: %s\n", maxVCPUs, (time.Duration(e.VCPUHours / float64(maxVCPUs) * float64(time.Hour))).Round(time.Second))
		fmt.Printf("basis: %s\n", e.Basis)
		return
	}
	fmt.Println()
}

// pack cuts the counted run into array children by predicted cost.
func pack(ctx context.Context, c *cli.Context, cfg planner.Config, inv *planner.Inventory, src storage.Store) (*planner.Packing, error) {
	return planner.PackByCost(ctx, inv, src, cfg, c.Float64("shard-minutes"), c.Int("job-vcpus"), c.Int("max-vcpus"))
}

func printPacking(w io.Writer, p *planner.Packing) {
	arrays := (len(p.Shards) + runspec.MaxArraySize - 1) / runspec.MaxArraySize
	fmt.Fprintf(w, "array children: %d in %d array jobs; a child %s at the median, %s the longest; wall time at %d vCPUs (%d a job): %s\n",
		len(p.Shards), arrays, p.Median.Round(time.Second), p.Longest.Round(time.Second), p.MaxVCPUs, p.JobVCPUs, p.Makespan.Round(time.Second))
}

// usd shows dollars with cents, or with the digits a small sum needs.
func usd(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("$%.6f", v)
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
