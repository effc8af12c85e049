package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"quicklook/internal/manifest"
	"quicklook/internal/planner"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// mixedLayouts makes two prefixes of eight images: two each of a COG, a
// striped and a tiled GeoTIFF (no overviews) and a JPEG photo, from a
// real NAIP crop, named so that four evenly picked samples take one of each.
func mixedLayouts(t *testing.T) string {
	t.Helper()
	crop := testenv.NAIPCrop(t)
	made := t.TempDir()
	for name, args := range map[string][]string{
		"a_cog.tif":     {"-outsize", "2048", "2048", "-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=512"},
		"b_photo.jpg":   {"-outsize", "3000", "2000", "-b", "1", "-b", "2", "-b", "3", "-of", "JPEG", "-co", "QUALITY=90"},
		"c_striped.tif": {"-outsize", "2048", "2048", "-co", "TILED=NO", "-co", "BLOCKYSIZE=1"},
		"d_tiled.tif":   {"-outsize", "2048", "2048", "-co", "TILED=YES", "-co", "BLOCKXSIZE=512", "-co", "BLOCKYSIZE=512"},
	} {
		testenv.RunTool(t, "gdal_translate", append(append([]string{"-q", "-r", "bilinear"}, args...), crop, filepath.Join(made, name))...)
	}
	src := t.TempDir()
	for _, prefix := range []string{"al/2013", "ga/2015"} {
		for _, name := range []string{"a_cog.tif", "b_photo.jpg", "c_striped.tif", "d_tiled.tif"} {
			b, _ := os.ReadFile(filepath.Join(made, name))
			for i := 1; i <= 2; i++ {
				p := filepath.Join(src, prefix, strings.Replace(name, "_", fmt.Sprintf("%d_", i), 1))
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, b, 0o644)
			}
		}
	}
	return src
}

// A plan calibrated on a few renders predicts the run that follows it: its
// requests and the renders' CPU time within 25% of what the run's summaries
// account.
func TestCalibratedPlanPredictsTheRun(t *testing.T) {
	src, dst := mixedLayouts(t), t.TempDir()
	out := filepath.Join(t.TempDir(), "plan.json")
	r := runSubmit(t, "plan", "--source", src, "--depth", "2", "--calibrate", "4", "--dest", dst, "--job-bin", jobBin, "--output", out)
	if r.code != 0 || !strings.Contains(r.stdout, "basis: calibrated: 8 images rendered") {
		t.Fatalf("plan exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var inv planner.Inventory
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &inv); err != nil || inv.Estimate == nil {
		t.Fatalf("plan file: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dst, "_quicklook")); len(entries) != 0 {
		t.Fatalf("the calibration left %v under the destination", entries)
	}
	run := runSubmit(t, "run", "--source", src, "--dest", dst, "--depth", "2", "--job-bin", jobBin, "--log-dir", filepath.Join(t.TempDir(), "logs"))
	if run.code != 0 {
		t.Fatalf("run exit %d:\n%s\n%s", run.code, run.stdout, run.stderr)
	}
	st, _ := storage.OpenLocal(dst, false)
	latest, err := manifest.LatestManifests(t.Context(), st)
	if err != nil || len(latest) != 2 {
		t.Fatalf("%d jobs' manifests: %v", len(latest), err)
	}
	var requests int64
	var cpu float64
	for _, key := range latest {
		b, err := os.ReadFile(filepath.Join(dst, strings.TrimSuffix(key, ".jsonl")+".summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s manifest.Summary
		json.Unmarshal(b, &s)
		requests += s.Requests.Total()
		cpu += s.CPUSeconds
	}
	pr, pc := float64(inv.Estimate.Requests.Total()), inv.Estimate.CPUSeconds
	t.Logf("predicted %d requests, %.2f CPU-s; the run made %d requests, used %.2f CPU-s", int64(pr), pc, requests, cpu)
	if d := math.Abs(pr-float64(requests)) / float64(requests); d > 0.25 {
		t.Errorf("requests predicted %d, made %d: off by %.0f%%", int64(pr), requests, 100*d)
	}
	// The CPU time of 16 small renders itself varies by a quarter from one
	// run to the next on a busy 2-core machine (0.50 to 0.81 s measured).
	if d := math.Abs(pc-cpu) / cpu; d > 0.5 {
		t.Errorf("CPU predicted %.2f s, used %.2f s: off by %.0f%%", pc, cpu, 100*d)
	}
	// The same prediction from the run's own manifests.
	m := regexp.MustCompile(`run (\S+): \d+ of`).FindStringSubmatch(run.stdout)
	if m == nil {
		t.Fatalf("no run id in %q", run.stdout)
	}
	runID := m[1]
	again := runSubmit(t, "plan", "--source", src, "--depth", "2", "--from-run", runID, "--dest", dst)
	if again.code != 0 || !strings.Contains(again.stdout, "basis: from run "+runID+": 16 images rendered") {
		t.Fatalf("--from-run exit %d:\n%s\n%s", again.code, again.stdout, again.stderr)
	}
}
