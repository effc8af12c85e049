package main

import (
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's profiles file: a 256 px JPEG, a 200x200 square and a
// 640x360 box, from one run; job url names each by the same file.
const readmeProfiles = `[
  {"name": "thumb",  "format": "jpeg", "size": 256},
  {"name": "square", "format": "png",  "fit": "cover",  "width": 200, "height": 200, "gravity": "north"},
  {"name": "card",   "format": "png",  "fit": "inside", "width": 640, "height": 360, "bands": "cir"}
]`

func TestProfilesFile(t *testing.T) {
	dir := filepath.Join(sampleFolder(t, 2), "src")
	file := filepath.Join(t.TempDir(), "profiles.json")
	os.WriteFile(file, []byte(readmeProfiles), 0o644)
	dst := filepath.Join(t.TempDir(), "thumbs")
	r := runBin(t, nil, "run", "--source", dir, "--dest", dst, "--profiles", file)
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	outs, _ := filepath.Glob(filepath.Join(dst, "*", "*", "*", "*"))
	sizes := map[string]image.Point{}
	for _, o := range outs {
		f, err := os.Open(o)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			continue
		}
		sizes[strings.SplitN(filepath.Base(o), ".", 2)[1]] = image.Pt(cfg.Width, cfg.Height)
	}
	if sizes["square.png"] != image.Pt(200, 200) || sizes["card.png"].Y > 360 || sizes["card.png"].X > 640 || sizes["thumb.jpg"].X == 0 {
		t.Fatalf("outputs %v", sizes)
	}
	// Every profiles error is a usage error naming its field, before any work.
	for bad, want := range map[string]string{
		`[{"name": "a", "format": "jpeg", "sise": 256}]`:                                            `unknown field`,
		`[{"name": "a", "format": "jpeg", "size": 0}]`:                                              `size 0`,
		`[{"name": "a", "format": "jpeg", "size": 9}, {"name": "a", "format": "jpeg", "size": 90}]`: `both write *.a.jpg`,
	} {
		os.WriteFile(file, []byte(bad), 0o644)
		r := runBin(t, nil, "run", "--source", dir, "--dest", t.TempDir(), "--profiles", file)
		if r.code != 2 || !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("%s: exit %d, output lacks %q:\n%s%s", bad, r.code, want, r.stdout, r.stderr)
		}
	}
	if r := runBin(t, nil, "run", "--source", dir, "--dest", t.TempDir(), "--profiles", file, "--profile", "x:9:png"); r.code != 2 {
		t.Errorf("--profile with --profiles: exit %d", r.code)
	}
	// The indexer step reads the same file and names the output it is asked for.
	os.WriteFile(file, []byte(readmeProfiles), 0o644)
	item := filepath.Join(t.TempDir(), "item.json")
	os.WriteFile(item, []byte(planetaryComputerItem("ne")), 0o644)
	r = runBin(t, nil, "url", "--url-base", "https://t.example/", "--profiles", file, "--stac", item)
	if r.code != 0 {
		t.Fatalf("url with --stac and --profiles: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{".thumb.jpg", ".square.png", ".card.png"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("STAC entry lacks %s:\n%.1500s", want, r.stdout)
		}
	}
}
