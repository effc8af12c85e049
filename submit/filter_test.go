package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/batchtest"
	"quicklook/internal/planfile"
	"quicklook/internal/planner"
	"quicklook/internal/testenv"
)

// mixedFolder makes two prefixes, each with a GeoTIFF and a PNG.
func mixedFolder(t *testing.T) string {
	t.Helper()
	real := testenv.RealData(t)
	crops, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	png := filepath.Join(real, "photo/png/its_grey16_alpha.png")
	src := t.TempDir()
	for key, from := range map[string]string{
		"al/2013/a.tif": crops[0], "al/2013/b.png": png,
		"ga/2013/c.tif": crops[1], "ga/2013/d.png": png,
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(src, filepath.Dir(key)), 0o755)
		os.WriteFile(filepath.Join(src, key), b, 0o644)
	}
	return src
}

func thumbnails(t *testing.T, dst string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".thumb.jpg") {
			rel, _ := filepath.Rel(dst, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// --ext reaches every job: the local executor renders only what was asked,
// per prefix and as array shards.
func TestExtReachesEveryLocalJob(t *testing.T) {
	src := mixedFolder(t)
	for _, mode := range [][]string{nil, {"--array"}} {
		dst := t.TempDir()
		args := append([]string{"run", "--executor", "local", "--source", src, "--dest", dst, "--depth", "2", "--ext", "tif",
			"--job-bin", jobBin, "--log-dir", filepath.Join(t.TempDir(), "logs")}, mode...)
		r := runSubmit(t, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d:\n%s\n%s", mode, r.code, r.stdout, r.stderr)
		}
		if got := strings.Join(thumbnails(t, dst), ","); got != "al/2013/a.thumb.jpg,ga/2013/c.thumb.jpg" {
			t.Fatalf("%v: thumbnails %s, want those of the two .tif only", mode, got)
		}
	}
}

// Through the Batch stand-in: the requests carry the filter (environment),
// and array jobs' plan files carry it too.
func TestExtIsInEveryBatchRequestAndPlanFile(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	src := mixedFolder(t)
	for _, mode := range [][]string{nil, {"--array"}} {
		dst := t.TempDir()
		r := runSubmit(t, append([]string{"run", "--executor", "batch", "--queue", "q", "--definition", "d", "--source", src, "--dest", dst,
			"--depth", "2", "--ext", ".TIF"}, mode...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d:\n%s\n%s", mode, r.code, r.stdout, r.stderr)
		}
	}
	jobs := fake.Jobs()
	if len(jobs) != 3 { // two prefixes, then one array job of... one shard: a plain job reading a plan
		t.Fatalf("%d jobs reached Batch, want 3", len(jobs))
	}
	plans := 0
	for _, j := range jobs {
		if j.Environment["QUICKLOOK_EXT"] != "tif" {
			t.Fatalf("job %s environment %v: no QUICKLOOK_EXT=tif", j.Name, j.Environment)
		}
		loc := j.Environment["QUICKLOOK_PLAN"]
		if loc == "" {
			continue
		}
		plans++
		b, err := os.ReadFile(loc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planfile.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if p.Filter == nil || strings.Join(p.Filter.Extensions, ",") != "tif" || p.Shards[0].Objects != 2 {
			t.Fatalf("plan file %s: filter %+v, shards %+v", loc, p.Filter, p.Shards)
		}
	}
	if plans != 1 {
		t.Fatalf("%d jobs read a plan file, want 1", plans)
	}
}

// A profiles file is checked once by the submitter and given, as it is, to
// every job; a bad one is a usage error before anything is planned.
func TestProfilesFileGoesToEveryJob(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	src := prefixes(t, 3, 10)
	file := filepath.Join(t.TempDir(), "profiles.json")
	os.WriteFile(file, []byte(`[{"name":"thumb","format":"jpeg","size":256},{"name":"sq","format":"webp","fit":"cover","width":200,"height":200}]`), 0o644)
	r := runSubmit(t, "run", "--executor", "batch", "--queue", "q", "--definition", "d", "--source", src, "--dest", t.TempDir(), "--depth", "2",
		"--profiles", file)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := `[{"name":"thumb","format":"jpeg","size":256},{"name":"sq","format":"webp","fit":"cover","width":200,"height":200}]`
	for _, j := range fake.Jobs() {
		if got := j.Environment["QUICKLOOK_PROFILES"]; got != want {
			t.Fatalf("job %s has QUICKLOOK_PROFILES=%s", j.Name, got)
		}
	}
	// The guess prices a write per output: two outputs, one more PUT an image.
	puts := func(args ...string) (int64, int) {
		out := filepath.Join(t.TempDir(), "plan.json")
		if r := runSubmit(t, append([]string{"plan", "--source", src, "--count", "--output", out}, args...)...); r.code != 0 {
			t.Fatalf("plan %v: exit %d: %s", args, r.code, r.stderr)
		}
		var inv planner.Inventory
		data, _ := os.ReadFile(out)
		if err := json.Unmarshal(data, &inv); err != nil || inv.Estimate == nil {
			t.Fatalf("plan file: %v %s", err, data)
		}
		return inv.Estimate.Requests.PUT, inv.Objects
	}
	one, images := puts()
	two, _ := puts("--profiles", file)
	if images == 0 || two-one != int64(images) {
		t.Errorf("predicted PUTs: %d with one output, %d with two, for %d images", one, two, images)
	}
	// A file too large for a Batch request is refused before any listing.
	var many []string
	for i := range 200 {
		many = append(many, fmt.Sprintf(`{"name":"o%d","format":"webp","fit":"cover","width":200,"height":200,"quality":80,"gravity":"north"}`, i))
	}
	os.WriteFile(file, []byte("["+strings.Join(many, ",")+"]"), 0o644)
	if r := runSubmit(t, "plan", "--source", src, "--profiles", file); r.code != 2 || !strings.Contains(r.stderr, "200 outputs take") {
		t.Fatalf("a profiles file over the request limit: exit %d: %s", r.code, r.stderr)
	}
	os.WriteFile(file, []byte(`[{"name":"thumb","format":"jpeg","size":-1}]`), 0o644)
	if r := runSubmit(t, "plan", "--source", src, "--profiles", file); r.code != 2 || !strings.Contains(r.stderr, "size -1") {
		t.Fatalf("bad profiles file: exit %d: %s", r.code, r.stderr)
	}
}
