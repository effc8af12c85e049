package main

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/imagehead"
)

// The README's profiles file: a 256 px JPEG, a 200x200 square and a
// 640x360 box, from one run; job url names each by the same file.
const readmeProfiles = `[
  {"name": "thumb",  "format": "jpeg", "size": 256},
  {"name": "square", "format": "webp", "fit": "cover",  "width": 200, "height": 200, "quality": 70, "gravity": "north"},
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
		if fi, err := os.Stat(o); err != nil || fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		// The dimensions its header claims (Go has no WebP decoder), with
		// the format the bytes are.
		h := imagehead.Sniff(data)
		sizes[strings.SplitN(filepath.Base(o), ".", 2)[1]+" "+h.Driver] = image.Pt(int(h.Width), int(h.Height))
	}
	// The sample is smaller than the card box: inside never enlarges, so the
	// card is the whole picture at its size, the thumb its longest side at 256.
	thumb, card := sizes["thumb.jpg JPEG"], sizes["card.png PNG"]
	if sizes["square.webp WEBP"] != image.Pt(200, 200) || max(thumb.X, thumb.Y) != 256 || card.X > 640 || card.Y > 360 ||
		max(card.X, card.Y) < 256 || abs(card.X*thumb.Y-card.Y*thumb.X) > max(card.X, card.Y) {
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
	for _, want := range []string{`"thumbnail":{"href":"https://t.example/`, ".thumb.jpg", `"thumbnail-square":{`, ".square.webp", `"thumbnail-card":{`, ".card.png",
		`"title":"Thumbnail (256 px JPEG)"`, `"title":"Thumbnail (200x200 WebP crop (north))"`, `"title":"Thumbnail (PNG within 640x360, bands cir)"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("STAC entry lacks %s:\n%.1500s", want, r.stdout)
		}
	}
	if ok, out := validateSTAC(t, r.stdout); !ok {
		t.Errorf("items with an asset per output are not valid STAC Items: %s", out)
	}
	r = runBin(t, nil, "url", "--url-base", "https://t.example/", "--profiles", file, "--stac", "--output", "card", "--output", "square", item)
	if r.code != 0 || !strings.Contains(r.stdout, `"thumbnail":{"href":"https://t.example/`) || strings.Contains(r.stdout, ".thumb.jpg") ||
		!strings.Contains(r.stdout, `"thumbnail-square":{`) || strings.Contains(r.stdout, `"thumbnail-card"`) {
		t.Errorf("--stac --output card --output square: exit %d: %.1500s%s", r.code, r.stdout, r.stderr)
	}
	// A key points at one output: the one named, else a usage error listing them.
	r = runBin(t, nil, "url", "--url-base", "https://t.example/", "--profiles", file, "--output", "square", "al/x.tif")
	if r.code != 0 || r.stdout != "https://t.example/al/x.square.webp\n" {
		t.Errorf("--output square: exit %d: %q %s", r.code, r.stdout, r.stderr)
	}
	for args, want := range map[string]string{
		"":              "give --output NAME",
		"--output sq":   `no output named "sq": the outputs are thumb (*.thumb.jpg), square (*.square.webp), card (*.card.png)`,
		"--output card": "",
	} {
		r = runBin(t, nil, append(append([]string{"url", "--url-base", "https://t.example/", "--profiles", file}, strings.Fields(args)...), "al/x.tif")...)
		if want == "" && (r.code != 0 || r.stdout != "https://t.example/al/x.card.png\n") || want != "" && (r.code != 2 || !strings.Contains(r.stderr, want)) {
			t.Errorf("url %s: exit %d: %s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

func abs(n int) int { return max(n, -n) }
