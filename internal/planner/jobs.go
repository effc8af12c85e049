package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"time"

	"quicklook/internal/planfile"
	"quicklook/internal/pricing"
	"quicklook/internal/runspec"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

// Config describes a run.
type Config struct {
	Source, Dest  string
	RequesterPays bool
	Enumerate     EnumerateOptions
	// Filter decides what is an image; every job of the run gets it.
	Filter sources.Filter
	// Prices price the estimates; SecondsPerImage (of one vCPU) is the guess
	// when no image was measured.
	Prices          pricing.Prices
	SecondsPerImage float64
	RunID           string
	// JobEnv is passed to every job (QUICKLOOK_* settings such as profiles).
	JobEnv map[string]string
	// Outputs is how many thumbnails an image makes (its writes).
	Outputs int
}

// Inventory is what a run would cover: its prefixes and, counted, what they
// hold. 'submit plan --output' writes it and 'submit run --from' reads it.
type Inventory struct {
	RunID    string  `json:"run_id"`
	Prefixes []Sized `json:"prefixes"`
	Counted  bool    `json:"counted"`
	Objects  int     `json:"objects"`
	Bytes    int64   `json:"bytes"`
	// Estimate is the run's predicted cost, Estimates each prefix's (see
	// EstimateAll): measured when images were sampled, else a guess.
	Estimate  *Estimate           `json:"estimate,omitempty"`
	Estimates map[string]Estimate `json:"estimates,omitempty"`
}

// Survey enumerates the prefixes; with count, it also counts images and
// bytes and estimates the cost. It returns the opened source for the
// splitting that array jobs need.
func Survey(ctx context.Context, cfg Config, count bool) (*Inventory, storage.Store, error) {
	src, err := storage.Open(ctx, cfg.Source, storage.OpenOptions{RequesterPays: cfg.RequesterPays})
	if err != nil {
		return nil, nil, err
	}
	prefixes, err := Enumerate(ctx, src, cfg.Enumerate)
	if err != nil {
		return nil, nil, fmt.Errorf("listing prefixes of %s: %w", cfg.Source, err)
	}
	inv := &Inventory{RunID: cfg.RunID, Counted: count}
	if !count {
		for _, pr := range prefixes {
			inv.Prefixes = append(inv.Prefixes, Sized{Range: planfile.Range{Prefix: pr}})
		}
	} else {
		inv.Prefixes, err = Count(ctx, src, prefixes, cfg.Filter, cfg.Enumerate.Parallel)
		if err != nil {
			return nil, nil, fmt.Errorf("counting objects: %w", err)
		}
		for _, s := range inv.Prefixes {
			inv.Objects += s.Objects
			inv.Bytes += s.Bytes
		}
		EstimateAll(inv, nil, cfg.Prices, cfg.SecondsPerImage, cfg.Outputs, "")
	}
	if inv.RunID == "" {
		inv.RunID = DefaultRunID(cfg, prefixes, time.Now())
	}
	return inv, src, nil
}

// DefaultRunID names a run by its day and inputs, so the same command run
// again the same day is the same run (and does not submit twice).
func DefaultRunID(cfg Config, prefixes []string, now time.Time) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", cfg.Source, cfg.Dest)
	for _, p := range prefixes {
		fmt.Fprintf(h, "%s\x00", p)
	}
	keys := make([]string, 0, len(cfg.JobEnv))
	for k := range cfg.JobEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, cfg.JobEnv[k])
	}
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(h.Sum(nil))[:6]
}

// PerPrefix makes one job per prefix.
func PerPrefix(cfg Config, inv *Inventory) *runspec.Work {
	w := &runspec.Work{PlanFiles: map[string]*planfile.Plan{}}
	env := jobEnv(cfg, inv.RunID)
	for _, s := range inv.Prefixes {
		w.Jobs = append(w.Jobs, runspec.Job{
			Name:       runspec.JobName(inv.RunID, s.Prefix, s.Prefix),
			Parameters: map[string]string{"source": cfg.Source, "prefix": s.Prefix, "dest": cfg.Dest},
			Tags:       map[string]string{"quicklook-run": inv.RunID, "quicklook-prefix": tagValue(s.Prefix)},
			Env:        env,
		})
	}
	return w
}

// Arrays makes one plan file per array job of up to runspec.MaxArraySize
// of the packing's shards, and the array jobs that read them. A plan of one
// shard is a plain job (Batch arrays have at least 2 children).
func Arrays(cfg Config, inv *Inventory, packing *Packing) *runspec.Work {
	shards := packing.Shards
	w := &runspec.Work{PlanFiles: map[string]*planfile.Plan{}}
	for k := 0; k*runspec.MaxArraySize < len(shards); k++ {
		part := shards[k*runspec.MaxArraySize : min((k+1)*runspec.MaxArraySize, len(shards))]
		loc := runspec.PlanLocation(cfg.Dest, inv.RunID, k)
		filter := cfg.Filter
		w.PlanFiles[loc] = &planfile.Plan{Version: planfile.Version, RunID: inv.RunID, Source: cfg.Source, Dest: cfg.Dest, Filter: &filter, Shards: part}
		w.Jobs = append(w.Jobs, sharded(runspec.Job{
			Name:       runspec.JobName(inv.RunID, fmt.Sprintf("array-%03d", k), loc),
			Parameters: map[string]string{"source": cfg.Source, "prefix": "", "dest": cfg.Dest},
			Tags:       map[string]string{"quicklook-run": inv.RunID, "quicklook-plan": tagValue(loc)},
			Env:        jobEnv(cfg, inv.RunID),
		}, loc, len(part)))
	}
	return w
}

// sharded makes j read the shards of the plan file at plan: an array job of
// one child a shard, or a plain job of shard 0 when there is one (Batch's
// arrays have two children at least). j's environment is copied.
func sharded(j runspec.Job, plan string, shards int) runspec.Job {
	env := map[string]string{}
	maps.Copy(env, j.Env)
	env[runspec.EnvPlan] = plan
	delete(env, runspec.EnvShard)
	j.Env, j.ArraySize = env, shards
	if shards == 1 {
		j.ArraySize = 0
		j.Env[runspec.EnvShard] = "0"
	}
	return j
}

// jobEnv is what every job of a run is given: the operator's settings and
// the run it belongs to.
func jobEnv(cfg Config, runID string) map[string]string {
	env := map[string]string{runspec.EnvRun: runID}
	for k, v := range cfg.JobEnv {
		env[k] = v
	}
	return env
}

// tagValue fits Batch's 256-character tag values.
func tagValue(s string) string {
	if len(s) <= 256 {
		return s
	}
	return s[:247] + "…" + runspec.ShortHash(s)
}
