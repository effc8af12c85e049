package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"quicklook/internal/naming"
	"quicklook/internal/planner"
	"quicklook/internal/runspec"
	"quicklook/internal/sources"
)

// surveyFlags choose what a run covers; plan and run take them.
func surveyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "source", EnvVars: env("SOURCE"), Usage: "bucket or folder holding the imagery, e.g. s3://aws-naip"},
		&cli.StringFlag{Name: "root", EnvVars: env("ROOT"), Usage: "start below this prefix (default: the whole bucket)"},
		&cli.IntFlag{Name: "depth", EnvVars: env("DEPTH"), Value: 2, Usage: "prefix levels below --root, e.g. 2 for <state>/<year>/"},
		&cli.StringSliceFlag{Name: "include", EnvVars: env("INCLUDE"), Usage: "keep only prefixes matching this glob (e.g. 'al/*'); repeatable"},
		&cli.StringSliceFlag{Name: "exclude", EnvVars: env("EXCLUDE"), Usage: "drop prefixes matching this glob; repeatable (folders starting with . or _ are always skipped)"},
		&cli.BoolFlag{Name: "requester-pays", EnvVars: env("REQUESTER_PAYS"), Usage: "send x-amz-request-payer on source calls (and tell the jobs to)"},
		&cli.StringFlag{Name: "ext", EnvVars: env("EXT"), Value: strings.Join(sources.DefaultExtensions, ","), Usage: "extensions of the images to count and render (every job gets the same list)"},
		&cli.StringSliceFlag{Name: "profile", EnvVars: env("PROFILE"), Usage: "thumbnail profiles for the jobs (NAME:SIZE:FORMAT); default the job's (" + naming.DefaultProfile.String() + ")"},
		&cli.Float64Flag{Name: "seconds-per-image", EnvVars: env("SECONDS_PER_IMAGE"), Value: 0.5, Usage: "estimated render time of one image on one vCPU (for estimates and shard sizes)"},
		&cli.Float64Flag{Name: "vcpu-hour-price", EnvVars: env("VCPU_HOUR_PRICE"), Value: 0.015, Usage: "price of one Spot vCPU-hour in USD (for the cost estimate)"},
		&cli.IntFlag{Name: "list-parallel", Value: 8, Usage: "listings in flight while planning"},
		&cli.StringFlag{Name: "run-id", EnvVars: env("RUN_ID"), Usage: "name of the run (default: today's date and a hash of the inputs)"},
	}
}

// configFrom reads the run's description from the flags. Everything that
// decides what the jobs render goes into JobEnv, so every job gets it.
func configFrom(c *cli.Context) (planner.Config, error) {
	cfg := planner.Config{
		Source: c.String("source"), Dest: c.String("dest"), RequesterPays: c.Bool("requester-pays"),
		Enumerate: planner.EnumerateOptions{Root: c.String("root"), Depth: c.Int("depth"), Include: c.StringSlice("include"),
			Exclude: c.StringSlice("exclude"), Parallel: c.Int("list-parallel")},
		SecondsPerImage: c.Float64("seconds-per-image"), PricePerVCPUHour: c.Float64("vcpu-hour-price"),
		RunID: c.String("run-id"), JobEnv: map[string]string{},
	}
	if cfg.Source == "" {
		return cfg, usageError{errors.New("--source is required")}
	}
	if cfg.RunID != "" && !runspec.ValidRunID(cfg.RunID) {
		return cfg, usageError{fmt.Errorf("--run-id %q: letters, digits, - and _ only", cfg.RunID)}
	}
	specs := c.StringSlice("profile")
	profiles, err := naming.ParseProfiles(specs)
	if err != nil {
		return cfg, usageError{err}
	}
	if len(specs) > 0 {
		cfg.JobEnv["QUICKLOOK_PROFILE"] = strings.Join(specs, ",")
	}
	if cfg.Filter, err = sources.New(c.String("ext"), profiles); err != nil {
		return cfg, usageError{fmt.Errorf("--ext: %w", err)}
	}
	cfg.JobEnv["QUICKLOOK_EXT"] = cfg.Filter.ExtensionList()
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
		Flags: append(surveyFlags(),
			&cli.BoolFlag{Name: "count", Usage: "count images and bytes per prefix (lists every object)"},
			&cli.StringFlag{Name: "output", Usage: "write the prefixes (and counts) as JSON, for 'submit run --from'"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := configFrom(c)
			if err != nil {
				return err
			}
			inv, _, err := planner.Survey(c.Context, cfg, c.Bool("count"))
			if err != nil {
				return err
			}
			printInventory(inv, cfg)
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

func printInventory(inv *planner.Inventory, cfg planner.Config) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if inv.Counted {
		fmt.Fprintln(w, "prefix\timages\tsize\tvCPU-hours\t")
		for _, s := range inv.Prefixes {
			fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t\n", s.Prefix, s.Objects, human(s.Bytes), float64(s.Objects)*cfg.SecondsPerImage/3600)
		}
	} else {
		for _, s := range inv.Prefixes {
			fmt.Fprintf(w, "%s\t\n", s.Prefix)
		}
	}
	w.Flush()
	fmt.Printf("\n%d prefixes", len(inv.Prefixes))
	if inv.Counted {
		fmt.Printf(", %d images, %s; about %.1f vCPU-hours, $%.2f at $%.3f per vCPU-hour (%.2f s per image)",
			inv.Objects, human(inv.Bytes), inv.VCPUHours, inv.Cost, cfg.PricePerVCPUHour, cfg.SecondsPerImage)
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
