package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"quicklook/internal/imagetest"
	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/render"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// A collection rendered before a change of the rendering rules is made
// again only where the change touches it, as each image's header says (one
// read of its first bytes, once): an oriented PNG and an RGBA GeoTIFF with
// a mask are made again; a JPEG and a GeoTIFF of four plain bands are not.
func TestRulesChangeRemakesOnlyTheThumbnailsItTouches(t *testing.T) {
	real := testenv.RealData(t)
	root := t.TempDir()
	copyFile(t, filepath.Join(real, "photo/jpeg/rasterio_nasa_sw_1965.jpg"), filepath.Join(root, "src/p/photo.jpg"))
	copyFile(t, filepath.Join(real, "geotiff/naip/m_4112001_sw_10_060_20220716.tif"), filepath.Join(root, "src/p/naip.tif"))
	copyFile(t, filepath.Join(real, "geotiff/landsat/RGBA.byte.tif"), filepath.Join(root, "src/p/rgba.tif"))
	if err := os.WriteFile(filepath.Join(root, "src/p/turned.png"), imagetest.PNGOriented(imagetest.Picture(60, 40), 6), 0o644); err != nil {
		t.Fatal(err)
	}
	src, _ := storage.OpenLocal(filepath.Join(root, "src"), false)
	dst, _ := storage.OpenLocal(filepath.Join(root, "dst"), true)
	cfg := Config{Source: src, Dest: dst, Prefix: "p/", Concurrency: 2}
	first := runJob(t, cfg)
	for _, r := range readManifest(t, dst, first.Summary.Manifest) {
		if r.Rules != render.RulesVersion {
			t.Fatalf("%s made under rules %d, want %d", r.Key, r.Rules, render.RulesVersion)
		}
	}
	// As an older job left it: records without the rules version.
	path := filepath.Join(root, "dst", first.Summary.Manifest)
	var old []byte
	for _, r := range readManifest(t, dst, first.Summary.Manifest) {
		r.Rules = 0
		b, _ := json.Marshal(r)
		old = append(append(old, b...), '\n')
	}
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	second := runJob(t, cfg)
	recs := byKey(readManifest(t, dst, second.Summary.Manifest))
	for key, want := range map[string]manifest.Status{"p/turned.png": manifest.Updated, "p/rgba.tif": manifest.Updated,
		"p/photo.jpg": manifest.Skipped, "p/naip.tif": manifest.Skipped} {
		if r := recs[key]; r.Status != want || r.Rules != render.RulesVersion {
			t.Errorf("%s: %s under rules %d, want %s under %d", key, r.Status, r.Rules, want, render.RulesVersion)
		}
		if r := recs[key]; want == manifest.Skipped && (r.Requests.GET != 1 || r.CPUSeconds != 0) {
			t.Errorf("%s: checked with %d GETs and %.2f CPU-s, want one read of its header", key, r.Requests.GET, r.CPUSeconds)
		}
	}
	third := runJob(t, cfg)
	if third.Summary.Skipped != 4 {
		t.Fatalf("third run: %d skipped, want 4", third.Summary.Skipped)
	}
	for _, r := range readManifest(t, dst, third.Summary.Manifest) {
		if r.Requests.GET != 0 {
			t.Errorf("third run read %s again (%d GETs)", r.Key, r.Requests.GET)
		}
	}
}

// Changing one output's quality makes that output again, and only it.
func TestChangingOneProfileRemakesOnlyThatOutput(t *testing.T) {
	src, dst, keys := collection(t)
	thumb := naming.DefaultProfile
	square := naming.Profile{Name: "sq", Format: naming.JPEG, Fit: naming.FitCover, Width: 100, Height: 100, Quality: 80}
	cfg := Config{Source: src, Dest: dst, Prefix: "al/2013/", Concurrency: 2}
	cfg.Render.Profiles = []naming.Profile{thumb, square}
	runJob(t, cfg)
	stat := func(k string, p naming.Profile) storage.Object {
		o, err := dst.Stat(context.Background(), naming.OutputKey("", k, p))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := map[string][2]storage.Object{}
	for _, k := range keys {
		before[k] = [2]storage.Object{stat(k, thumb), stat(k, square)}
	}
	square.Quality = 60
	cfg.Render.Profiles = []naming.Profile{thumb, square}
	res := runJob(t, cfg)
	if res.Summary.Updated != len(keys) {
		t.Fatalf("second run: %+v", res.Summary)
	}
	for _, k := range keys {
		if a := stat(k, thumb); a.ETag != before[k][0].ETag {
			t.Errorf("%s: the unchanged output was written again", k)
		}
		if b := stat(k, square); b.ETag == before[k][1].ETag || b.Metadata[MetaSettings] == before[k][1].Metadata[MetaSettings] {
			t.Errorf("%s: the changed output was not made again", k)
		}
	}
}
