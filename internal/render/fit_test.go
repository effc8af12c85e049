package render

import (
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/airbusgeo/godal"

	"quicklook/internal/imagetest"
	"quicklook/internal/naming"
)

var (
	square = naming.Profile{Name: "sq", Format: naming.PNG, Fit: naming.FitCover, Width: 200, Height: 200}
	north  = naming.Profile{Name: "top", Format: naming.PNG, Fit: naming.FitCover, Width: 120, Height: 60, Gravity: "north"}
	card   = naming.Profile{Name: "card", Format: naming.PNG, Width: 640, Height: 360}
	small  = naming.Profile{Name: "thumb", Format: naming.JPEG, Size: 256}
)

// Each fit gives the dimensions it promises, on a landscape, a portrait
// (stored turned, with an EXIF orientation) and a NAIP-like 4-band image:
// cover exactly its box, inside within its box with one side equal (or the
// source's size, never enlarged).
func TestFitsGiveTheirDimensions(t *testing.T) {
	dir := t.TempDir()
	land := imagetest.Picture(1200, 800)
	os.WriteFile(filepath.Join(dir, "landscape.jpg"), imagetest.JPEG(land), 0o644)
	os.WriteFile(filepath.Join(dir, "portrait.jpg"), imagetest.JPEGOriented(imagetest.Display(land, 6), 6), 0o644)
	writeGeoTIFF(t, filepath.Join(dir, "naip.tif"), 900, 700, godal.Byte, footprint(900, 700, false), false)
	opt := Options{Profiles: []naming.Profile{square, north, card, small}}
	for _, c := range []struct {
		key  string
		want map[string][2]int
	}{
		{"landscape.jpg", map[string][2]int{"sq": {200, 200}, "top": {120, 60}, "card": {540, 360}, "thumb": {256, 171}}},
		{"portrait.jpg", map[string][2]int{"sq": {200, 200}, "top": {120, 60}, "card": {240, 360}, "thumb": {171, 256}}},
		{"naip.tif", map[string][2]int{"sq": {200, 200}, "top": {120, 60}, "card": {463, 360}, "thumb": {256, 199}}},
	} {
		t.Run(c.key, func(t *testing.T) {
			res, err := Render(t.Context(), &dirSource{dir: dir}, c.key, nil, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Outputs {
				img := decode(t, o.Data)
				got := [2]int{img.Bounds().Dx(), img.Bounds().Dy()}
				if got != c.want[o.Profile.Name] || got != [2]int{o.Width, o.Height} {
					t.Errorf("%s: %v (reported %dx%d), want %v", o.Profile.Name, got, o.Width, o.Height, c.want[o.Profile.Name])
				}
			}
		})
	}
}

// A cover crop keeps the centre, or the side its gravity names: of a
// portrait picture whose top half is red and green and bottom half blue
// and white, a north crop to a wide box shows only the top.
func TestCoverCropKeepsItsGravity(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tall.png"), encodePNG(imagetest.Picture(400, 800)), 0o644)
	centre := naming.Profile{Name: "c", Format: naming.PNG, Fit: naming.FitCover, Width: 100, Height: 100}
	south := north
	south.Name, south.Gravity = "s", "south"
	res, err := Render(t.Context(), &dirSource{dir: dir}, "tall.png", nil, Options{Profiles: []naming.Profile{north, south, centre}})
	if err != nil {
		t.Fatal(err)
	}
	top, bottom, mid := decode(t, res.Outputs[0].Data), decode(t, res.Outputs[1].Data), decode(t, res.Outputs[2].Data)
	if !near(top.At(10, 50), imagetest.TopLeft, 30) || !near(top.At(110, 50), imagetest.TopRight, 30) {
		t.Errorf("north crop shows %v and %v, want the top quadrants", top.At(10, 50), top.At(110, 50))
	}
	if !near(bottom.At(10, 10), imagetest.BottomLeft, 30) || !near(bottom.At(110, 10), imagetest.BottomRight, 30) {
		t.Errorf("south crop shows %v and %v, want the bottom quadrants", bottom.At(10, 10), bottom.At(110, 10))
	}
	// The centre crop straddles the middle: top quadrants above, bottom below.
	if !near(mid.At(10, 5), imagetest.TopLeft, 30) || !near(mid.At(90, 95), imagetest.BottomRight, 30) {
		t.Errorf("centre crop corners %v and %v", mid.At(10, 5), mid.At(90, 95))
	}
}

// Every output of an image comes from one read: three outputs read the
// same bytes as the largest alone, counted by the source.
func TestOutputsShareOneRead(t *testing.T) {
	dir := t.TempDir()
	key := "scene.tif"
	writeGeoTIFF(t, filepath.Join(dir, key), 3000, 2400, godal.Byte, footprint(3000, 2400, false), true)
	big := naming.Profile{Name: "big", Format: naming.PNG, Width: 640, Height: 360}
	alone := &dirSource{dir: dir}
	if _, err := Render(t.Context(), alone, key, nil, Options{Profiles: []naming.Profile{big}}); err != nil {
		t.Fatal(err)
	}
	three := &dirSource{dir: dir}
	res, err := Render(t.Context(), three, key, nil, Options{Profiles: []naming.Profile{small, square, big}})
	if err != nil {
		t.Fatal(err)
	}
	if three.bytes.Load() != alone.bytes.Load() {
		t.Errorf("three outputs read %d bytes, the largest alone %d", three.bytes.Load(), alone.bytes.Load())
	}
	if len(res.Outputs) != 3 {
		t.Fatalf("%d outputs", len(res.Outputs))
	}
	t.Logf("three outputs from %d bytes in %d reads", three.bytes.Load(), three.reads.Load())
}

// Per-output overrides: a cir output of NAIP-like data shows the 4th band
// as red, beside the natural-colour output of the same read.
func TestOutputOverridesBands(t *testing.T) {
	dir := t.TempDir()
	writeGeoTIFF(t, filepath.Join(dir, "naip.tif"), 300, 200, godal.Byte, footprint(300, 200, false), false)
	cir := naming.Profile{Name: "cir", Format: naming.PNG, Size: 64, Bands: "cir"}
	natural := naming.Profile{Name: "rgb", Format: naming.PNG, Size: 64}
	res, err := Render(t.Context(), &dirSource{dir: dir}, "naip.tif", nil, Options{Profiles: []naming.Profile{natural, cir}})
	if err != nil {
		t.Fatal(err)
	}
	rgb, nir := decode(t, res.Outputs[0].Data), decode(t, res.Outputs[1].Data)
	r1, _, b1, _ := rgb.At(32, 20).RGBA()
	r2, g2, _, _ := nir.At(32, 20).RGBA()
	// footprint: band 3 (blue) is 120 everywhere; cir puts band 1 in green.
	if b1>>8 != 120 || g2>>8 != r1>>8 || r2 == r1 {
		t.Errorf("rgb %v, cir %v: cir should show band 4 as red and band 1 as green", rgb.At(32, 20), nir.At(32, 20))
	}
	_ = color.White
}
