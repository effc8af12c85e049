// Package submit plans a run over many prefixes and hands its jobs to an
// executor: AWS Batch, or this machine (see package localexec). Both run the
// same job specs, so a local run rehearses a Batch run exactly.
package submit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"quicklook/internal/batch"
	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/plan"
	"quicklook/internal/storage"
)

// Config describes a run.
type Config struct {
	Source, Dest  string
	RequesterPays bool
	Enumerate     plan.EnumerateOptions
	Extensions    []string
	// Estimates: render time per image on one vCPU, and its price.
	SecondsPerImage  float64
	PricePerVCPUHour float64
	// ShardBytes is the bin-packing target of one array child.
	ShardBytes int64
	RunID      string
	// JobEnv is passed to every job (QUICKLOOK_* settings such as profiles).
	JobEnv map[string]string
}

// Planned is what a run would do.
type Planned struct {
	RunID     string       `json:"run_id"`
	Prefixes  []plan.Sized `json:"prefixes"`
	Counted   bool         `json:"counted"`
	Objects   int          `json:"objects"`
	Bytes     int64        `json:"bytes"`
	VCPUHours float64      `json:"vcpu_hours"`
	Cost      float64      `json:"cost"`
}

// Plan enumerates the prefixes; with count, it also counts images and bytes
// and estimates the cost.
func Plan(ctx context.Context, cfg Config, count bool) (*Planned, storage.Store, error) {
	src, err := storage.Open(ctx, cfg.Source, storage.OpenOptions{RequesterPays: cfg.RequesterPays})
	if err != nil {
		return nil, nil, err
	}
	prefixes, err := plan.Enumerate(ctx, src, cfg.Enumerate)
	if err != nil {
		return nil, nil, fmt.Errorf("listing prefixes of %s: %w", cfg.Source, err)
	}
	p := &Planned{RunID: cfg.RunID, Counted: count}
	if !count {
		for _, pr := range prefixes {
			p.Prefixes = append(p.Prefixes, plan.Sized{Range: plan.Range{Prefix: pr}})
		}
	} else {
		p.Prefixes, err = plan.Count(ctx, src, prefixes, cfg.isImage, cfg.Enumerate.Parallel)
		if err != nil {
			return nil, nil, fmt.Errorf("counting objects: %w", err)
		}
		for _, s := range p.Prefixes {
			p.Objects += s.Objects
			p.Bytes += s.Bytes
		}
		p.VCPUHours = float64(p.Objects) * cfg.SecondsPerImage / 3600
		p.Cost = p.VCPUHours * cfg.PricePerVCPUHour
	}
	if p.RunID == "" {
		p.RunID = DefaultRunID(cfg, prefixes, time.Now())
	}
	return p, src, nil
}

func (c Config) isImage(key string) bool {
	exts := c.Extensions
	if len(exts) == 0 {
		exts = naming.DefaultExtensions
	}
	return naming.HasExtension(key, exts)
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

// Work is a run's jobs, and the plan files its array jobs read.
type Work struct {
	Jobs      []batch.Job
	PlanFiles map[string]*plan.Plan // location -> plan
}

// JobsPerPrefix makes one job per prefix.
func JobsPerPrefix(cfg Config, p *Planned) *Work {
	w := &Work{PlanFiles: map[string]*plan.Plan{}}
	for _, s := range p.Prefixes {
		w.Jobs = append(w.Jobs, batch.Job{
			Name:       batch.NameFor(p.RunID, s.Prefix, shortHash(s.Prefix)),
			Parameters: map[string]string{"source": cfg.Source, "prefix": s.Prefix, "dest": cfg.Dest},
			Tags:       map[string]string{"quicklook-run": p.RunID, "quicklook-prefix": tagValue(s.Prefix)},
			Env:        cfg.JobEnv,
		})
	}
	return w
}

// JobsArray bin-packs the counted prefixes into shards of at most
// cfg.ShardBytes (splitting prefixes larger than that into key ranges),
// writes one plan file per array job of up to 10,000 shards, and makes
// the array jobs. A plan of one shard becomes a plain job (Batch arrays
// have at least 2 children).
func JobsArray(ctx context.Context, cfg Config, p *Planned, src storage.Store) (*Work, error) {
	if !p.Counted {
		return nil, errors.New("array jobs need counts: plan with counting")
	}
	if cfg.ShardBytes <= 0 {
		return nil, errors.New("shard size must be positive")
	}
	var pieces []plan.Sized
	for _, s := range p.Prefixes {
		if s.Objects == 0 {
			continue
		}
		if s.Bytes <= cfg.ShardBytes {
			pieces = append(pieces, s)
			continue
		}
		parts, err := plan.Split(ctx, src, s.Prefix, cfg.ShardBytes, cfg.isImage)
		if err != nil {
			return nil, fmt.Errorf("splitting %s: %w", s.Prefix, err)
		}
		pieces = append(pieces, parts...)
	}
	shards := plan.Pack(pieces, cfg.ShardBytes)
	w := &Work{PlanFiles: map[string]*plan.Plan{}}
	for k := 0; k*batch.MaxArraySize < len(shards); k++ {
		part := shards[k*batch.MaxArraySize : min((k+1)*batch.MaxArraySize, len(shards))]
		loc := PlanLocation(cfg.Dest, p.RunID, k)
		w.PlanFiles[loc] = &plan.Plan{Version: plan.Version, RunID: p.RunID, Source: cfg.Source, Dest: cfg.Dest, Shards: part}
		env := map[string]string{"QUICKLOOK_PLAN": loc}
		for k, v := range cfg.JobEnv {
			env[k] = v
		}
		j := batch.Job{
			Name:       batch.NameFor(p.RunID, fmt.Sprintf("array-%03d", k), shortHash(loc)),
			Parameters: map[string]string{"source": cfg.Source, "prefix": "", "dest": cfg.Dest},
			Tags:       map[string]string{"quicklook-run": p.RunID, "quicklook-plan": tagValue(loc)},
			Env:        env,
			ArraySize:  len(part),
		}
		if len(part) == 1 {
			j.ArraySize = 0
			env["QUICKLOOK_SHARD"] = "0"
		}
		w.Jobs = append(w.Jobs, j)
	}
	return w, nil
}

// PlanLocation is where array job k of a run finds its plan.
func PlanLocation(dest, runID string, k int) string {
	return strings.TrimSuffix(dest, "/") + "/" + RunDir(runID) + fmt.Sprintf("plan-%03d.json", k)
}

// RunDir holds a run's plan files and record, under the destination.
func RunDir(runID string) string { return manifest.Dir + "runs/" + runID + "/" }

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// tagValue fits Batch's 256-character tag values.
func tagValue(s string) string {
	if len(s) <= 256 {
		return s
	}
	return s[:247] + "…" + shortHash(s)
}

// WritePlans stores the plan files.
func (w *Work) WritePlans(ctx context.Context) error {
	for loc, p := range w.PlanFiles {
		if err := writePlan(ctx, loc, p); err != nil {
			return err
		}
	}
	return nil
}

func writePlan(ctx context.Context, loc string, p *plan.Plan) error {
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, loc, b, storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("writing plan %s: %w", loc, err)
	}
	return nil
}
