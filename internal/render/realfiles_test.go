package render

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airbusgeo/godal"

	"quicklook/internal/imagetest"
	"quicklook/internal/naming"
	"quicklook/internal/testenv"
)

// renderBytes renders data stored under key in a fresh folder.
func renderBytes(t *testing.T, key string, data []byte, opt Options) (*Result, error) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, key)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return Render(t.Context(), &dirSource{dir: dir}, key, nil, opt)
}

var pngProfile = Options{Profiles: []naming.Profile{{Name: "t", Size: 64, Format: naming.PNG}}}

// near reports whether two colours are within tol on every channel.
func near(a, b color.Color, tol int) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	d := func(x, y uint32) int { return int(math.Abs(float64(x>>8) - float64(y>>8))) }
	return d(r1, r2) <= tol && d(g1, g2) <= tol && d(b1, b2) <= tol
}

// checkUpright checks a thumbnail of imagetest.Picture: landscape, each
// quadrant's colour in its place.
func checkUpright(t *testing.T, img image.Image) {
	t.Helper()
	b := img.Bounds()
	if b.Dx() <= b.Dy() {
		t.Fatalf("thumbnail is %dx%d: the picture is landscape", b.Dx(), b.Dy())
	}
	at := func(fx, fy float64) color.Color {
		return img.At(b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+int(fy*float64(b.Dy())))
	}
	for _, q := range []struct {
		fx, fy float64
		want   color.RGBA
		name   string
	}{{0.2, 0.2, imagetest.TopLeft, "top left"}, {0.8, 0.2, imagetest.TopRight, "top right"},
		{0.8, 0.8, imagetest.BottomRight, "bottom right"}, {0.2, 0.8, imagetest.BottomLeft, "bottom left"}} {
		if got := at(q.fx, q.fy); !near(got, q.want, 40) {
			t.Errorf("%s is %v, want %v", q.name, got, q.want)
		}
	}
}

// All eight EXIF orientations, in every format that carries one: JPEG's
// APP1, PNG's eXIf chunk, WebP's EXIF chunk and TIFF's Orientation tag.
func TestEveryOrientationInEveryFormat(t *testing.T) {
	want := imagetest.Picture(96, 64)
	for o := 1; o <= 8; o++ {
		for _, f := range []struct {
			ext  string
			data func() []byte
		}{
			{"jpg", func() []byte { return imagetest.JPEGOriented(want, o) }},
			{"png", func() []byte { return imagetest.PNGOriented(want, o) }},
			{"webp", func() []byte { return imagetest.WebPOriented(t, want, o) }},
			{"tif", func() []byte { return imagetest.TIFFOriented(want, o) }},
		} {
			t.Run(fmt.Sprintf("%s/%d", f.ext, o), func(t *testing.T) {
				res, err := renderBytes(t, "o."+f.ext, f.data(), pngProfile)
				if err != nil {
					t.Fatal(err)
				}
				checkUpright(t, decode(t, res.Outputs[0].Data))
			})
		}
	}
}

// writeGeoTIFF writes a georeferenced GeoTIFF (or, cog, a COG of it) of
// the bands (one slice each) with the creation options.
func writeGeoTIFF(t *testing.T, path string, w, h int, dt godal.DataType, bands [][]float64, cog bool, opts ...string) {
	t.Helper()
	tmp := path + ".tmp.tif"
	ds, err := godal.Create(godal.GTiff, tmp, len(bands), dt, w, h, godal.CreationOption(opts...))
	if err != nil {
		t.Fatal(err)
	}
	ds.SetGeoTransform([6]float64{500000, 1, 0, 4000000, 0, -1})
	for i, b := range bands {
		if err := ds.Bands()[i].Write(0, 0, b, w, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	args := []string{"-of", "GTiff"}
	if cog {
		args = []string{"-of", "COG", "-co", "COMPRESS=DEFLATE"}
	}
	src, err := godal.Open(tmp)
	if err != nil {
		t.Fatal(err)
	}
	out, err := src.Translate(path, args)
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	src.Close()
	os.Remove(tmp)
}

// A footprint in a rectangle: RGB data inside a diamond, and a fourth band
// that is either a mask (0 outside, 255 inside) or, as NAIP's
// near-infrared, continuous.
func footprint(w, h int, mask bool) [][]float64 {
	bands := make([][]float64, 4)
	for i := range bands {
		bands[i] = make([]float64, w*h)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			inside := math.Abs(float64(x-w/2))/float64(w/2)+math.Abs(float64(y-h/2))/float64(h/2) < 1
			bands[0][i], bands[1][i], bands[2][i] = float64(60+x%100), float64(90+y%100), 120
			switch {
			case !mask:
				bands[3][i] = float64(30 + (x*7+y*3)%200)
			case inside:
				bands[3][i] = 255
			default:
				bands[0][i], bands[1][i], bands[2][i] = 0, 0, 0
			}
		}
	}
	return bands
}

// A GeoTIFF's alpha band is transparency when it is a mask (GDAL and
// rio-cogeo write one for a footprint), and data when it is continuous
// (NAIP's near-infrared, tagged alpha in some files).
func TestGeoTIFFAlphaIsTransparencyOnlyWhenAMask(t *testing.T) {
	dir := t.TempDir()
	const w, h = 200, 160
	cases := []struct {
		name        string
		mask, cog   bool
		transparent bool
	}{{"rgba.tif", true, false, true}, {"rgba_cog.tif", true, true, true}, {"naip_like.tif", false, false, false}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeGeoTIFF(t, filepath.Join(dir, c.name), w, h, godal.Byte, footprint(w, h, c.mask), c.cog, "ALPHA=YES", "PHOTOMETRIC=RGB")
			res, err := Render(t.Context(), &dirSource{dir: dir}, c.name, nil, Options{Profiles: []naming.Profile{
				{Name: "p", Size: 100, Format: naming.PNG}, {Name: "j", Size: 100, Format: naming.JPEG}}, Background: [3]uint8{255, 255, 255}})
			if err != nil {
				t.Fatal(err)
			}
			pngImg, jpgImg := decode(t, res.Outputs[0].Data), decode(t, res.Outputs[1].Data)
			_, _, _, a := pngImg.At(1, 1).RGBA()
			_, _, _, centre := pngImg.At(50, 40).RGBA()
			if centre>>8 != 255 {
				t.Errorf("the footprint's centre has alpha %d", centre>>8)
			}
			if got := a>>8 == 0; got != c.transparent {
				t.Errorf("corner alpha %d in PNG, want transparent=%v", a>>8, c.transparent)
			}
			if c.transparent && !near(jpgImg.At(1, 1), color.White, 8) {
				t.Errorf("corner in JPEG is %v, want the background (white)", jpgImg.At(1, 1))
			}
		})
	}
}

// A scene reprojected across the antimeridian: wide constant fill (7, not
// 0, and no nodata declared) left and right. The fill stays out of the
// 2-98 stretch, so the data spans the range as it does without the fill;
// with FillNodata it is transparent.
func TestConstantFillBorderIsLeftOutOfTheStretch(t *testing.T) {
	dir := t.TempDir()
	const w, h = 300, 200
	data := func(fill bool) [][]float64 {
		b := make([]float64, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				b[y*w+x] = 1000 + float64((x*13+y*7)%2000)
				if fill && (x < w*3/10 || x >= w*7/10) {
					b[y*w+x] = 7
				}
			}
		}
		return [][]float64{b}
	}
	writeGeoTIFF(t, filepath.Join(dir, "fill.tif"), w, h, godal.UInt16, data(true), true)
	writeGeoTIFF(t, filepath.Join(dir, "plain.tif"), w, h, godal.UInt16, data(false), true)
	centre := func(img image.Image) (lo, hi uint8) {
		lo, hi = 255, 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X + b.Dx()*4/10; x < b.Min.X+b.Dx()*6/10; x++ {
				g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
				lo, hi = min(lo, g), max(hi, g)
			}
		}
		return lo, hi
	}
	src := &dirSource{dir: dir}
	withFill, err := Render(t.Context(), src, "fill.tif", nil, pngProfile)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Render(t.Context(), src, "plain.tif", nil, pngProfile)
	if err != nil {
		t.Fatal(err)
	}
	flo, fhi := centre(decode(t, withFill.Outputs[0].Data))
	plo, phi := centre(decode(t, plain.Outputs[0].Data))
	if int(fhi)-int(flo) < int(phi-plo)-20 {
		t.Errorf("the data spans %d-%d with a fill border, %d-%d without: the fill washed out the stretch", flo, fhi, plo, phi)
	}
	opt := pngProfile
	opt.FillNodata = true
	asNodata, err := Render(t.Context(), src, "fill.tif", nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, asNodata.Outputs[0].Data)
	if _, _, _, a := img.At(2, 30).RGBA(); a != 0 {
		t.Errorf("with FillNodata the fill has alpha %d", a>>8)
	}
	if _, _, _, a := img.At(32, 20).RGBA(); a>>8 != 255 {
		t.Errorf("with FillNodata the data has alpha %d", a>>8)
	}
	if opt.Hash(opt.Profiles[0]) == pngProfile.Hash(pngProfile.Profiles[0]) {
		t.Error("FillNodata does not change the settings hash")
	}
}

// JPEGs with junk between segments are read whole, as libjpeg skips it;
// junk inside the scan, or a scan cut short, loses pixels: corrupt. A TIFF
// whose strips disagree with its size is corrupt too, while one whose byte
// counts are merely wrong, with the data all there, is read.
func TestDamageIsJudgedByWhatTheDecoderLost(t *testing.T) {
	pic := imagetest.Picture(96, 64)
	clean, err := renderBytes(t, "clean.jpg", imagetest.JPEG(pic), pngProfile)
	if err != nil {
		t.Fatal(err)
	}
	cleanImg := decode(t, clean.Outputs[0].Data)
	for name, data := range map[string][]byte{
		"junk before the first marker": imagetest.JPEGJunkBeforeFirstMarker(pic),
		"stray FF 00 between segments": imagetest.JPEGStrayFF00(pic),
		"truncated APP14":              imagetest.JPEGTruncatedAPP14(pic),
	} {
		t.Run(name, func(t *testing.T) {
			res, err := renderBytes(t, "x.jpg", data, pngProfile)
			if err != nil {
				t.Fatalf("readable JPEG refused: %v", err)
			}
			if d := meanAbsDiff(decode(t, res.Outputs[0].Data), cleanImg); d > 1 {
				t.Errorf("thumbnail differs from the clean JPEG's by %.2f", d)
			}
		})
	}
	for name, data := range map[string][]byte{
		"stray bytes inside the scan":  imagetest.JPEGJunkInScan(pic),
		"scan cut short":               imagetest.JPEGCutShort(pic),
		"TIFF strips for another size": imagetest.TIFF(pic, imagetest.TIFFOptions{RowsPerStrip: 8, ClaimRowsPerStrip: 16}),
		"TIFF strips past the end":     imagetest.TIFF(pic, imagetest.TIFFOptions{OffsetsPastEnd: true}),
	} {
		t.Run(name, func(t *testing.T) {
			key := "x.jpg"
			if strings.HasPrefix(name, "TIFF") {
				key = "x.tif"
			}
			_, err := renderBytes(t, key, data, pngProfile)
			var de *Error
			if !errors.As(err, &de) || de.Class != ClassCorrupt {
				t.Fatalf("got %v, want corrupt", err)
			}
			if strings.Contains(de.Msg, vsiPrefix) || !strings.Contains(de.Msg+key, key) {
				t.Errorf("message names an internal path: %s", de.Msg)
			}
		})
	}
}

// Error classes send an operator the right way: unsupported is a format
// the job does not read; a known format that is damaged is corrupt; a
// header claiming more pixels than allowed is too_large. Animated WebPs
// and GIFs show their first frame; a camera's .mpo its first picture.
func TestErrorClassesAndFirstFrames(t *testing.T) {
	pic := imagetest.Picture(96, 64)
	other := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for i := range other.Pix {
		other.Pix[i] = 0 // black, transparent: never the first frame's colours
	}
	for _, c := range []struct {
		key   string
		data  func() []byte
		class string
	}{
		{"random.png", func() []byte { return bytes.Repeat([]byte("not an image "), 50) }, ClassUnsupported},
		{"bomb.gif", func() []byte { return imagetest.GIFClaiming(60000, 60000) }, ClassTooLarge},
		{"huge.tif", func() []byte {
			return imagetest.TIFF(pic, imagetest.TIFFOptions{ClaimWidth: 100000, ClaimHeight: 100000})
		}, ClassTooLarge},
		{"crc.png", func() []byte { return imagetest.PNGBrokenChunk(pic) }, ClassCorrupt},
		{"past_end.tif", func() []byte { return imagetest.TIFF(pic, imagetest.TIFFOptions{OffsetsPastEnd: true}) }, ClassCorrupt},
		{"animated.webp", func() []byte { return imagetest.AnimatedWebP(t, pic, other) }, ""},
		{"animated.gif", func() []byte { return imagetest.AnimatedGIF(pic, other) }, ""},
		{"camera.mpo", func() []byte { return imagetest.MPO(pic, other) }, ""},
		{"named_wrong.tif", func() []byte { return imagetest.JPEG(pic) }, ""},
	} {
		t.Run(c.key, func(t *testing.T) {
			res, err := renderBytes(t, c.key, c.data(), Options{Profiles: pngProfile.Profiles, MaxPixels: 200_000_000})
			if c.class == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkUpright(t, decode(t, res.Outputs[0].Data))
				return
			}
			var de *Error
			if !errors.As(err, &de) || de.Class != c.class {
				t.Fatalf("got %v, want %s", err, c.class)
			}
			if strings.Contains(de.Msg, vsiPrefix) {
				t.Errorf("message names an internal path: %s", de.Msg)
			}
			t.Logf("%s: %s", de.Class, de.Msg)
		})
	}
}

// .mpo is an extension the job reads (as JPEG) when asked.
func TestMPOExtension(t *testing.T) {
	d, err := driversFor([]string{"mpo"})
	if err != nil || len(d) != 1 || d[0] != "JPEG" {
		t.Fatalf("drivers for .mpo: %v, %v", d, err)
	}
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// A JPEG larger than the read cache's budget is streamed to the decoder,
// not held whole to check its end: it renders (before, the whole read
// failed as a storage error, which a job retries without end).
func TestJPEGLargerThanTheReadCacheRenders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.jpg")
	testenv.RunTool(t, "gdal_translate", "-q", "-of", "JPEG", "-co", "QUALITY=95", "-b", "1", "-b", "2", "-b", "3",
		"-outsize", "8000", "8000", "-r", "near", testenv.NAIPCrop(t), path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Init(Config{}); err != nil {
		t.Fatal(err)
	}
	old := cfg.ReadCacheMB
	cfg.ReadCacheMB = 1
	defer func() { cfg.ReadCacheMB = old }()
	if len(data) <= 2<<20 {
		t.Fatalf("the JPEG is %d bytes, not twice the 1 MiB budget", len(data))
	}
	res, err := renderBytes(t, "big.jpg", data, pngProfile)
	if err != nil {
		t.Fatalf("a %d-byte JPEG with a 1 MiB read cache: %v", len(data), err)
	}
	if w, h := res.Outputs[0].Width, res.Outputs[0].Height; w != 64 || h != 64 {
		t.Errorf("thumbnail %dx%d", w, h)
	}
}
