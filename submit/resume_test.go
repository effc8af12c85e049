package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/runspec"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
)

// A real array run on the S3 server, through the local executor: stopped
// with SIGTERM while its children render, resumed with submit retry, it
// ends with every key in exactly one final manifest record, created, up to
// date or failed, and a thumbnail for each rendered one. make test runs
// 2,000 objects; make scale 20,000 (QUICKLOOK_RESUME_OBJECTS).
func TestArrayRunStoppedAndResumed(t *testing.T) {
	n := 2000
	if v := os.Getenv("QUICKLOOK_RESUME_OBJECTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("QUICKLOOK_RESUME_OBJECTS=%q", v)
		}
	}
	ctx := context.Background()
	srcLoc, dstLoc := s3test.Bucket(t, "resume-src"), s3test.Bucket(t, "resume-dst")
	src, err := storage.Open(ctx, srcLoc, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{}
	for i := 0; i < n; i++ {
		objects[fmt.Sprintf("p%02d/img_%05d.png", i%20, i)] = tinyPNG(i)
	}
	started := time.Now()
	s3test.PutAll(t, src, objects)
	t.Logf("%d objects put in %s", n, time.Since(started).Round(time.Millisecond))

	// About 60 children: the guess is 0.5 s an image, a child 1/60 of it all.
	minutes := float64(n) * 0.5 / 60 / 60
	args := []string{"run", "--executor", "local", "--source", srcLoc, "--dest", dstLoc, "--depth", "1", "--array",
		"--shard-minutes", fmt.Sprint(minutes), "--seconds-per-image", "0.5", "--parallel", "2", "--job-bin", jobBin,
		"--log-dir", t.TempDir(), "--run-id", "resume1"}
	cmd := exec.Command(submitBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop it once a quarter of the children have written their summaries,
	// and the next ones have had a second to start rendering.
	dst, err := storage.Open(ctx, dstLoc, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		done := 0
		dst.List(ctx, layout.RunSummariesDir("resume1"), "", func(storage.Entry) error { done++; return nil })
		if done >= 15 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	stopped := time.Since(started)
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("the stopped run: exit %d (%v), want 1 (failed children):\n%s", code, err, out.String())
	}
	rec, err := runspec.LoadRecord(ctx, dstLoc, "resume1")
	if err != nil {
		t.Fatal(err)
	}
	children, failed := 0, 0
	for _, j := range rec.Jobs {
		children += max(j.ArraySize, 1)
		failed += len(j.FailedChildren)
	}
	if failed == 0 || failed == children {
		t.Fatalf("stopped after %s with %d of %d children failed: nothing to resume, or nothing done", stopped, failed, children)
	}
	t.Logf("stopped after %s: %d of %d children ended unfinished", stopped.Round(time.Millisecond), failed, children)

	started = time.Now()
	rt := runSubmit(t, "retry", "--run", "resume1", "--dest", dstLoc, "--job-bin", jobBin, "--parallel", "2", "--log-dir", t.TempDir())
	if rt.code != 0 {
		t.Fatalf("retry exit %d:\n%s\n%s", rt.code, rt.stdout, rt.stderr)
	}
	t.Logf("resumed in %s: %s", time.Since(started).Round(time.Millisecond), strings.TrimSpace(rt.stderr[strings.LastIndex(strings.TrimSpace(rt.stderr), "\n")+1:]))
	st := runSubmit(t, "status", "--run", "resume1", "--dest", dstLoc)
	if st.code != 0 || !strings.Contains(st.stdout, fmt.Sprintf("%d retried", failed)) {
		t.Fatalf("status exit %d:\n%s", st.code, st.stdout)
	}
	t.Logf("status:\n%s", st.stdout)

	// Each key in exactly one final record: the newest manifest of each job.
	final := map[string]manifest.Status{}
	thumbs := map[string]bool{}
	dst.List(ctx, "", "", func(e storage.Entry) error {
		if !layout.IsOwn(e.Key) {
			thumbs[e.Key] = true
		}
		return nil
	})
	var jobs []string
	dst.List(ctx, layout.ManifestsDir, "/", func(e storage.Entry) error { jobs = append(jobs, e.CommonPrefix); return nil })
	for _, dir := range jobs {
		var latest []string
		dst.List(ctx, dir, "", func(e storage.Entry) error {
			if strings.HasSuffix(e.Key, ".jsonl") {
				latest = append(latest, e.Key)
			}
			return nil
		})
		sort.Strings(latest)
		b, err := storage.ReadFile(ctx, layout.At(dstLoc, latest[len(latest)-1]), storage.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		records, bad, err := manifest.Parse(bytes.NewReader(b))
		if err != nil || bad > 0 {
			t.Fatalf("%s: %d bad lines, %v", latest[len(latest)-1], bad, err)
		}
		for _, r := range records {
			if _, dup := final[r.Key]; dup {
				t.Fatalf("%s is in two final manifests", r.Key)
			}
			final[r.Key] = r.Status
			if r.Status == manifest.Created || r.Status == manifest.Updated || r.Status == manifest.Skipped {
				for _, o := range r.Outputs {
					if !thumbs[o.Key] {
						t.Errorf("%s: %s has no thumbnail %s", r.Key, r.Status, o.Key)
					}
				}
			}
		}
	}
	byStatus := map[manifest.Status]int{}
	for key := range objects {
		s, ok := final[key]
		if !ok {
			t.Fatalf("%s is in no final manifest", key)
		}
		byStatus[s]++
	}
	// What the stopped attempts rendered is found up to date, the rest made.
	interrupted, madeBefore := 0, 0
	dst.List(ctx, layout.RunSummariesDir("resume1"), "", func(e storage.Entry) error {
		b, err := storage.ReadFile(ctx, layout.At(dstLoc, e.Key), storage.OpenOptions{})
		var s manifest.Summary
		if err == nil && json.Unmarshal(b, &s) == nil && s.Interrupted {
			interrupted++
			madeBefore += s.Created
		}
		return nil
	})
	if len(final) != n || byStatus[manifest.Failed] > 0 || byStatus[manifest.Skipped] != madeBefore {
		t.Fatalf("final records: %d for %d keys, by status %v; the %d stopped attempts made %d", len(final), n, byStatus, interrupted, madeBefore)
	}
	t.Logf("final records: %v (%d attempts stopped in flight had made %d)", byStatus, interrupted, madeBefore)
}

// tinyPNG is a 32×32 image of its own (no two objects alike).
func tinyPNG(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			img.Set(x, y, color.RGBA{uint8(i), uint8(i >> 8), uint8(x * 8), 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}
