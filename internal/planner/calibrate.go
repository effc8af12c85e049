package planner

import (
	"context"
	"fmt"
	"strings"

	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/planfile"
	"quicklook/internal/pricing"
	"quicklook/internal/runspec"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

// CalibrationWork makes the work that renders n images of each counted
// prefix, picked evenly through its listing, into scratch (a destination
// location): one shard a prefix, each image a one-key range.
func CalibrationWork(ctx context.Context, cfg Config, inv *Inventory, src storage.Store, n int, scratch string) (*runspec.Work, error) {
	var counted []string
	for _, s := range inv.Prefixes {
		if s.Objects > 0 {
			counted = append(counted, s.Prefix)
		}
	}
	shards, err := forEach(ctx, counted, listParallel(cfg), func(prefix string) ([]planfile.Shard, error) {
		var keys []string
		err := src.List(ctx, prefix, "", func(e storage.Entry) error {
			if cfg.Filter.Kind(prefix, e.Key) == sources.Image {
				keys = append(keys, e.Key)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", prefix, err)
		}
		var sh planfile.Shard
		for i := 0; i < min(n, len(keys)); i++ {
			k := keys[i*len(keys)/min(n, len(keys))]
			sh.Ranges = append(sh.Ranges, planfile.Range{Prefix: k, Until: k})
			sh.Objects++
		}
		return []planfile.Shard{sh}, nil
	})
	if err != nil {
		return nil, err
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("no images to calibrate with")
	}
	loc := layout.At(scratch, "plan.json")
	filter := cfg.Filter
	w := &runspec.Work{PlanFiles: map[string]*planfile.Plan{loc: {Version: planfile.Version, RunID: "calibrate",
		Source: cfg.Source, Dest: scratch, Filter: &filter, Shards: shards}}}
	w.Jobs = []runspec.Job{sharded(runspec.Job{Name: runspec.JobName("calibrate", "samples", scratch),
		Parameters: map[string]string{"source": cfg.Source, "prefix": "", "dest": scratch}, Env: cfg.JobEnv}, loc, len(shards))}
	return w, nil
}

// ScratchSamples reads what the calibration renders cost, by prefix.
func ScratchSamples(ctx context.Context, scratch storage.Store, prefixes []string) (map[string][]Sample, error) {
	out := map[string][]Sample{}
	err := scratch.List(ctx, layout.ManifestsDir, "", func(e storage.Entry) error {
		if !strings.HasSuffix(e.Key, ".jsonl") {
			return nil
		}
		return addSamples(ctx, scratch, e.Key, prefixes, out)
	})
	return out, err
}

// RunSamples reads what an earlier run's images cost, from every manifest
// of its jobs under dest (reruns that found everything up to date carry
// no cost: only rendered images count).
func RunSamples(ctx context.Context, dest storage.Store, rec *runspec.Record, prefixes []string) (map[string][]Sample, error) {
	out := map[string][]Sample{}
	jobs := map[string]bool{}
	for _, j := range rec.Jobs {
		if loc := j.Env[runspec.EnvPlan]; loc != "" {
			p, err := runspec.ReadPlan(ctx, loc)
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", j.Name, err)
			}
			for _, s := range p.Shards {
				jobs[s.JobName()] = true
			}
			continue
		}
		jobs[layout.JobName(j.Parameters["prefix"])] = true
	}
	for job := range jobs {
		err := dest.List(ctx, layout.ManifestDir(job), "/", func(e storage.Entry) error {
			if e.CommonPrefix != "" || !strings.HasSuffix(e.Key, ".jsonl") {
				return nil
			}
			return addSamples(ctx, dest, e.Key, prefixes, out)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func addSamples(ctx context.Context, st storage.Store, key string, prefixes []string, out map[string][]Sample) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	recs, _, err := manifest.Parse(rc)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Status != manifest.Created && r.Status != manifest.Updated {
			continue
		}
		p := ""
		for _, pr := range prefixes {
			if strings.HasPrefix(r.Key, pr) && len(pr) > len(p) {
				p = pr
			}
		}
		out[p] = append(out[p], SampleOf(p, r))
	}
	return nil
}

// Pooled is every prefix's samples together, for prefixes that have none.
func Pooled(samples map[string][]Sample) []Sample {
	var all []Sample
	for _, s := range samples {
		all = append(all, s...)
	}
	return all
}

// EstimateAll predicts every prefix from its own samples (or, lacking any,
// from all samples), and the total; basis names the samples' origin.
func EstimateAll(inv *Inventory, samples map[string][]Sample, prices pricing.Prices, secondsPerImage float64, outputs int, basis string) {
	pooled := Pooled(samples)
	inv.Estimates = map[string]Estimate{}
	total := Estimate{}
	for _, s := range inv.Prefixes {
		own, b := samples[s.Prefix], basis
		if len(own) == 0 && len(pooled) > 0 {
			own, b = pooled, basis+" (other prefixes' samples)"
		}
		if len(own) > 0 {
			b = fmt.Sprintf("%s: %d images rendered (%s)", b, len(own), Layouts(own))
		}
		e := Predict(s, own, prices, secondsPerImage, outputs, b)
		inv.Estimates[s.Prefix] = e
		total.Add(e)
	}
	total.Cost.PerThousand = 0
	if inv.Objects > 0 {
		total.Cost.PerThousand = total.Cost.Total / float64(inv.Objects) * 1000
	}
	total.Basis = fmt.Sprintf("%s: %d images rendered (%s)", basis, len(pooled), Layouts(pooled))
	if len(pooled) == 0 {
		total.Basis = fmt.Sprintf("a guess: %.2f vCPU-s and %d requests an image", secondsPerImage, 2+max(outputs, 1))
	}
	inv.Estimate = &total
}
