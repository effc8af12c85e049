package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"quicklook/internal/contactsheet"
	"quicklook/internal/engine"
	"quicklook/internal/flagset"
	"quicklook/internal/layout"
	"quicklook/internal/logging"
	"quicklook/internal/naming"
	"quicklook/internal/planfile"
	"quicklook/internal/progress"
	"quicklook/internal/render"
	"quicklook/internal/renderproc"
	"quicklook/internal/runspec"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

func runCommand(code *int) *cli.Command {
	cpus := runtime.NumCPU()
	return &cli.Command{
		Name:      "run",
		Usage:     "render every image under --prefix of --source into --dest, skipping what is up to date",
		UsageText: "job run --source ./data --prefix al/2013/ --dest ./thumbs\n   job run --source s3://aws-naip --prefix al/2013/ --dest s3://THUMBS/ --requester-pays",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "source", EnvVars: env("SOURCE"), Usage: "where the images are: s3://BUCKET[/BASE/], file:///abs/path or a folder (required unless --plan names it)"},
			&cli.StringFlag{Name: "prefix", EnvVars: env("PREFIX"), Usage: "key prefix to render, e.g. al/2013/ (empty: everything)"},
			&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "where thumbnails go (same forms as --source); keys mirror the source keys (required unless --plan names it)"},
			&cli.StringFlag{Name: "plan", EnvVars: env("PLAN"), Usage: "plan file written by submit (s3://BUCKET/KEY or a path): render shard --shard of it instead of --prefix"},
			&cli.StringFlag{Name: "run", EnvVars: env("RUN"), Usage: "the submitted run this job belongs to (set by submit; a --plan's run wins): the summary is copied under the run for 'submit status'"},
			&cli.IntFlag{Name: "shard", EnvVars: []string{"QUICKLOOK_SHARD", "AWS_BATCH_JOB_ARRAY_INDEX"}, Value: -1, Usage: "which shard of --plan (array jobs: the array index)"},
			&cli.StringSliceFlag{Name: "profile", EnvVars: env("PROFILE"), Value: cli.NewStringSlice(naming.DefaultProfile.String()), Usage: "output NAME:SIZE:FORMAT (SIZE = longest side; jpeg, png, webp); repeat for several, all from one read"},
			flagset.ProfilesFlag(),
			&cli.StringFlag{Name: "bands", EnvVars: env("BANDS"), Value: "auto", Usage: "auto (grey, palette, or bands 1,2,3 / tagged R,G,B), natural (1,2,3), cir (4,1,2), or a list like 3,2,1"},
			&cli.StringFlag{Name: "scale", EnvVars: env("SCALE"), Usage: "MIN,MAX: fixed stretch for non-8-bit data instead of per-image percentiles"},
			&cli.StringFlag{Name: "percentiles", EnvVars: env("PERCENTILES"), Value: "2,98", Usage: "LOW,HIGH percentiles of the per-image stretch for non-8-bit data"},
			&cli.IntFlag{Name: "quality", EnvVars: env("QUALITY"), Value: 85, Usage: "JPEG and WebP quality (1-100)"},
			&cli.StringFlag{Name: "background", EnvVars: env("BACKGROUND"), Value: "#ffffff", Usage: "colour behind nodata and transparency in JPEG outputs (#rrggbb)"},
			&cli.BoolFlag{Name: "fill-nodata", EnvVars: env("FILL_NODATA"), Usage: "make a constant fill around the picture (a reprojected scene's border, whatever its value) transparent; it is always left out of the stretch"},
			&cli.Int64Flag{Name: "max-pixels", EnvVars: env("MAX_PIXELS"), Value: 200_000_000, Usage: "refuse (as a data error) images whose needed resolution level has more pixels"},
			&cli.DurationFlag{Name: "item-timeout", EnvVars: env("ITEM_TIMEOUT"), Value: 2 * time.Minute, Usage: "give up on (and record) one image after this long"},
			&cli.IntFlag{Name: "concurrency", EnvVars: env("CONCURRENCY"), Value: 4 * cpus, Usage: "images rendered at once (default: four per CPU: on S3 most of an image's time is waiting for reads)"},
			&cli.DurationFlag{Name: "drain-timeout", EnvVars: env("DRAIN_TIMEOUT"), Value: 20 * time.Second, Usage: "after SIGTERM, how long in-flight images may finish before the manifest is written"},
			&cli.Float64Flag{Name: "max-failure-rate", EnvVars: env("MAX_FAILURE_RATE"), Value: 0.05, Usage: "exit 3 when more than this fraction of images are broken"},
			&cli.BoolFlag{Name: "prune", EnvVars: env("PRUNE"), Usage: "delete thumbnails whose source image is gone"},
			&cli.StringFlag{Name: "cache-control", EnvVars: env("CACHE_CONTROL"), Value: "public, max-age=86400", Usage: "Cache-Control written with every thumbnail"},
			&cli.StringFlag{Name: "ext", EnvVars: env("EXT"), Value: strings.Join(sources.DefaultExtensions, ","), Usage: "source extensions to render (other objects are counted as ignored; a --plan's filter, which the submitter counted with, wins)"},
			&cli.BoolFlag{Name: "requester-pays", EnvVars: env("REQUESTER_PAYS"), Usage: "send x-amz-request-payer on every source call (S3)"},
			&cli.IntFlag{Name: "gdal-cache-mb", EnvVars: env("GDAL_CACHE_MB"), Value: 128, Usage: "GDAL's cache of decoded blocks, divided among the workers (a tiled image without overviews wants a block row in flight)"},
			&cli.BoolFlag{Name: "isolate", EnvVars: env("ISOLATE"), Value: true, Usage: "render in one child process per worker, so a crash or hang in an image decoder costs that image (recorded as crashed or timeout), not the run; --isolate=false renders in this process"},
			&cli.StringFlag{Name: "log-format", EnvVars: env("LOG_FORMAT"), Value: "auto", Usage: "auto (JSON unless on a terminal), json or text"},
			&cli.BoolFlag{Name: "verbose", EnvVars: env("VERBOSE"), Usage: "debug logging"},
			&cli.StringFlag{Name: "contact-sheet", EnvVars: env("CONTACT_SHEET"), Value: engine.ContactSheetIndex, Usage: "index: write this job's page and rebuild the contact sheet's index; page: the page only (jobs of a submitted run: the submitter rebuilds the index once, saving each job a listing, reads and a write); off"},
			&cli.StringFlag{Name: "read-plan", EnvVars: env("READ_PLAN"), Value: render.PlanAuto, Usage: "how an image's bytes are fetched: sparse (only the needed ranges, a request each), bulk (the whole needed span in a few large streamed requests), or auto (whichever costs less at the prices below: requests, and the vCPU held while waiting)"},
			flagset.VCPUs(),
		}, flagset.Prices()...),
		Action: func(c *cli.Context) error {
			*code = runJob(c)
			return nil
		},
	}
}

func runJob(c *cli.Context) int {
	level := slog.LevelInfo
	if c.Bool("verbose") {
		level = slog.LevelDebug
	}
	log, err := logging.New(logging.Writer(), c.String("log-format"), level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "job:", err)
		return runspec.ExitUsage
	}
	// SIGTERM is caught from the start: one that comes while the job sets
	// up (render processes, the plan file) still ends in exit 75, which the
	// retry strategy retries, not in death by signal, which it does not.
	stop, cancel := context.WithCancel(c.Context)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			log.Warn("stop requested: no new images; in-flight ones may finish, then the manifest is written",
				"signal", sig.String(), "drain", c.Duration("drain-timeout").String())
			cancel()
		case <-stop.Done():
		}
	}()
	cfg, err := configure(c, log)
	if err != nil {
		if stop.Err() != nil {
			log.Error("stopped while setting up", "error", err.Error())
			return runspec.ExitTransient
		}
		log.Error("configuration", "error", err.Error())
		return runspec.ExitUsage
	}

	defer cfg.Renderer.Close()
	res, err := engine.Run(stop, cfg)
	if err != nil {
		var ce *engine.ConfigError
		if errors.As(err, &ce) {
			log.Error("configuration", "error", err.Error())
			return runspec.ExitUsage
		}
		log.Error("run failed", "error", err.Error())
		return runspec.ExitTransient
	}
	report(log, res, cfg)
	return res.ExitCode
}

func configure(c *cli.Context, log *slog.Logger) (engine.Config, error) {
	var cfg engine.Config
	profiles, err := flagset.ProfilesFrom(c, "profile")
	if err != nil {
		return cfg, err
	}
	bands, err := render.ParseBands(c.String("bands"))
	if err != nil {
		return cfg, err
	}
	opts := render.Options{Profiles: profiles, Bands: bands, Quality: c.Int("quality"), MaxPixels: c.Int64("max-pixels"),
		FillNodata: c.Bool("fill-nodata")}
	if opts.Quality < 1 || opts.Quality > 100 {
		return cfg, fmt.Errorf("--quality %d: want 1 to 100", opts.Quality)
	}
	if opts.MaxPixels < 1 {
		return cfg, fmt.Errorf("--max-pixels must be positive")
	}
	if s := c.String("scale"); s != "" {
		lo, hi, err := naming.ParseScale(s)
		if err != nil {
			return cfg, fmt.Errorf("--scale %w", err)
		}
		opts.Scale = &[2]float64{lo, hi}
	}
	lo, hi, err := naming.ParsePair(c.String("percentiles"))
	if err != nil {
		return cfg, fmt.Errorf("--percentiles %w", err)
	}
	if lo < 0 || hi > 100 || hi <= lo {
		return cfg, fmt.Errorf("--percentiles %s: want 0 <= LOW < HIGH <= 100", c.String("percentiles"))
	}
	opts.Percentiles = [2]float64{lo, hi}
	if opts.Background, err = naming.ParseColour(c.String("background")); err != nil {
		return cfg, fmt.Errorf("--background %w", err)
	}
	if c.Int("concurrency") < 1 {
		return cfg, fmt.Errorf("--concurrency must be at least 1")
	}
	if r := c.Float64("max-failure-rate"); r < 0 || r > 1 {
		return cfg, fmt.Errorf("--max-failure-rate %g: want 0 to 1", r)
	}
	if c.Duration("item-timeout") <= 0 {
		return cfg, fmt.Errorf("--item-timeout must be positive")
	}
	prefix := c.String("prefix")
	if err := storage.ValidatePrefix(prefix); err != nil {
		return cfg, fmt.Errorf("--prefix: %w", err)
	}
	ctx := c.Context
	source, dest := c.String("source"), c.String("dest")
	filter, err := sources.New(c.String("ext"), profiles)
	if err != nil {
		return cfg, fmt.Errorf("--ext: %w", err)
	}
	var ranges []planfile.Range
	runID := c.String("run")
	if loc := c.String("plan"); loc != "" {
		if prefix != "" {
			return cfg, fmt.Errorf("give --plan or --prefix, not both")
		}
		p, err := runspec.ReadPlan(ctx, loc)
		if err != nil {
			return cfg, fmt.Errorf("--plan %s: %w", loc, err)
		}
		if c.Int("shard") < 0 {
			return cfg, fmt.Errorf("--plan needs --shard N or AWS_BATCH_JOB_ARRAY_INDEX")
		}
		shard, err := p.Shard(c.Int("shard"))
		if err != nil {
			return cfg, fmt.Errorf("--plan %s: %w", loc, err)
		}
		ranges = shard.Ranges
		runID = firstSet(p.RunID, runID)
		source, dest = firstSet(source, p.Source), firstSet(dest, p.Dest)
		if p.Filter != nil {
			// The submitter counted the shards with this filter: render exactly that.
			if c.IsSet("ext") && !p.Filter.SameExtensions(c.String("ext")) {
				return cfg, fmt.Errorf("--ext %s: the plan %s was counted with --ext %s", c.String("ext"), loc, p.Filter.ExtensionList())
			}
			filter = *p.Filter
		}
		log.Info("plan", "plan", loc, "run_id", p.RunID, "shard", c.Int("shard"), "of", len(p.Shards), "ranges", len(ranges), "objects", shard.Objects)
	}
	if runID != "" && !runspec.ValidRunID(runID) {
		return cfg, fmt.Errorf("--run %q: letters, digits, - and _ only", runID)
	}
	if source == "" || dest == "" {
		return cfg, fmt.Errorf("--source and --dest are required (or --plan naming them)")
	}
	src, err := storage.Open(ctx, source, storage.OpenOptions{RequesterPays: c.Bool("requester-pays")})
	if err != nil {
		return cfg, fmt.Errorf("--source: %w", err)
	}
	dst, err := storage.Open(ctx, dest, storage.OpenOptions{Create: true})
	if err != nil {
		return cfg, fmt.Errorf("--dest: %w", err)
	}
	prices, err := flagset.PricesFrom(c)
	if err != nil {
		return cfg, err
	}
	plan := c.String("read-plan")
	if plan != render.PlanAuto && plan != render.PlanSparse && plan != render.PlanBulk {
		return cfg, fmt.Errorf("--read-plan %q: auto, sparse or bulk", plan)
	}
	renderer, err := startRenderer(c, log, src, filter.Extensions, render.PolicyFrom(plan, prices))
	if err != nil {
		return cfg, err
	}
	if c.Float64("vcpus") <= 0 {
		return cfg, fmt.Errorf("--vcpus must be positive")
	}
	switch c.String("contact-sheet") {
	case engine.ContactSheetIndex, engine.ContactSheetPage, engine.ContactSheetOff:
	default:
		return cfg, fmt.Errorf("--contact-sheet %q: index, page or off", c.String("contact-sheet"))
	}
	var reporter progress.Reporter = &progress.Log{Log: log, Every: 15 * time.Second}
	if logging.IsTerminal(os.Stderr) && !logging.InBatch() {
		reporter = &progress.Bar{W: os.Stderr}
	}
	return engine.Config{
		Source: src, Dest: dst, Prefix: prefix, Ranges: ranges, Render: opts, Filter: &filter,
		Concurrency: c.Int("concurrency"), ItemTimeout: c.Duration("item-timeout"),
		MaxFailureRate: c.Float64("max-failure-rate"), Prune: c.Bool("prune"),
		CacheControl: c.String("cache-control"), Attempt: os.Getenv("AWS_BATCH_JOB_ATTEMPT"), RunID: runID,
		DrainTimeout: c.Duration("drain-timeout"), Log: log, Progress: reporter, Renderer: renderer,
		Prices: prices, VCPUs: c.Float64("vcpus"), ContactSheet: c.String("contact-sheet"),
	}, nil
}

// startRenderer renders in this process, or (--isolate) in child processes
// that share the GDAL cache and the memory limit between them.
func startRenderer(c *cli.Context, log *slog.Logger, src storage.Store, exts []string, policy render.ReadPolicy) (renderproc.Renderer, error) {
	workers := c.Int("concurrency")
	rc := render.Config{CacheMB: c.Int("gdal-cache-mb"), Extensions: exts, Read: policy}
	if !c.Bool("isolate") {
		if err := render.Init(rc); err != nil {
			return nil, fmt.Errorf("--ext: %w", err)
		}
		return renderproc.InProcess{Store: src}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start render processes: %w", err)
	}
	rc.CacheMB = max(16, rc.CacheMB/workers)
	var env []string
	if os.Getenv("GOMEMLIMIT") == "" {
		env = append(env, fmt.Sprintf("GOMEMLIMIT=%dMiB", max(childMemoryMiB, memoryLimitMiB/workers)))
	}
	pool, err := renderproc.Start(renderproc.Options{
		Command: []string{exe, "render-worker"}, Env: env, Log: log,
		Setup: renderproc.Setup{Source: src.URL(), RequesterPays: c.Bool("requester-pays"), Render: rc},
	})
	if err != nil {
		return nil, fmt.Errorf("render processes: %w", err)
	}
	return pool, nil
}

// report prints the human summary on stdout and the summary record in the log.
func report(log *slog.Logger, res *engine.Result, cfg engine.Config) {
	s := res.Summary
	secs := s.Finished.Sub(s.Started).Seconds()
	rendered := s.Created + s.Updated
	var procs renderproc.Stats
	if pool, ok := cfg.Renderer.(*renderproc.Pool); ok {
		procs = pool.Stats()
		log.Info("render processes", "started", procs.Started, "died", procs.Died, "killed", procs.Killed)
	}
	log.Info("summary", "sources", s.Sources, "parts", s.Parts, "created", s.Created, "updated", s.Updated, "skipped", s.Skipped,
		"failed", s.Failed, "pruned", s.Pruned, "ignored", s.Ignored, "failures_by_class", s.FailuresByClass,
		"bytes_read", s.BytesRead, "requests", s.Requests, "cpu_seconds", s.CPUSeconds, "vcpus", s.VCPUs,
		"cost_usd", s.Cost.Total, "usd_per_1000_thumbnails", s.Cost.PerThousand, "seconds", secs, "exit_code", res.ExitCode, "manifest", s.Manifest)
	if logging.InBatch() {
		// CloudWatch reads the summary above and these metrics; stdout
		// carries no human summary here.
		logging.Metrics(os.Stdout, "quicklook", map[string]string{"Queue": os.Getenv("AWS_BATCH_JQ_NAME")}, map[string]float64{
			"ThumbnailsCreated": float64(s.Created), "ThumbnailsUpdated": float64(s.Updated), "Skipped": float64(s.Skipped),
			"Failed": float64(s.Failed), "Pruned": float64(s.Pruned), "SourceBytesRead": float64(s.BytesRead),
			"ThumbnailBytes": float64(s.BytesWritten), "RunSeconds": secs,
			// Decoder crashes and overruns: a rise means hostile or unusual input.
			"RenderProcessDeaths": float64(procs.Died), "RenderProcessKills": float64(procs.Killed),
			// What the job cost.
			"RequestsGET": float64(s.Requests.GET), "RequestsHEAD": float64(s.Requests.HEAD), "RequestsPUT": float64(s.Requests.PUT),
			"RequestsLIST": float64(s.Requests.LIST), "RequestsDELETE": float64(s.Requests.DELETE), "RequestsCOPY": float64(s.Requests.COPY),
			"RenderCPUSeconds": s.CPUSeconds, "VCPUSeconds": s.WallSeconds * s.VCPUs, "CostUSD": s.Cost.Total,
		})
		return
	}
	fmt.Printf("%s: %d created, %d updated, %d up to date, %d failed, %d pruned (%d images", displayPrefix(s.Prefix),
		s.Created, s.Updated, s.Skipped, s.Failed, s.Pruned, s.Sources)
	if s.Parts > 0 {
		fmt.Printf(", %d parts", s.Parts)
	}
	if s.Ignored > 0 {
		fmt.Printf(", %d other objects ignored", s.Ignored)
	}
	fmt.Printf(") in %.1fs", secs)
	if rendered > 0 && secs > 0 {
		fmt.Printf(", %.1f thumbnails/s", float64(rendered)/secs)
	}
	fmt.Println()
	if rendered == 0 && s.Failed == 0 {
		fmt.Println("nothing to do: every thumbnail is up to date")
	}
	for class, n := range s.FailuresByClass {
		fmt.Printf("  %d failed: %s\n", n, class)
	}
	fmt.Printf("cost: $%.6f: %s, %.1f vCPU-s held (%g vCPU x %.1fs; renders used %.1f CPU-s)", s.Cost.Total,
		requestsText(s.Requests), s.WallSeconds*s.VCPUs, s.VCPUs, s.WallSeconds, s.CPUSeconds)
	if rendered > 0 {
		fmt.Printf("; $%.4f per 1,000 thumbnails", s.Cost.PerThousand)
	}
	fmt.Println()
	fmt.Printf("thumbnails: %s%s\n", cfg.Dest.URL(), s.Prefix)
	fmt.Printf("manifest:   %s%s\n", cfg.Dest.URL(), s.Manifest)
	fmt.Printf("summary:    %s%s\n", cfg.Dest.URL(), layout.Summary(s.Manifest))
	fmt.Printf("contact sheet: %s%s\n", cfg.Dest.URL(), contactsheet.Index)
	if res.ExitCode == runspec.ExitData {
		fmt.Printf("exit 3: more than %.0f%% of the images are broken (see %s)\n", 100*cfg.MaxFailureRate, path.Base(s.Manifest))
	}
}

func firstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func displayPrefix(p string) string {
	if p == "" {
		return "(all)"
	}
	return p
}

// requestsText is "12 requests (9 GET, 2 PUT, 1 LIST)".
func requestsText(r storage.Requests) string {
	var parts []string
	for _, k := range []struct {
		n    int64
		kind string
	}{{r.GET, "GET"}, {r.HEAD, "HEAD"}, {r.PUT, "PUT"}, {r.LIST, "LIST"}, {r.DELETE, "DELETE"}, {r.COPY, "COPY"}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k.n, k.kind))
		}
	}
	return fmt.Sprintf("%d requests (%s)", r.Total(), strings.Join(parts, ", "))
}
