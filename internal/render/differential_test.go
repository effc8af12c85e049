package render

import (
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/airbusgeo/godal"

	"quicklook/internal/imagetest"
	"quicklook/internal/naming"
	"quicklook/internal/testenv"
)

// The largest mean absolute difference (0-255, over RGB composited on
// black) allowed between the job's thumbnail and the reference's. Measured
// over the real photos and the generated set: the agreeing files differ by
// at most about 3 (resampling filters differ: vips uses a Lanczos kernel,
// the job an area average), the generated ones by under 1.
const maxMeanDiff = 6.0

// Files where the job is right and vipsthumbnail is not (or where the two
// choose differently on purpose), and why.
var vipsDiffers = map[string]string{
	"photo/tiff/its_grey16.tif":             "16-bit grey: the job stretches 2-98%, vips shows the raw range (a dark picture)",
	"photo/png/its_grey16_alpha.png":        "16-bit grey: the job stretches 2-98%, vips shows the raw range",
	"photo/tiff/its_float_logluv_xyz.tif":   "LogLuv float: the job stretches 2-98%, vips shows linear XYZ",
	"photo/tiff/its_cmyk.tif":               "CMYK: GDAL converts it to RGB as libtiff does, vips through the ICC profile: the colours differ a little",
	"photo/tiff/its_cmyk_alpha_5band.tif":   "CMYK with a 5th sample of an invalid kind (ExtraSamples 999): vips takes it for alpha and hides all but the products, GDAL reads the picture whole",
	"photo/png/its_cmyk_icc_in_rgb_png.png": "an RGB PNG with a CMYK ICC profile (invalid): vips applies the profile anyway, the job shows the RGB values",
	"photo/tiff/its_ycbcr_subsampled.tif":   "old-style JPEG in TIFF, subsampled: vips cannot read it ('subsampled images not supported'), GDAL can",
}

// Every photo of the real test data and of the generated set, against
// vipsthumbnail at 256 px: the same orientation and size (1 px), and a
// small mean difference.
func TestPhotosAgreeWithVipsthumbnail(t *testing.T) {
	vips := testenv.Tool(t, "vipsthumbnail")
	root := testenv.RealData(t)
	dir := t.TempDir()
	var cases []string
	filepath.WalkDir(filepath.Join(root, "photo"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			cases = append(cases, rel)
		}
		return nil
	})
	// The generated set, written beside them.
	pic := imagetest.Picture(300, 200)
	generated := map[string][]byte{
		"gen/junk_before_first_marker.jpg": imagetest.JPEGJunkBeforeFirstMarker(pic),
		"gen/stray_ff00.jpg":               imagetest.JPEGStrayFF00(pic),
		"gen/truncated_app14.jpg":          imagetest.JPEGTruncatedAPP14(pic),
		"gen/animated.gif":                 imagetest.AnimatedGIF(pic, image.NewRGBA(pic.Bounds())),
	}
	for o := 1; o <= 8; o++ {
		generated["gen/o"+strconv.Itoa(o)+".jpg"] = imagetest.JPEGOriented(pic, o)
		generated["gen/o"+strconv.Itoa(o)+".png"] = imagetest.PNGOriented(pic, o)
		generated["gen/o"+strconv.Itoa(o)+".webp"] = imagetest.WebPOriented(t, pic, o)
		generated["gen/o"+strconv.Itoa(o)+".tif"] = imagetest.TIFFOriented(pic, o)
	}
	for k, b := range generated {
		os.MkdirAll(filepath.Join(dir, "gen"), 0o755)
		os.WriteFile(filepath.Join(dir, k), b, 0o644)
		cases = append(cases, k)
	}
	sort.Strings(cases)
	opt := Options{Profiles: []naming.Profile{{Name: "t", Size: 256, Format: naming.PNG}}}
	worst := 0.0
	for _, rel := range cases {
		t.Run(rel, func(t *testing.T) {
			base, src := root, &dirSource{dir: root}
			if strings.HasPrefix(rel, "gen/") {
				base, src = dir, &dirSource{dir: dir}
			}
			res, err := Render(t.Context(), src, rel, nil, opt)
			if err != nil {
				t.Skipf("the job refuses it (%v): covered by the hostile-file tests", err)
			}
			ref := filepath.Join(t.TempDir(), "ref.png")
			if out, err := exec.Command(vips, filepath.Join(base, rel)+"[n=1]", "-s", "256x256>", "-o", ref).CombinedOutput(); err != nil {
				// vips reads only the first page of an animation with [n=1];
				// formats without pages take no option.
				if out2, err2 := exec.Command(vips, filepath.Join(base, rel), "-s", "256x256>", "-o", ref).CombinedOutput(); err2 != nil {
					if why, ok := vipsDiffers[rel]; ok {
						t.Logf("vipsthumbnail fails, as expected: %s", why)
						return
					}
					t.Fatalf("vipsthumbnail: %v\n%s\n%s", err2, out, out2)
				}
			}
			rb, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			got, want := decode(t, res.Outputs[0].Data), decode(t, rb)
			gb, wb := got.Bounds(), want.Bounds()
			if abs(gb.Dx()-wb.Dx()) > 1 || abs(gb.Dy()-wb.Dy()) > 1 {
				t.Fatalf("thumbnail %dx%d, vipsthumbnail's %dx%d", gb.Dx(), gb.Dy(), wb.Dx(), wb.Dy())
			}
			d := meanAbsDiff(onBlack(got), onBlack(want))
			if why, ok := vipsDiffers[rel]; ok {
				t.Logf("differs by %.1f, as expected: %s", d, why)
				return
			}
			worst = max(worst, d)
			if d > maxMeanDiff {
				t.Errorf("mean difference %.1f from vipsthumbnail's (at most %.0f)", d, maxMeanDiff)
			}
		})
	}
	t.Logf("largest mean difference of the agreeing files: %.2f", worst)
}

// Every 8-bit GeoTIFF and COG of the real test data, against gdal_translate
// -outsize with average resampling, compared where GDAL's mask says there
// are data (the job's transparent pixels are GDAL's masked ones).
func TestGeoTIFFsAgreeWithGDALTranslate(t *testing.T) {
	gdalTranslate := testenv.Tool(t, "gdal_translate")
	root := testenv.RealData(t)
	var cases []string
	for _, sub := range []string{"geotiff", "cog"} {
		filepath.WalkDir(filepath.Join(root, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".tif") {
				rel, _ := filepath.Rel(root, p)
				cases = append(cases, rel)
			}
			return nil
		})
	}
	opt := Options{Profiles: []naming.Profile{{Name: "t", Size: 256, Format: naming.PNG}}}
	compared, worst := 0, 0.0
	for _, rel := range cases {
		t.Run(rel, func(t *testing.T) {
			res, err := Render(t.Context(), &dirSource{dir: root}, rel, []string{rel + ".ovr"}, opt)
			if err != nil {
				t.Skipf("the job refuses it: %v", err)
			}
			info, _ := exec.Command("gdalinfo", filepath.Join(root, rel)).Output()
			if !strings.Contains(string(info), "Type=Byte") || strings.Contains(string(info), "Color Table") {
				t.Skip("not 8-bit RGB or grey: the job stretches or expands it, gdal_translate does not")
			}
			out := res.Outputs[0]
			bands := []string{"-b", "1", "-b", "2", "-b", "3"}
			if !strings.Contains(string(info), "Band 3") {
				bands = []string{"-b", "1", "-b", "1", "-b", "1"}
			}
			// ColorInterp order (Blue,Green,Red files) is the job's business:
			// compared in the file's own RGB tags when it has them.
			if strings.Contains(string(info), "ColorInterp=Blue") && strings.Index(string(info), "ColorInterp=Blue") < strings.Index(string(info), "ColorInterp=Red") {
				bands = []string{"-b", "3", "-b", "2", "-b", "1"}
			}
			ref := filepath.Join(t.TempDir(), "ref.tif")
			args := append(append([]string{"-q", "-of", "GTiff", "-r", "average", "-outsize", strconv.Itoa(out.Width), strconv.Itoa(out.Height)}, bands...), "-b", "mask", filepath.Join(root, rel), ref)
			if b, err := exec.Command(gdalTranslate, args...).CombinedOutput(); err != nil {
				t.Fatalf("gdal_translate: %v\n%s", err, b)
			}
			want := readRGBM(t, ref)
			got := decode(t, out.Data)
			sum, n := 0.0, 0
			for y := 0; y < out.Height; y++ {
				for x := 0; x < out.Width; x++ {
					i := y*out.Width + x
					if want.m[i] < 255 {
						continue // GDAL masks it; the job's transparency is tested elsewhere
					}
					r, g, b, a := got.At(x, y).RGBA()
					if a>>8 < 255 {
						continue
					}
					sum += (absf(float64(r>>8)-float64(want.r[i])) + absf(float64(g>>8)-float64(want.g[i])) + absf(float64(b>>8)-float64(want.b[i]))) / 3
					n++
				}
			}
			if n == 0 {
				t.Skip("no pixel both unmasked")
			}
			d := sum / float64(n)
			compared++
			worst = max(worst, d)
			if d > maxMeanDiff {
				t.Errorf("mean difference %.1f from gdal_translate's (at most %.0f)", d, maxMeanDiff)
			}
		})
	}
	if compared < 10 {
		t.Errorf("only %d GeoTIFFs compared", compared)
	}
	t.Logf("%d GeoTIFFs compared; largest mean difference %.2f", compared, worst)
}

type rgbm struct{ r, g, b, m []uint8 }

// readRGBM reads gdal_translate's 4-band output (R, G, B, mask) with GDAL.
func readRGBM(t *testing.T, path string) rgbm {
	t.Helper()
	ds, err := godalOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	st := ds.Structure()
	n := st.SizeX * st.SizeY
	var out [4][]uint8
	for i := range out {
		out[i] = make([]uint8, n)
		if err := ds.Bands()[i].Read(0, 0, out[i], st.SizeX, st.SizeY); err != nil {
			t.Fatal(err)
		}
	}
	return rgbm{out[0], out[1], out[2], out[3]}
}

// onBlack composites an image over black, as RGB.
func onBlack(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA() // premultiplied: over black already
			out.Set(x, y, color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255})
		}
	}
	return out
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func absf(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func godalOpen(path string) (*godal.Dataset, error) { return godal.Open(path) }
