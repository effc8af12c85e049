package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"quicklook/internal/batchtest"
	"quicklook/internal/layout"
	"quicklook/internal/listingtest"
	"quicklook/internal/manifest"
	"quicklook/internal/planfile"
	"quicklook/internal/pricing"
	"quicklook/internal/runreport"
	"quicklook/internal/runspec"
	"quicklook/internal/storage"
)

// What the simulated jobs cost, as measured (BENCHMARKS.md, striped: the
// job on 1 vCPU reads NAIP's layout from S3 at 2.27 thumbnails a second,
// 180 MB each), and the requests it makes an image.
const (
	simVCPUSecondsPerByte = 1 / 2.27 / 180.05e6
	simGETsPerImage       = 5     // and a PUT: its thumbnail
	simBroken             = 0.001 // of objects
	simInterrupt          = 0.05  // of attempts
)

// A whole archive, simulated: a NAIP-shaped listing planned and packed by
// cost into array children, submitted to the Batch stand-in, which runs
// them in virtual time with durations drawn from the measured costs and 5%
// of attempts interrupted; 'submit status --watch' follows the run and
// 'submit retry' finishes it. make test runs 50,000 keys; make scale the
// 1.3 million of NAIP on AWS (QUICKLOOK_SCALE_KEYS).
func TestSimulatedArchiveRun(t *testing.T) {
	keys := 50_000
	if os.Getenv("QUICKLOOK_SCALE_KEYS") != "" {
		keys = scaleKeys(t)
	}
	const maxVCPUs, jobVCPUs = 256, 1
	shape := listingtest.NAIP(7, keys)
	listingtest.New(t, shape, 5*time.Millisecond)
	fake := batchtest.New(t, "q", "d")
	dst := t.TempDir()
	sim := newSimRun(t, dst, jobVCPUs)
	sim.base = time.Now()

	// Virtual time runs so that the predicted wall time passes in about 8 s.
	guess := float64(keys) * 158e6 * simVCPUSecondsPerByte / maxVCPUs * 1.2
	fake.Simulate(batchtest.Simulation{
		Slots: maxVCPUs / jobVCPUs, Speed: guess / 8, Interrupt: simInterrupt, Attempts: runspec.Attempts, Seed: 1,
		Startup: 10 * time.Second, Duration: sim.duration, OnEnd: sim.ended,
	})
	started := time.Now()
	r := runSubmit(t, "run", "--executor", "batch", "--queue", "q", "--definition", "d", "--source", "s3://naip", "--requester-pays",
		"--dest", dst, "--depth", "2", "--array", "--shard-minutes", "1", "--job-vcpus", strconv.Itoa(jobVCPUs),
		"--max-vcpus", strconv.Itoa(maxVCPUs), "--seconds-per-image", "0.44", "--run-id", "sim1")
	if r.code != 0 {
		t.Fatalf("run exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	planned := time.Since(started)
	if i := strings.Index(r.stderr, "array children:"); i >= 0 {
		t.Logf("%s", r.stderr[i:i+strings.Index(r.stderr[i:], "\n")])
	}
	rec, err := runspec.LoadRecord(t.Context(), dst, "sim1")
	if err != nil {
		t.Fatal(err)
	}
	children := checkCoverage(t, dst, rec, shape)

	// What the operator sees while it runs: a third of the children done.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fake.SimStats() // the simulation moves on when asked
		entries, _ := filepath.Glob(filepath.Join(dst, layout.RunSummariesDir("sim1"), "*", "*.json"))
		if len(entries) >= children/3 {
			break
		}
	}
	mid := runSubmit(t, "status", "--run", "sim1", "--dest", dst)
	if mid.code != 0 || !strings.Contains(mid.stdout, " running") || !strings.Contains(mid.stdout, "left") {
		t.Fatalf("status while running: exit %d\n%s\n%s", mid.code, mid.stdout, mid.stderr)
	}
	t.Logf("status while it runs:\n%s", mid.stdout)

	watch := func() result {
		return runSubmit(t, "status", "--run", "sim1", "--dest", dst, "--watch", "--interval", "100ms")
	}
	st := watch()
	first := fake.SimStats()
	predicted := time.Duration(rec.Planned.MakespanSeconds * float64(time.Second))
	t.Logf("%d keys planned and submitted in %s: %d children in %d array jobs; the first watch printed %d lines, ending:\n%s",
		keys, planned.Round(time.Millisecond), children, len(rec.Jobs), strings.Count(st.stdout, "\n"), st.stdout[strings.LastIndex(st.stdout, "run sim1 ·"):])
	rounds := 0
	for st.code != 0 && rounds < 3 {
		rounds++
		rt := runSubmit(t, "retry", "--run", "sim1", "--dest", dst)
		if rt.code != 0 {
			t.Fatalf("retry exit %d:\n%s\n%s", rt.code, rt.stdout, rt.stderr)
		}
		t.Logf("retry %d: %s", rounds, strings.TrimSpace(rt.stderr))
		st = watch()
	}
	final := st.stdout[strings.LastIndex(st.stdout, "run sim1 ·"):]
	if st.code != 0 {
		t.Fatalf("the run did not finish after %d retries:\n%s\n%s", rounds, final, st.stderr)
	}
	stats := fake.SimStats()
	t.Logf("final status after %d retries:\n%s", rounds, final)
	t.Logf("attempts %d, interrupted %d: %d retried by the job definition's strategy, %d failed for good and rerun by submit retry",
		stats.Attempts, stats.Interrupted, stats.Retried, stats.FailedForGood)
	if stats.Interrupted != stats.Retried+stats.FailedForGood || stats.Interrupted == 0 {
		t.Errorf("interrupted %d != retried %d + failed for good %d", stats.Interrupted, stats.Retried, stats.FailedForGood)
	}
	if stats.FailedForGood > 0 && rounds == 0 {
		t.Errorf("%d children failed for good, no retry ran", stats.FailedForGood)
	}
	// Every key accounted for once, by the summaries the operator sees.
	if want := fmt.Sprintf("images   %s of %s planned (100%%)", runreport.Thousands(keys), runreport.Thousands(keys)); !strings.Contains(final, want) {
		t.Errorf("final status lacks %q", want)
	}
	if !strings.Contains(final, " · over") || strings.Contains(final, "failed   ") {
		t.Errorf("final status is not over, or lists failures")
	}
	ratio := first.Makespan.Seconds() / predicted.Seconds()
	t.Logf("makespan: predicted %s, simulated %s (%.2f×)", predicted.Round(time.Second), first.Makespan.Round(time.Second), ratio)
	if ratio < 0.75 || ratio > 1.25 {
		t.Errorf("simulated makespan %s is not within 25%% of the predicted %s", first.Makespan, predicted)
	}
}

// checkCoverage proves the plan files cover every key of the shape exactly
// once: within each prefix the ranges chain (each starts after the previous
// one's last key, the first unbounded below, the last above), and every
// key falls in one; it returns the children.
func checkCoverage(t *testing.T, dst string, rec *runspec.Record, shape listingtest.Shape) int {
	t.Helper()
	byPrefix := map[string][]planfile.Range{}
	children, objects := 0, 0
	for _, j := range rec.Jobs {
		p := readPlan(t, j.Env[runspec.EnvPlan])
		for _, s := range p.Shards {
			children++
			objects += s.Objects
			for _, r := range s.Ranges {
				byPrefix[r.Prefix] = append(byPrefix[r.Prefix], r)
			}
		}
	}
	for prefix, rs := range byPrefix {
		sort.Slice(rs, func(i, j int) bool { return rs[i].StartAfter < rs[j].StartAfter })
		for i, r := range rs {
			if (i == 0) != (r.StartAfter == "") || (i == len(rs)-1) != (r.Until == "") || (i > 0 && r.StartAfter != rs[i-1].Until) {
				t.Fatalf("%s: ranges do not chain at %d: %+v", prefix, i, rs)
			}
		}
	}
	for _, b := range shape.Blocks {
		rs := byPrefix[b.Prefix]
		if len(rs) == 0 {
			t.Fatalf("prefix %s (%d keys) is in no shard", b.Prefix, b.Keys)
		}
	}
	n := 0
	for _, key := range shape.Keys() {
		prefix := strings.Join(strings.SplitN(key, "/", 3)[:2], "/") + "/"
		rs := byPrefix[prefix]
		i := sort.Search(len(rs), func(i int) bool { return rs[i].Until == "" || rs[i].Until >= key })
		if i == len(rs) || !rs[i].Contains(key) || (i+1 < len(rs) && rs[i+1].Contains(key)) {
			t.Fatalf("%s is not in exactly one range", key)
		}
		n++
	}
	if objects != n {
		t.Fatalf("the shards count %d objects, the archive has %d", objects, n)
	}
	return children
}

var plans sync.Map // location -> *planfile.Plan

func readPlan(t *testing.T, loc string) *planfile.Plan {
	if p, ok := plans.Load(loc); ok {
		return p.(*planfile.Plan)
	}
	b, err := os.ReadFile(loc)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	p, err := planfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	plans.Store(loc, p)
	return p
}

// simRun plays the jobs' part: how long a child works, and the summary
// each attempt copies under the run.
type simRun struct {
	t        *testing.T
	dst      string
	jobVCPUs int
	done     map[string]float64 // shard -> part done by earlier attempts
	prices   pricing.Prices
	base     time.Time // the real time virtual time starts from (the run's start)
}

func newSimRun(t *testing.T, dst string, jobVCPUs int) *simRun {
	return &simRun{t: t, dst: dst, jobVCPUs: jobVCPUs, done: map[string]float64{}, prices: pricing.Default()}
}

func (s *simRun) shard(j batchtest.Job, index int) planfile.Shard {
	p := readPlan(s.t, j.Environment[runspec.EnvPlan])
	if index < 0 {
		index, _ = strconv.Atoi(j.Environment[runspec.EnvShard])
	}
	return p.Shards[index]
}

// noise is a child's own factor (its instance, its files): lognormal,
// sigma 0.15, fixed by the shard.
func noise(name string) float64 {
	u1 := 1 - uniform(name)
	u2 := uniform(name + "/2")
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return math.Exp(0.15 * z)
}

// uniform is a number in [0, 1) fixed by s.
func uniform(s string) float64 {
	h := sha256.Sum256([]byte(s))
	return float64(binary.BigEndian.Uint32(h[:4])) / (1 << 32)
}

func (s *simRun) duration(j batchtest.Job, index int) time.Duration {
	sh := s.shard(j, index)
	secs := float64(sh.Bytes) * simVCPUSecondsPerByte / float64(s.jobVCPUs) * noise(sh.JobName())
	return time.Duration(secs * float64(time.Second))
}

// ended writes the summary the attempt's job would have copied under the run.
func (s *simRun) ended(e batchtest.AttemptEnd) {
	sh := s.shard(e.Job, e.Index)
	name := sh.JobName()
	before := s.done[name]
	s.done[name] = before + e.Did
	objects := sh.Objects
	made := int(math.Round(e.Did * float64(objects)))
	skipped := int(math.Round(before * float64(objects)))
	wall := (e.End - e.Start).Seconds()
	start, end := s.base.Add(e.Start).UTC(), s.base.Add(e.End).UTC()
	sum := manifest.Summary{Job: name, Run: "sim1", Started: start, Finished: end,
		Sources: objects, Skipped: skipped, WallSeconds: wall, VCPUs: float64(s.jobVCPUs), Interrupted: e.Interrupted, ExitCode: e.ExitCode}
	if e.Interrupted {
		sum.Created = made
		sum.Failed = objects - skipped - made
		sum.FailuresByClass = map[string]int{manifest.ClassInterrupted: sum.Failed}
	} else {
		broken := int(simBroken*float64(objects) + uniform(name)) // 0.1% on average
		sum.Created = max(0, objects-skipped-broken)
		sum.Failed = objects - skipped - sum.Created
		sum.FailuresByClass = map[string]int{"decode": sum.Failed}
	}
	sum.Requests = storage.Requests{GET: int64(simGETsPerImage * made), PUT: int64(made + 3), LIST: int64(objects/1000 + 1)}
	sum.Cost = s.prices.Price(sum.Requests, wall*float64(s.jobVCPUs), sum.Created)
	b, _ := json.Marshal(sum)
	path := filepath.Join(s.dst, layout.RunSummary("sim1", name, manifest.Stamp(start, strconv.Itoa(e.Attempt))))
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		s.t.Error(err)
	}
}
