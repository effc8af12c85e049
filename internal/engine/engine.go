// Package engine builds the thumbnails of one prefix (or one shard of a
// plan file): one listing of the source and of the destination, a work list
// of what is missing or outdated, a pool of render workers, and a manifest
// with a summary at the end. It is what 'job run' runs.
//
// This file is the run from start to finish (its settings, the pool and
// the summary); what decides the work is worklist.go, identical sources
// twins.go.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"quicklook/internal/contactsheet"
	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/planfile"
	"quicklook/internal/pricing"
	"quicklook/internal/progress"
	"quicklook/internal/render"
	"quicklook/internal/renderproc"
	"quicklook/internal/runspec"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

// Error classes the job adds to the renderer's.
const (
	ClassTimeout     = manifest.ClassTimeout
	ClassInterrupted = manifest.ClassInterrupted
	ClassIO          = manifest.ClassIO
	ClassGone        = manifest.ClassGone
)

// Config is one job run.
type Config struct {
	Source, Dest storage.Store
	Prefix       string
	// Ranges, when set, replace Prefix: an array child's share of a plan.
	Ranges []planfile.Range
	Render render.Options
	// Filter decides which listed keys are images (default: the default
	// extensions and Render's profiles).
	Filter      *sources.Filter
	Concurrency int
	ItemTimeout time.Duration
	// DrainTimeout bounds how long in-flight items may finish after a stop.
	DrainTimeout   time.Duration
	MaxFailureRate float64
	Prune          bool
	CacheControl   string
	JobName        string // default: layout.JobName(Prefix), or the shard's name
	Attempt        string // names this run's manifest (Batch attempt)
	// RunID is the submitted run the job belongs to: its summary is copied
	// under the run, where 'submit status' adds them up.
	RunID    string
	Log      *slog.Logger
	Progress progress.Reporter
	// Renderer renders items (default: in this process, from Source).
	Renderer renderproc.Renderer
	// Prices and VCPUs price the run in its summary (default list prices, 1).
	Prices pricing.Prices
	VCPUs  float64
	// ContactSheet: the job's page and the index rebuilt (default), the page
	// only (the submitter rebuilds the index once a run is over), or none.
	ContactSheet string
}

// Contact sheet modes.
const (
	ContactSheetIndex = "index"
	ContactSheetPage  = "page"
	ContactSheetOff   = "off"
)

// Result is the run's outcome.
type Result struct {
	Summary  manifest.Summary
	ExitCode int
}

// ConfigError marks failures that retrying cannot fix (exit 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// classify turns a storage failure before any work into exit 2 or 75.
func classify(err error) error {
	if errors.Is(err, storage.ErrDenied) || errors.Is(err, storage.ErrNoBucket) || errors.Is(err, storage.ErrInvalid) {
		return &ConfigError{err}
	}
	return err
}

// Run builds the thumbnails. stop is cancelled on SIGTERM: no new item
// starts, in-flight items get DrainTimeout, then the manifest is written and
// the run reports runspec.ExitTransient. A returned error means no manifest could be
// written; a *ConfigError among them means exit 2.
func Run(stop context.Context, cfg Config) (*Result, error) {
	c := cfg.withDefaults()
	log := c.Log
	started := time.Now()
	sum := manifest.Summary{Job: c.JobName, Run: c.RunID, Source: c.Source.URL(), Prefix: c.Prefix, Dest: c.Dest.URL(), Started: started}
	if len(c.Ranges) > 1 || c.Ranges[0].Bounded() {
		sum.Ranges = c.Ranges
	}

	// Every storage call of the run is counted here (items count theirs too).
	usage := storage.NewUsage(nil)
	stop = storage.WithUsage(stop, usage)
	// Bookkeeping calls use their own context so a stop does not lose the manifest.
	work := context.WithoutCancel(stop)
	l, err := c.listSource(work)
	if err != nil {
		return nil, classify(fmt.Errorf("listing source: %w", err))
	}
	if len(l.all) == 0 {
		// Nothing at all under the prefix is a typo far more often than an
		// empty folder: say so, and do not let Batch retry it.
		return nil, &ConfigError{fmt.Errorf("nothing under %s in %s: check --prefix", describe(c.Ranges), c.Source.URL())}
	}
	log.Info("listed source", "sources", len(l.sources), "parts", l.parts, "ignored", l.ignored, "prefix", c.Prefix, "ranges", len(c.Ranges))
	destObjs := map[string]storage.Object{}
	for _, prefix := range c.prefixes() {
		err = c.Dest.List(work, prefix, "", func(e storage.Entry) error {
			destObjs[e.Key] = e.Object
			return nil
		})
		if err != nil {
			return nil, classify(fmt.Errorf("listing destination: %w", err))
		}
	}
	last, lastKey, err := manifest.Last(work, c.Dest, c.JobName)
	if err != nil {
		return nil, classify(fmt.Errorf("reading the last manifest: %w", err))
	}
	items, err := c.worklist(work, l, destObjs, last)
	if err != nil {
		return nil, classify(fmt.Errorf("deciding what is up to date: %w", err))
	}
	c.recheck(work, items)

	var records []manifest.Record
	var todo []*item
	for _, it := range items {
		if it.failed != nil {
			records = append(records, *it.failed)
			continue
		}
		if len(it.todo) == 0 {
			rec := it.record(manifest.Skipped)
			rec.Outputs, rec.Rules = it.kept, it.rules
			it.tally(&rec)
			records = append(records, rec)
			continue
		}
		todo = append(todo, it)
	}
	// Identical sources are rendered once; the others copy the thumbnails.
	todo, twins := splitTwins(todo)
	log.Info("planned", "to_render", len(todo), "to_copy", len(twins), "up_to_date", len(records), "workers", c.Concurrency,
		"destination_objects", len(destObjs), "last_manifest", lastKey)

	c.Progress.Start(len(todo))
	done := c.renderAll(stop, todo)
	c.Progress.Finish()
	records = append(records, done...)
	if len(twins) > 0 {
		rendered := make(map[string]manifest.Record, len(done))
		for _, r := range done {
			rendered[r.Key] = r
		}
		records = append(records, c.copyTwins(stop, twins, rendered)...)
	}

	if c.Prune {
		pr, err := c.prune(work, l, destObjs, last)
		if err != nil {
			return nil, classify(fmt.Errorf("pruning: %w", err))
		}
		records = append(records, pr...)
	}

	sort.Slice(records, func(i, j int) bool { return records[i].Key < records[j].Key })
	transient := 0
	for _, r := range records {
		sum.Count(r)
		switch r.ErrorClass {
		case ClassIO, ClassInterrupted:
			transient++
		}
	}
	sum.Ignored, sum.Parts = l.ignored, l.parts
	sum.Interrupted = stop.Err() != nil
	sum.Finished = time.Now()
	dataFailures := sum.Failed - transient
	switch {
	case sum.Interrupted || transient > 0:
		sum.ExitCode = runspec.ExitTransient
	case sum.Sources > 0 && float64(dataFailures)/float64(sum.Sources) > c.MaxFailureRate:
		sum.ExitCode = runspec.ExitData
	default:
		sum.ExitCode = runspec.ExitOK
	}
	stamp := manifest.Stamp(started, c.Attempt)
	sum.Manifest = layout.Manifest(c.JobName, stamp)
	// The contact sheet is for people: a failure to write it is no failure
	// of the run, and it gets a budget of its own, so that a throttled
	// destination cannot starve the manifest. A stopped run leaves it to
	// the next attempt: the manifest must be written before Batch's SIGKILL.
	if c.ContactSheet != ContactSheetOff && !sum.Interrupted {
		sheetCtx, cancel := context.WithTimeout(work, 30*time.Second)
		if err := contactsheet.Write(sheetCtx, c.Dest, c.Source.URL(), sum, records, c.ContactSheet == ContactSheetIndex); err != nil {
			log.Warn("contact sheet not written", "error", err.Error())
		}
		cancel()
	}
	writeCtx, cancel := context.WithTimeout(work, 2*time.Minute)
	defer cancel()
	// The account: every call so far, and the manifest and summary writes.
	counts := usage.Counts()
	counts.Requests.PUT += manifest.WritePuts(&sum)
	c.account(&sum, counts)
	if err := manifest.Write(writeCtx, c.Dest, c.JobName, stamp, records, &sum); err != nil {
		return nil, err
	}
	return &Result{Summary: sum, ExitCode: sum.ExitCode}, nil
}

// account prices what the run used: its requests, and its vCPUs held for
// its wall time, whether computing or waiting.
func (c *Config) account(sum *manifest.Summary, counts storage.Counts) {
	sum.Requests = counts.Requests
	sum.WallSeconds = sum.Finished.Sub(sum.Started).Seconds()
	sum.VCPUs = c.VCPUs
	sum.Prices = c.Prices
	sum.Cost = c.Prices.Price(sum.Requests, sum.WallSeconds*c.VCPUs, sum.Created+sum.Updated)
}

func (c Config) withDefaults() Config {
	c.Render = c.Render.Defaults()
	if c.Filter == nil {
		f, _ := sources.New("", c.Render.Profiles)
		c.Filter = &f
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.VCPUs <= 0 {
		c.VCPUs = 1
	}
	if c.ContactSheet == "" {
		c.ContactSheet = ContactSheetIndex
	}
	if c.Prices == (pricing.Prices{}) {
		c.Prices = pricing.Default()
	}
	if c.ItemTimeout <= 0 {
		c.ItemTimeout = 2 * time.Minute
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 20 * time.Second
	}
	if len(c.Ranges) == 0 {
		c.Ranges = []planfile.Range{{Prefix: c.Prefix}}
	}
	if c.Prefix == "" && len(c.Ranges) == 1 {
		c.Prefix = c.Ranges[0].Prefix
	}
	if c.JobName == "" {
		c.JobName = planfile.Shard{Ranges: c.Ranges}.JobName()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = progress.Nop{}
	}
	if c.Renderer == nil {
		c.Renderer = renderproc.InProcess{Store: c.Source}
	}
	return c
}

// renderAll runs the workers. After stop, queued items are recorded as
// interrupted; in-flight ones may finish within DrainTimeout.
func (c *Config) renderAll(stop context.Context, todo []*item) []manifest.Record {
	// Items read with this context: it outlives stop by DrainTimeout.
	itemsCtx, cancelItems := context.WithCancel(context.WithoutCancel(stop))
	defer cancelItems()
	go func() {
		select {
		case <-stop.Done():
			t := time.NewTimer(c.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancelItems()
			case <-itemsCtx.Done():
			}
		case <-itemsCtx.Done():
		}
	}()

	queue := make(chan int) // indexes into todo
	results := make([]manifest.Record, len(todo))
	var wg sync.WaitGroup
	for w := 0; w < c.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				results[i] = c.renderOne(itemsCtx, todo[i])
				c.Progress.Done(results[i].Status == manifest.Failed)
			}
		}()
	}
	started := 0
feed:
	for started < len(todo) {
		select {
		case <-stop.Done():
			break feed
		case queue <- started:
			started++
		}
	}
	close(queue)
	wg.Wait()
	for i := started; i < len(todo); i++ {
		it := todo[i]
		results[i] = it.record(manifest.Failed)
		results[i].ErrorClass, results[i].Error = ClassInterrupted, "the run was stopped before this item started"
		results[i].Outputs = it.kept
	}
	return results
}

// renderOne renders and writes one item's missing outputs.
func (c *Config) renderOne(ctx context.Context, it *item) manifest.Record {
	t0 := time.Now()
	ctx = storage.WithUsage(ctx, it.usage)
	rec := it.record("")
	rec.Settings = c.Render.RunHash()
	fail := func(class, msg string) manifest.Record {
		rec.Status, rec.ErrorClass, rec.Error = manifest.Failed, class, msg
		rec.Millis = time.Since(t0).Milliseconds()
		it.tally(&rec)
		c.Log.Warn("item failed", "key", it.obj.Key, "class", class, "error", msg)
		return rec
	}
	if it.obj.Size == 0 {
		return fail(render.ClassEmpty, "zero-byte object")
	}
	opts := c.Render
	opts.Profiles = it.todo
	res, cost, err := c.Renderer.Render(ctx, renderproc.Item{Key: it.obj.Key, Siblings: it.siblings, Sizes: it.sizes, Options: opts, Timeout: c.ItemTimeout})
	it.usage.Add(cost.Storage)
	rec.CPUSeconds = cost.CPU.Seconds()
	if err != nil {
		var de *render.Error
		switch {
		case errors.As(err, &de):
			return fail(de.Class, de.Msg)
		case ctx.Err() != nil:
			return fail(ClassInterrupted, "the run was stopped while this item was rendering")
		case errors.Is(err, context.DeadlineExceeded):
			return fail(ClassTimeout, fmt.Sprintf("rendering took longer than --item-timeout %s", c.ItemTimeout))
		case errors.Is(err, storage.ErrNotFound):
			return fail(ClassGone, err.Error())
		default:
			return fail(ClassIO, err.Error())
		}
	}
	level := res.Level
	rec.Level = &level
	rec.ReadPlan, rec.Layout = res.ReadPlan, res.Layout
	rec.Outputs = append(rec.Outputs, it.kept...)
	for _, o := range res.Outputs {
		key := naming.OutputKey("", it.obj.Key, o.Profile)
		settings := c.Render.Hash(o.Profile)
		err := c.Dest.Put(ctx, key, o.Data, storage.PutOptions{
			ContentType:  o.Profile.Format.ContentType(),
			CacheControl: c.CacheControl,
			Metadata: map[string]string{MetaSourceETag: it.obj.ETag, MetaSourceKey: it.obj.Key, MetaSettings: settings,
				MetaRules: strconv.Itoa(render.RulesVersion)},
		})
		if err != nil {
			if ctx.Err() != nil {
				return fail(ClassInterrupted, "the run was stopped while writing outputs")
			}
			return fail(ClassIO, err.Error())
		}
		rec.Outputs = append(rec.Outputs, manifest.Output{Key: key, Width: o.Width, Height: o.Height, Bytes: int64(len(o.Data)), Settings: settings})
	}
	sort.Slice(rec.Outputs, func(i, j int) bool { return rec.Outputs[i].Key < rec.Outputs[j].Key })
	rec.Status = manifest.Created
	if it.existing {
		rec.Status = manifest.Updated
	}
	rec.Rules = render.RulesVersion
	rec.Millis = time.Since(t0).Milliseconds()
	it.tally(&rec)
	return rec
}

// prune deletes the outputs of vanished sources, one record per source.
func (c *Config) prune(ctx context.Context, l *listing, destObjs map[string]storage.Object, last map[string]manifest.Record) ([]manifest.Record, error) {
	gone, err := c.prunable(ctx, l, destObjs, last)
	if err != nil {
		return nil, err
	}
	var out []manifest.Record
	for src, keys := range gone {
		if err := c.Dest.Delete(ctx, keys...); err != nil {
			return nil, err
		}
		rec := manifest.Record{Key: src, Status: manifest.Pruned}
		for _, k := range keys {
			rec.Outputs = append(rec.Outputs, manifest.Output{Key: k, Bytes: destObjs[k].Size})
		}
		c.Log.Info("pruned", "source", src, "outputs", keys)
		out = append(out, rec)
	}
	return out, nil
}

func describe(rs []planfile.Range) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%q", r.Prefix))
	}
	return "prefix " + strings.Join(parts, ", ")
}
