package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/planfile"
	"quicklook/internal/sources"
	"quicklook/internal/testenv"
)

// The filter a plan file carries is the one its children apply: the
// submitter counted the shards with it.
func TestPlanFilesFilterIsTheOneTheJobApplies(t *testing.T) {
	real := testenv.RealData(t)
	crops, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	png := filepath.Join(real, "photo/png/its_grey16_alpha.png")
	src, dst := t.TempDir(), t.TempDir()
	for key, from := range map[string]string{"al/2013/a.tif": crops[0], "al/2013/b.png": png, "al/2013/c.png": png} {
		b, _ := os.ReadFile(from)
		os.MkdirAll(filepath.Join(src, filepath.Dir(key)), 0o755)
		os.WriteFile(filepath.Join(src, key), b, 0o644)
	}
	p := planfile.Plan{Version: planfile.Version, RunID: "f1", Source: src, Dest: dst,
		Filter: &sources.Filter{Extensions: []string{"png"}},
		Shards: []planfile.Shard{{Ranges: []planfile.Range{{Prefix: "al/2013/"}}, Objects: 2}}}
	b, _ := json.Marshal(p)
	loc := filepath.Join(t.TempDir(), "plan.json")
	os.WriteFile(loc, b, 0o644)

	// The job's own default --ext takes .tif too; the plan's filter wins.
	r := runBin(t, nil, "run", "--plan", loc, "--shard", "0")
	if r.code != 0 || !strings.Contains(r.stdout, "2 created") || !strings.Contains(r.stdout, "1 other objects ignored") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for key, want := range map[string]bool{"al/2013/a.thumb.jpg": false, "al/2013/b.thumb.jpg": true, "al/2013/c.thumb.jpg": true} {
		if _, err := os.Stat(filepath.Join(dst, key)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", key, err == nil, want)
		}
	}
	// A job told another --ext than its plan was counted with refuses to start.
	r = runBin(t, nil, "run", "--plan", loc, "--shard", "0", "--ext", "tif")
	if r.code != 2 || !strings.Contains(r.stderr+r.stdout, "counted with --ext png") {
		t.Fatalf("conflicting --ext: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
