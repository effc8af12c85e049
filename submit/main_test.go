package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"quicklook/internal/batchtest"
	"quicklook/internal/planfile"
	"quicklook/internal/runspec"
	"quicklook/internal/testenv"
)

var submitBin, jobBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quicklook-submit-bin-")
	if err != nil {
		panic(err)
	}
	submitBin, jobBin = testenv.Build(dir, "submit", "."), testenv.Build(dir, "job", "../job")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runSubmit(t *testing.T, args ...string) result {
	t.Helper()
	r := testenv.Run(t, nil, submitBin, args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

// prefixes makes a source folder with n prefixes s/NNNNN/ of one (sparse) image each.
func prefixes(t *testing.T, n int, size int64) string {
	t.Helper()
	root := t.TempDir()
	for i := 0; i < n; i++ {
		p := filepath.Join(root, "s", fmt.Sprintf("%05d", i), "m.tif")
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, _ := os.Create(p)
		f.Truncate(size)
		f.Close()
	}
	return root
}

var batchName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

func TestBatchSubmissionIsIdempotentAndBacksOffThrottling(t *testing.T) {
	fake := batchtest.New(t, "thumbs-q", "thumbs-def")
	src := prefixes(t, 150, 1000)
	dst := t.TempDir()
	common := []string{"run", "--executor", "batch", "--queue", "thumbs-q", "--definition", "thumbs-def", "--source", src, "--depth", "2"}
	// Two submitters at once (two runs into two destinations) exceed Batch's
	// 50 SubmitJob per second between them: both must back off and finish.
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i] = runSubmit(t, append(common, "--dest", filepath.Join(dst, fmt.Sprint(i)), "--run-id", fmt.Sprintf("r%d", i))...)
		}(i)
	}
	wg.Wait()
	for i, r := range res {
		if r.code != 0 || !strings.Contains(r.stdout, "150 jobs submitted, 0 already") {
			t.Fatalf("submitter %d exit %d:\n%s\n%s", i, r.code, r.stdout, r.stderr)
		}
	}
	jobs := fake.Jobs()
	if len(jobs) != 300 {
		t.Fatalf("%d jobs reached Batch, want 300", len(jobs))
	}
	if fake.Throttled() == 0 {
		t.Fatal("the fake never throttled: the back-off was not exercised")
	}
	names := map[string]bool{}
	for _, j := range jobs {
		if !batchName.MatchString(j.Name) || names[j.Name] {
			t.Fatalf("bad or duplicate job name %q", j.Name)
		}
		names[j.Name] = true
		if j.Parameters["source"] != src || !strings.HasPrefix(j.Parameters["prefix"], "s/") || j.Parameters["dest"] == "" {
			t.Fatalf("parameters %v", j.Parameters)
		}
		if j.Tags["quicklook-run"] == "" || j.Tags["quicklook-prefix"] != j.Parameters["prefix"] {
			t.Fatalf("tags %v", j.Tags)
		}
	}
	t.Logf("%d SubmitJob calls throttled and retried", fake.Throttled())

	// The same command again submits nothing: every job is queued.
	again := runSubmit(t, append(common, "--dest", filepath.Join(dst, "0"), "--run-id", "r0")...)
	if again.code != 0 || !strings.Contains(again.stdout, "0 jobs submitted, 150 already") {
		t.Fatalf("rerun:\n%s\n%s", again.stdout, again.stderr)
	}
	// Failed jobs are submitted again; succeeded and running ones are not.
	code, i := 1, 0
	for _, j := range fake.Jobs() {
		if j.Parameters["dest"] != filepath.Join(dst, "0") {
			continue // the other submitter's: the two runs interleave
		}
		i++
		switch {
		case i%50 == 0:
			fake.SetStatus(j.ID, "FAILED", "Essential container in task exited", &code)
		case i%2 == 0:
			fake.SetStatus(j.ID, "SUCCEEDED", "", nil)
		default:
			fake.SetStatus(j.ID, "RUNNING", "", nil)
		}
	}
	failed := 0
	for _, j := range fake.Jobs() {
		if j.Status == "FAILED" {
			failed++
		}
	}
	again = runSubmit(t, append(common, "--dest", filepath.Join(dst, "0"), "--run-id", "r0")...)
	if again.code != 0 || !strings.Contains(again.stdout, fmt.Sprintf("%d jobs submitted", failed)) || failed == 0 {
		t.Fatalf("rerun after failures (%d failed):\n%s", failed, again.stdout)
	}
}

func TestBatchArrayJobsFor10000Prefixes(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	src := prefixes(t, 10000, 180<<20)
	dst := t.TempDir()
	r := runSubmit(t, "run", "--executor", "batch", "--queue", "q", "--definition", "d", "--source", src, "--dest", dst,
		"--depth", "2", "--array", "--seconds-per-image", "1", "--job-vcpus", "2", "--shard-minutes", "5")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	jobs := fake.Jobs()
	if len(jobs) == 0 || len(jobs) > 5 {
		t.Fatalf("%d Batch jobs for 10,000 prefixes", len(jobs))
	}
	covered := map[string]int{}
	children := 0
	for _, j := range jobs {
		loc := j.Environment["QUICKLOOK_PLAN"]
		b, err := os.ReadFile(loc)
		if err != nil {
			t.Fatalf("plan file of %s: %v", j.Name, err)
		}
		p, err := planfile.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if j.ArraySize != len(p.Shards) || j.ArraySize < 2 || j.ArraySize > 10000 {
			t.Fatalf("array size %d for %d shards", j.ArraySize, len(p.Shards))
		}
		children += j.ArraySize
		// 5 minutes at 1 s an image on 2 workers: 600 images of 180 MiB.
		for _, s := range p.Shards {
			if s.Objects > 600 {
				t.Fatalf("a shard of %d images is over the target", s.Objects)
			}
			for _, rg := range s.Ranges {
				covered[rg.Prefix]++
			}
		}
	}
	if len(covered) != 10000 {
		t.Fatalf("plans cover %d prefixes, want 10,000", len(covered))
	}
	for p, n := range covered {
		if n != 1 {
			t.Fatalf("%s is in %d shards", p, n)
		}
	}
	t.Logf("10,000 prefixes -> %d Batch jobs, %d array children", len(jobs), children)
}

func TestDryRunSendsNothing(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	src := prefixes(t, 3, 10)
	r := runSubmit(t, "run", "--executor", "batch", "--queue", "q", "--definition", "d", "--source", src, "--dest", t.TempDir(), "--depth", "2", "--dry-run")
	if r.code != 0 || len(fake.Jobs()) != 0 {
		t.Fatalf("exit %d, %d jobs sent", r.code, len(fake.Jobs()))
	}
	var out struct{ Jobs []map[string]any }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Jobs) != 3 || out.Jobs[0]["jobQueue"] != "q" {
		t.Fatalf("dry run printed %q (%v)", r.stdout, err)
	}
}

func TestBatchStatusAndRetry(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	src, dst := prefixes(t, 6, 10), t.TempDir()
	r := runSubmit(t, "run", "--executor", "batch", "--queue", "q", "--definition", "d", "--source", src, "--dest", dst, "--depth", "2", "--run-id", "st1")
	if r.code != 0 {
		t.Fatalf("submit: %s", r.stderr)
	}
	jobs := fake.Jobs()
	code := 3
	fake.SetStatus(jobs[0].ID, "FAILED", "Essential container in task exited", &code)
	fake.SetStatus(jobs[1].ID, "SUCCEEDED", "", nil)
	fake.SetStatus(jobs[2].ID, "RUNNING", "", nil)
	st := runSubmit(t, "status", "--run", "st1", "--dest", dst)
	if st.code != 1 || !strings.Contains(st.stdout, "6 jobs: 3 submitted, 1 running, 1 succeeded, 1 failed") ||
		!strings.Contains(st.stdout, "exit 3, broken images above --max-failure-rate (see the manifest): Essential container in task exited") || !strings.Contains(st.stdout, "log: quicklook/default/") {
		t.Fatalf("status exit %d:\n%s\n%s", st.code, st.stdout, st.stderr)
	}
	rt := runSubmit(t, "retry", "--run", "st1", "--dest", dst, "--definition", "d")
	if rt.code != 0 || !strings.Contains(rt.stdout, "1 jobs resubmitted") || len(fake.Jobs()) != 7 {
		t.Fatalf("retry exit %d:\n%s\n%s", rt.code, rt.stdout, rt.stderr)
	}
	if last := fake.Jobs()[6]; last.Name != jobs[0].Name || last.Parameters["prefix"] != jobs[0].Parameters["prefix"] {
		t.Fatalf("retried %+v, want %s", last, jobs[0].Name)
	}
}

func TestUsageErrors(t *testing.T) {
	src := prefixes(t, 1, 10)
	for name, args := range map[string][]string{
		"no source":         {"plan"},
		"no dest":           {"run", "--source", src},
		"batch needs queue": {"run", "--source", src, "--dest", src, "--executor", "batch"},
		"bad executor":      {"run", "--source", src, "--dest", src, "--executor", "k8s"},
		"bad run id":        {"run", "--source", src, "--dest", src, "--run-id", "a/b"},
		"bad profile":       {"run", "--source", src, "--dest", src, "--profile", "x"},
		"status needs run":  {"status", "--dest", src},
	} {
		if r := runSubmit(t, args...); r.code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, r.code, r.stderr)
		}
	}
	// Array sizing is refused before any listing: this source does not exist.
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, cmd := range []string{"plan", "run"} {
		r := runSubmit(t, cmd, "--source", missing, "--dest", t.TempDir(), "--array", "--shard-minutes", "0")
		if r.code != 2 || !strings.Contains(r.stderr, "--shard-minutes must be positive") {
			t.Errorf("%s --array --shard-minutes 0: exit %d: %s", cmd, r.code, r.stderr)
		}
	}
}

// The local executor, end to end with the real job: every prefix done, a
// job that exits 75 on its first attempt is retried and succeeds, one that
// exits 3 (broken images) is not retried.
func TestLocalExecutorRunsEveryPrefixWithTheRetryPolicy(t *testing.T) {
	real := testenv.RealData(t)
	crops, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	src := t.TempDir()
	put := func(key, from string) {
		b, _ := os.ReadFile(from)
		os.MkdirAll(filepath.Dir(filepath.Join(src, key)), 0o755)
		os.WriteFile(filepath.Join(src, key), b, 0o644)
	}
	for i, st := range []string{"al", "ga", "tx"} {
		for y, year := range []string{"2013", "2015"} {
			put(fmt.Sprintf("%s/%s/1m/m_%d%d.tif", st, year, i, y), crops[(i+y)%len(crops)])
		}
	}
	put("flaky/2013/m.tif", crops[0])
	put("broken/2013/bad.jpg", filepath.Join(real, "hostile/corrupt/its_jpeg_357B.jpg"))
	// The job binary, except that prefixes named flaky fail transiently once.
	wrapper := filepath.Join(t.TempDir(), "job")
	os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *flaky*) [ \"$AWS_BATCH_JOB_ATTEMPT\" = 1 ] && exit 75;; esac\nexec %s \"$@\"\n", jobBin)), 0o755)
	dst := t.TempDir()
	args := []string{"run", "--executor", "local", "--source", src, "--dest", dst, "--depth", "2", "--parallel", "2",
		"--job-bin", wrapper, "--log-dir", filepath.Join(dst, "logs"), "--run-id", "loc1"}
	r := runSubmit(t, args...)
	if r.code != 1 || !strings.Contains(r.stdout, "7 of 8 jobs succeeded") || !strings.Contains(r.stdout, "broken/2013/") {
		t.Fatalf("local run exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Two jobs at once share the machine's default workers.
	var logs []string
	filepath.WalkDir(filepath.Join(dst, "logs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			logs = append(logs, p)
		}
		return nil
	})
	want := fmt.Sprintf(`"workers":%d,`, max(1, 4*runtime.NumCPU()/2))
	for _, l := range logs {
		if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(`"planned"`)) && !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s: a job of two at once does not run with %s", l, want)
		}
	}
	if len(logs) == 0 {
		t.Error("no job logs")
	}
	rec, err := runspec.LoadRecord(t.Context(), dst, "loc1")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range rec.Jobs {
		prefix := j.Parameters["prefix"]
		switch {
		case prefix == "flaky/2013/":
			if j.Status != "SUCCEEDED" || j.Attempts != 2 {
				t.Errorf("flaky job: %s after %d attempts", j.Status, j.Attempts)
			}
		case prefix == "broken/2013/":
			if j.Status != "FAILED" || j.Attempts != 1 || j.ExitCode == nil || *j.ExitCode != 3 {
				t.Errorf("broken job: %s, %d attempts, exit %v", j.Status, j.Attempts, j.ExitCode)
			}
		default:
			if j.Status != "SUCCEEDED" || j.Attempts != 1 {
				t.Errorf("%s: %s after %d attempts", prefix, j.Status, j.Attempts)
			}
			if _, err := os.Stat(filepath.Join(dst, prefix, "1m")); err != nil {
				t.Errorf("%s has no thumbnails: %v", prefix, err)
			}
		}
	}
	st := runSubmit(t, "status", "--run", "loc1", "--dest", dst)
	if st.code != 1 || !strings.Contains(st.stdout, "8 jobs: 7 succeeded, 1 failed") ||
		!strings.Contains(st.stdout, "images   8 done: 7 made, 0 up to date, 1 failed") {
		t.Fatalf("status:\n%s", st.stdout)
	}
	// The run rebuilt the contact sheet's index when its jobs ended: status
	// leaves it, and rebuilds one written before the last job finished.
	index := filepath.Join(dst, "_quicklook", "index.html")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	written := func() time.Time {
		fi, err := os.Stat(index)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	before := written()
	if runSubmit(t, "status", "--run", "loc1", "--dest", dst); !written().Equal(before) {
		t.Error("status rebuilt an index written after the run's jobs ended")
	}
	os.Chtimes(index, old, old)
	if runSubmit(t, "status", "--run", "loc1", "--dest", dst); written().Equal(old) {
		t.Error("status left an index written before the run's jobs ended")
	}
	// Retry reruns only the failed job (which is still broken).
	rt := runSubmit(t, "retry", "--run", "loc1", "--dest", dst, "--job-bin", wrapper, "--log-dir", filepath.Join(dst, "logs"))
	if rt.code != 1 || !strings.Contains(rt.stdout, "0 of 1 jobs succeeded") {
		t.Fatalf("retry exit %d:\n%s\n%s", rt.code, rt.stdout, rt.stderr)
	}
}

// Nothing is submitted on a bad start: a destination that cannot be
// written, a source that cannot be listed, a queue or job definition that
// does not exist are each exit 2 with a one-line reason, before any SubmitJob.
func TestNothingSubmittedOnABadStart(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	src := prefixes(t, 3, 10)
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, []byte("x"), 0o644)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"misspelt queue":      {[]string{"--queue", "qq", "--definition", "d", "--dest", t.TempDir()}, "job queue qq does not exist"},
		"misspelt definition": {[]string{"--queue", "q", "--definition", "dd", "--dest", t.TempDir()}, "job definition dd has no active revision"},
		"unwritable dest":     {[]string{"--queue", "q", "--definition", "d", "--dest", notADir}, "--dest"},
		"missing source":      {[]string{"--queue", "q", "--definition", "d", "--dest", t.TempDir(), "--source", filepath.Join(src, "nope")}, "--source"},
	} {
		args := append([]string{"run", "--executor", "batch", "--source", src, "--depth", "2"}, c.args...)
		r := runSubmit(t, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || len(lines) != 1 {
			t.Errorf("%s: exit %d, stderr %q", name, r.code, r.stderr)
		}
	}
	if n := len(fake.Jobs()); n != 0 {
		t.Fatalf("%d jobs submitted after bad starts", n)
	}
}

// On a fair-share queue every job names its run's share, with the priority
// asked for; on a FIFO queue neither is sent (Batch refuses a share there).
func TestPriorityAndFairShare(t *testing.T) {
	fake := batchtest.New(t, "fair", "d")
	fake.Queues["fifo"] = true
	fake.FairShare["fair"] = true
	src := prefixes(t, 2, 10)
	r := runSubmit(t, "run", "--executor", "batch", "--queue", "fair", "--definition", "d", "--source", src, "--dest", t.TempDir(),
		"--depth", "2", "--run-id", "urgent-1", "--priority", "900")
	if r.code != 0 {
		t.Fatalf("fair-share run: exit %d\n%s", r.code, r.stderr)
	}
	r = runSubmit(t, "run", "--executor", "batch", "--queue", "fifo", "--definition", "d", "--source", src, "--dest", t.TempDir(), "--depth", "2")
	if r.code != 0 {
		t.Fatalf("FIFO run: exit %d\n%s", r.code, r.stderr)
	}
	for _, j := range fake.Jobs() {
		switch j.Queue {
		case "fair":
			if j.Share != "urgent1" || j.Priority == nil || *j.Priority != 900 {
				t.Errorf("fair-share job %s: share %q, priority %v", j.Name, j.Share, j.Priority)
			}
		case "fifo":
			if j.Share != "" {
				t.Errorf("FIFO job %s carries share %q", j.Name, j.Share)
			}
		}
	}
	if r := runSubmit(t, "run", "--executor", "batch", "--queue", "fifo", "--definition", "d", "--source", src, "--dest", t.TempDir(), "--depth", "2", "--priority", "10000"); r.code != 2 {
		t.Errorf("--priority 10000: exit %d", r.code)
	}
}
