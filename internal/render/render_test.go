package render

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airbusgeo/godal"

	"quicklook/internal/naming"
	"quicklook/internal/testenv"
)

func TestMain(m *testing.M) {
	if err := Init(Config{}); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// dirSource serves keys from a folder and counts the bytes GDAL reads.
type dirSource struct {
	dir   string
	bytes atomic.Int64
	reads atomic.Int64
}

func (d *dirSource) Size(key string) (int64, error) {
	st, err := os.Stat(filepath.Join(d.dir, key))
	if err != nil {
		return -1, err
	}
	return st.Size(), nil
}

func (d *dirSource) ReadAt(key string, p []byte, off int64) (int, error) {
	f, err := os.Open(filepath.Join(d.dir, key))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.ReadAt(p, off)
	d.bytes.Add(int64(n))
	d.reads.Add(1)
	return n, err
}

func renderReal(t *testing.T, rel string, opt Options, siblings ...string) (*Result, *dirSource, error) {
	t.Helper()
	root := testenv.RealData(t)
	src := &dirSource{dir: root}
	res, err := Render(context.Background(), src, rel, siblings, opt)
	return res, src, err
}

func mustRender(t *testing.T, rel string, opt Options, siblings ...string) *Result {
	t.Helper()
	res, _, err := renderReal(t, rel, opt, siblings...)
	if err != nil {
		t.Fatalf("render %s: %v", rel, err)
	}
	return res
}

func decode(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode output: %v", err)
	}
	return img
}

type stats struct{ mean, std [3]float64 }

func colourStats(img image.Image) stats {
	var s stats
	b := img.Bounds()
	n := float64(b.Dx() * b.Dy())
	var sum, sq [3]float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for c, v := range []uint32{r >> 8, g >> 8, bl >> 8} {
				sum[c] += float64(v)
				sq[c] += float64(v) * float64(v)
			}
		}
	}
	for c := range sum {
		s.mean[c] = sum[c] / n
		s.std[c] = math.Sqrt(math.Max(0, sq[c]/n-s.mean[c]*s.mean[c]))
	}
	return s
}

func TestNAIPIsRGBAndMatchesGDALTranslate(t *testing.T) {
	gdalTranslate := testenv.Tool(t, "gdal_translate")
	root := testenv.RealData(t)
	matches, _ := filepath.Glob(filepath.Join(root, "geotiff/naip/*.tif"))
	if len(matches) == 0 {
		t.Fatal("no NAIP crops in the real test data")
	}
	for _, path := range matches {
		rel, _ := filepath.Rel(root, path)
		t.Run(filepath.Base(path), func(t *testing.T) {
			res := mustRender(t, rel, Options{})
			out := res.Outputs[0]
			img, err := jpeg.Decode(bytes.NewReader(out.Data))
			if err != nil {
				t.Fatal(err)
			}
			if _, cmyk := img.(*image.CMYK); cmyk {
				t.Fatal("NAIP thumbnail was written as a CMYK JPEG")
			}
			if _, ok := img.(*image.YCbCr); !ok {
				t.Fatalf("thumbnail is %T, want a 3-band colour JPEG", img)
			}
			// The reference: GDAL's own rendering of bands 1,2,3 at the same size.
			ref := filepath.Join(t.TempDir(), "ref.png")
			cmd := exec.Command(gdalTranslate, "-q", "-of", "PNG", "-b", "1", "-b", "2", "-b", "3", "-r", "average",
				"-outsize", strconv.Itoa(out.Width), strconv.Itoa(out.Height), path, ref)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gdal_translate: %v\n%s", err, b)
			}
			rb, _ := os.ReadFile(ref)
			want := colourStats(decode(t, rb))
			got := colourStats(img)
			for c := 0; c < 3; c++ {
				if math.Abs(got.mean[c]-want.mean[c]) > 4 {
					t.Errorf("band %d mean %.1f, gdal_translate gives %.1f", c+1, got.mean[c], want.mean[c])
				}
			}
			if max(out.Width, out.Height) != min(256, max(res.Width, res.Height)) {
				t.Errorf("size %dx%d for a %dx%d source", out.Width, out.Height, res.Width, res.Height)
			}
		})
	}
}

func TestEXIFOrientationComesOutUpright(t *testing.T) {
	for _, kind := range []string{"Landscape", "Portrait"} {
		ref := mustRender(t, "photo/orientation/recurser_"+kind+"_1.jpg", Options{})
		refImg := decode(t, ref.Outputs[0].Data)
		for i := 0; i <= 8; i++ {
			name := "photo/orientation/recurser_" + kind + "_" + strconv.Itoa(i) + ".jpg"
			t.Run(filepath.Base(name), func(t *testing.T) {
				res := mustRender(t, name, Options{})
				img := decode(t, res.Outputs[0].Data)
				if img.Bounds() != refImg.Bounds() {
					t.Fatalf("size %v, the upright image is %v", img.Bounds(), refImg.Bounds())
				}
				if d := meanAbsDiff(img, refImg); d > 12 {
					t.Fatalf("differs from the upright image by %.1f per channel on average", d)
				}
			})
		}
		// The check must be able to fail: a mirrored image is far from upright.
		mirrored := decode(t, mustRender(t, "photo/orientation/recurser_"+kind+"_1.jpg", Options{}).Outputs[0].Data)
		rgbaImg := toRGBA(mirrored)
		flipped := orient(rgbaImg, 3)
		if d := meanAbsDiff(rgbaImage(flipped), refImg); d < 20 {
			t.Fatalf("a rotated image differs by only %.1f: the comparison cannot tell", d)
		}
	}
}

func toRGBA(img image.Image) rgba {
	b := img.Bounds()
	m := newRGBA(b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			copy(m.pix[4*(y*m.w+x):], []uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)})
		}
	}
	return m
}

func rgbaImage(m rgba) image.Image {
	return &image.NRGBA{Pix: m.pix, Stride: 4 * m.w, Rect: image.Rect(0, 0, m.w, m.h)}
}

func meanAbsDiff(a, b image.Image) float64 {
	ab := a.Bounds()
	var sum float64
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y).RGBA()
			sum += math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) + math.Abs(float64(b1>>8)-float64(b2>>8))
		}
	}
	return sum / float64(3*ab.Dx()*ab.Dy())
}

func TestNonByteDataIsStretched(t *testing.T) {
	for _, rel := range []string{
		"geotiff/landsat/RGBA.uint16.tif",
		"geotiff/float/image_nan_float64.tif",
		"geotiff/int16/image_nodata_int16.tif",
		"geotiff/int16/image_with_offsets.tif",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			res := mustRender(t, rel, Options{Profiles: []naming.Profile{{Name: "t", Size: 256, Format: naming.PNG}}})
			img := decode(t, res.Outputs[0].Data)
			var mean, std float64
			n := 0
			b := img.Bounds()
			var sum, sq float64
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, a := img.At(x, y).RGBA()
					if a == 0 {
						continue
					}
					v := float64(r>>8+g>>8+bl>>8) / 3
					sum += v
					sq += v * v
					n++
				}
			}
			if n == 0 {
				t.Fatal("every pixel is transparent")
			}
			mean = sum / float64(n)
			std = math.Sqrt(sq/float64(n) - mean*mean)
			if mean < 30 || mean > 225 || std < 15 {
				t.Fatalf("mean %.1f, std %.1f: black, saturated or flat", mean, std)
			}
		})
	}
}

func TestNaNAndNodataBecomeTransparentOrBackground(t *testing.T) {
	opt := Options{Profiles: []naming.Profile{{Name: "p", Size: 256, Format: naming.PNG}, {Name: "j", Size: 256, Format: naming.JPEG}}, Background: [3]uint8{255, 0, 255}}
	res := mustRender(t, "geotiff/landsat/RGB.byte.tif", opt) // nodata=0 collar
	pngImg := decode(t, res.Outputs[0].Data)
	if _, _, _, a := pngImg.At(0, 0).RGBA(); a != 0 {
		t.Fatalf("PNG corner (nodata collar) alpha = %d, want transparent", a>>8)
	}
	cx, cy := pngImg.Bounds().Dx()/2, pngImg.Bounds().Dy()/2
	if _, _, _, a := pngImg.At(cx, cy).RGBA(); a>>8 != 255 {
		t.Fatalf("PNG centre alpha = %d, want opaque", a>>8)
	}
	jpg := decode(t, res.Outputs[1].Data)
	r, g, b, _ := jpg.At(1, 1).RGBA()
	if r>>8 < 200 || g>>8 > 60 || b>>8 < 200 {
		t.Fatalf("JPEG corner = %d,%d,%d, want the magenta background", r>>8, g>>8, b>>8)
	}
	// An all-nodata image renders fully transparent, not as a crash or noise.
	res = mustRender(t, "geotiff/landsat/all-nodata.tif", opt)
	allND := decode(t, res.Outputs[0].Data)
	if _, _, _, a := allND.At(allND.Bounds().Dx()/2, allND.Bounds().Dy()/2).RGBA(); a != 0 {
		t.Fatal("all-nodata image is not transparent")
	}
	// NaN in a tiny float image: never upsampled, NaN transparent.
	res = mustRender(t, "geotiff/float/float_nan_3x2.tif", opt)
	if o := res.Outputs[0]; o.Width != 3 || o.Height != 2 {
		t.Fatalf("3x2 image rendered at %dx%d: upsampled", o.Width, o.Height)
	}
}

func TestPaletteIsExpandedToColour(t *testing.T) {
	res := mustRender(t, "geotiff/palette/image_colormap.tif", Options{})
	img := decode(t, res.Outputs[0].Data)
	if _, grey := img.(*image.Gray); grey {
		t.Fatal("palette image written as greyscale")
	}
	st := colourStats(img)
	coloured := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if absDiff(r>>8, g>>8) > 30 || absDiff(g>>8, bl>>8) > 30 {
				coloured++
			}
		}
	}
	if coloured < 20 {
		t.Fatalf("only %d coloured samples (means %v)", coloured, st.mean)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestSeveralProfilesFromOneOpen(t *testing.T) {
	opt := Options{Profiles: []naming.Profile{
		{Name: "thumb", Size: 256, Format: naming.JPEG},
		{Name: "small", Size: 64, Format: naming.PNG},
		{Name: "web", Size: 128, Format: naming.WebP},
	}}
	res := mustRender(t, "geotiff/landsat/RGB.byte.tif", opt)
	if len(res.Outputs) != 3 {
		t.Fatalf("%d outputs", len(res.Outputs))
	}
	sizes := [][2]int{{256, 232}, {64, 58}, {128, 116}}
	for i, o := range res.Outputs {
		if o.Width != sizes[i][0] || o.Height != sizes[i][1] {
			t.Errorf("%s: %dx%d, want %v", o.Profile, o.Width, o.Height, sizes[i])
		}
	}
	if !bytes.HasPrefix(res.Outputs[0].Data, []byte{0xFF, 0xD8}) {
		t.Error("jpeg output is not a JPEG")
	}
	if _, err := png.Decode(bytes.NewReader(res.Outputs[1].Data)); err != nil {
		t.Errorf("png output: %v", err)
	}
	if w := res.Outputs[2].Data; len(w) < 12 || string(w[:4]) != "RIFF" || string(w[8:12]) != "WEBP" {
		t.Error("webp output is not a WebP")
	}
	// WebP decodes with GDAL, at the promised size.
	p := filepath.Join(t.TempDir(), "x.webp")
	os.WriteFile(p, res.Outputs[2].Data, 0o644)
	ds, err := godal.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if s := ds.Structure(); s.SizeX != 128 || s.SizeY != 116 {
		t.Fatalf("webp is %dx%d", s.SizeX, s.SizeY)
	}
}

func TestOverviewChoice(t *testing.T) {
	// Overviews stored out of order (128, 256, 64): the 256 one serves a 256 thumbnail.
	res := mustRender(t, "cog/odd/image_sorted_overviews.tif", Options{})
	if res.LevelWidth != 256 {
		t.Fatalf("read level %d (%dx%d), want the 256x256 overview", res.Level, res.LevelWidth, res.LevelHeight)
	}
	// Overviews only in the .ovr sidecar: used when the listing shows it.
	res = mustRender(t, "cog/odd/image_external.tif", Options{}, "cog/odd/image_external.tif.ovr")
	if res.LevelWidth != 256 || res.Level == 0 {
		t.Fatalf("with sidecar: level %d (%dx%d), want the 256x256 overview", res.Level, res.LevelWidth, res.LevelHeight)
	}
	alone := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(testenv.RealData(t), "cog/odd/image_external.tif"))
	os.WriteFile(filepath.Join(alone, "image_external.tif"), b, 0o644)
	res, err := Render(context.Background(), &dirSource{dir: alone}, "image_external.tif", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Level != 0 {
		t.Fatalf("without the sidecar listed, level %d was read", res.Level)
	}
	// A 64-pixel thumbnail of a 8448x8448 COG reads a small overview.
	res = mustRender(t, "cog/world/image_web_z5_z11_8448.tif", Options{Profiles: []naming.Profile{{Name: "s", Size: 64, Format: naming.JPEG}}})
	if res.LevelWidth != 264 {
		t.Fatalf("level %dx%d for a 64 px thumbnail", res.LevelWidth, res.LevelHeight)
	}
}

// makeNAIPSizedCOG writes a 6000x7500 4-band Byte COG with overviews, with
// enough texture that JPEG-compressed tiles are of realistic size.
func makeNAIPSizedCOG(t *testing.T, dir string) string {
	t.Helper()
	const w, h = 6000, 7500
	tiff := filepath.Join(dir, "big.tif")
	ds, err := godal.Create(godal.GTiff, tiff, 4, godal.Byte, w, h, godal.CreationOption("TILED=YES", "COMPRESS=DEFLATE", "INTERLEAVE=PIXEL"))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]uint8, 4*w*100)
	for y0 := 0; y0 < h; y0 += 100 {
		for y := 0; y < 100; y++ {
			for x := 0; x < w; x++ {
				v := uint8((x*7 + (y0+y)*3) ^ (x * (y0 + y) >> 9))
				i := 4 * (y*w + x)
				row[i], row[i+1], row[i+2], row[i+3] = v, v/2+40, 255-v, uint8(x+y0+y)
			}
		}
		if err := ds.Write(0, y0, row, w, 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := godal.Open(tiff)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cog := filepath.Join(dir, "m_naip_sized_cog.tif")
	out, err := src.Translate(cog, []string{"-of", "COG", "-co", "COMPRESS=JPEG", "-co", "OVERVIEWS=IGNORE_EXISTING", "-co", "BLOCKSIZE=512"})
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	os.Remove(tiff)
	return cog
}

func TestNAIPSizedCOGReadsASmallFraction(t *testing.T) {
	dir := t.TempDir()
	cog := makeNAIPSizedCOG(t, dir)
	st, _ := os.Stat(cog)
	saved := cfg.Read
	defer func() { cfg.Read = saved }()
	for _, plan := range []string{PlanSparse, PlanAuto} {
		cfg.Read.Plan = plan
		src := &dirSource{dir: dir}
		res, err := Render(context.Background(), src, filepath.Base(cog), nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if o := res.Outputs[0]; o.Width != 205 || o.Height != 256 {
			t.Fatalf("thumbnail %dx%d, want 205x256", o.Width, o.Height)
		}
		if res.Level == 0 {
			t.Fatal("full resolution was read")
		}
		read, reads := src.bytes.Load(), src.reads.Load()
		frac := float64(read) / float64(st.Size())
		t.Logf("%s: COG %d bytes, read %d bytes (%.2f%%) in %d reads, level %d (%dx%d)", plan, st.Size(), read, 100*frac, reads, res.Level, res.LevelWidth, res.LevelHeight)
		switch plan {
		case PlanSparse: // the fewest bytes: the header, then the overview tile
			if frac > 0.05 || read > 2<<20 {
				t.Fatalf("sparse: read %d of %d bytes (%.1f%%): more than the overview needs", read, st.Size(), 100*frac)
			}
		case PlanAuto: // the fewest requests: the header's first read takes the small overviews after it
			if reads != 1 || read > 2<<20 {
				t.Fatalf("auto: %d reads of %d bytes: want one read of the header and the overview after it", reads, read)
			}
		}
	}
}

// Files under hostile/ that GDAL decodes correctly: they must thumbnail.
var hostileButReadable = map[string]bool{
	"bomb/its_fax_4956x7014_from_74KB.tif":     true, // valid, just highly compressed
	"corrupt/its_tiff_unsorted_tags_fails.tif": true, // old-style JPEG that libtiff reads
	"corrupt/its_tiff_fails_356a.tif":          true,
	"corrupt/rasterio_corrupt_cog.tif":         true, // the overview a thumbnail needs is intact
}

func TestHostileFilesGiveDataErrors(t *testing.T) {
	root := testenv.RealData(t)
	var files []string
	filepath.WalkDir(filepath.Join(root, "hostile"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 30 {
		t.Fatalf("only %d hostile files found", len(files))
	}
	for _, p := range files {
		rel, _ := filepath.Rel(filepath.Join(root, "hostile"), p)
		t.Run(rel, func(t *testing.T) {
			res, _, err := renderReal(t, filepath.Join("hostile", rel), Options{MaxPixels: 100_000_000})
			if hostileButReadable[rel] {
				if err != nil {
					t.Fatalf("readable file failed: %v", err)
				}
				return
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("want a data error, got result %v, err %v", res != nil, err)
			}
			if de.Class == "" || de.Msg == "" {
				t.Fatalf("data error without class or message: %#v", de)
			}
			t.Logf("%s: %s", de.Class, de.Msg)
		})
	}
}

func TestMaxPixelsIsCheckedBeforeReading(t *testing.T) {
	// (The auto plan fetches a file this small whole, in one request, before
	// opening it: cheaper than a header read and then the pixels.)
	saved := cfg.Read
	defer func() { cfg.Read = saved }()
	cfg.Read.Plan = PlanSparse
	res, src, err := renderReal(t, "geotiff/landsat/RGB.byte.tif", Options{MaxPixels: 1000})
	var de *Error
	if !errors.As(err, &de) || de.Class != ClassTooLarge {
		t.Fatalf("got %v, %v; want too_large", res, err)
	}
	st, _ := os.Stat(filepath.Join(src.dir, "geotiff/landsat/RGB.byte.tif"))
	if src.bytes.Load() > st.Size()/4 {
		t.Fatalf("read %d bytes before refusing", src.bytes.Load())
	}
}

func TestBandChoices(t *testing.T) {
	// Band order Blue,Green,Red tagged in ColorInterp is honoured by auto.
	auto := colourStats(decode(t, mustRender(t, "geotiff/landsat/RGBA.uint16.tif", Options{}).Outputs[0].Data))
	explicit := colourStats(decode(t, mustRender(t, "geotiff/landsat/RGBA.uint16.tif", Options{Bands: Bands{List: []int{3, 2, 1}}}).Outputs[0].Data))
	for c := 0; c < 3; c++ {
		if math.Abs(auto.mean[c]-explicit.mean[c]) > 2 {
			t.Fatalf("auto bands %v differ from explicit 3,2,1 %v", auto.mean, explicit.mean)
		}
	}
	cir, err := ParseBands("cir")
	if err != nil {
		t.Fatal(err)
	}
	natural := colourStats(decode(t, mustRender(t, "geotiff/naip/m_4112001_sw_10_060_20220716.tif", Options{}).Outputs[0].Data))
	false_ := colourStats(decode(t, mustRender(t, "geotiff/naip/m_4112001_sw_10_060_20220716.tif", Options{Bands: cir}).Outputs[0].Data))
	// cir shows NIR,red,green as red,green,blue.
	if math.Abs(false_.mean[1]-natural.mean[0]) > 3 || math.Abs(false_.mean[2]-natural.mean[1]) > 3 {
		t.Fatalf("cir means %v do not carry natural red,green %v into green,blue", false_.mean, natural.mean)
	}
	if math.Abs(false_.mean[0]-natural.mean[0]) < 0.5 && math.Abs(false_.std[0]-natural.std[0]) < 0.5 {
		t.Fatalf("cir red equals natural red: NIR was not used")
	}
	_, _, err = renderReal(t, "geotiff/landsat/RGB.byte.tif", Options{Bands: cir})
	var de *Error
	if !errors.As(err, &de) || de.Class != ClassBands {
		t.Fatalf("cir on a 3-band image: %v", err)
	}
	for _, bad := range []string{"0", "1,2", "a", "1,2,3,4"} {
		if _, err := ParseBands(bad); err == nil {
			t.Errorf("ParseBands(%q) accepted", bad)
		}
	}
}

func TestPhotoAlphaKeptInPNGAndWebP(t *testing.T) {
	res := mustRender(t, "photo/webp/goximage_yellow_rose_lossy_alpha.webp", Options{Profiles: []naming.Profile{{Name: "p", Size: 256, Format: naming.PNG}}})
	img := decode(t, res.Outputs[0].Data)
	transparent := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a>>8 < 128 {
				transparent++
			}
		}
	}
	if transparent == 0 {
		t.Fatal("alpha of a WebP photo was dropped")
	}
	// NAIP's band 4 is tagged alpha but is near-infrared: never transparency.
	res = mustRender(t, "geotiff/naip/m_3211605_ne_11_060_20200415.tif", Options{Profiles: []naming.Profile{{Name: "p", Size: 256, Format: naming.PNG}}})
	if img := decode(t, res.Outputs[0].Data); img.ColorModel() != nil {
		if _, isNRGBA := img.(*image.NRGBA); isNRGBA {
			t.Fatal("NAIP PNG has an alpha channel: NIR was taken as transparency")
		}
	}
}

// A source that is really a VRT (or any format that names other files)
// must not make the renderer read the machine's own files.
func TestReferencingFormatsNeverOpenSources(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.tif")
	ds, err := godal.Create(godal.GTiff, secret, 1, godal.Byte, 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	ds.Close()
	vrt := `<VRTDataset rasterXSize="16" rasterYSize="16"><VRTRasterBand dataType="Byte" band="1">` +
		`<SimpleSource><SourceFilename relativeToVRT="0">` + secret + `</SourceFilename><SourceBand>1</SourceBand></SimpleSource>` +
		`</VRTRasterBand></VRTDataset>`
	if err := os.WriteFile(filepath.Join(dir, "looks.tif"), []byte(vrt), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &dirSource{dir: dir}
	_, err = Render(context.Background(), src, "looks.tif", nil, Options{})
	var de *Error
	if !errors.As(err, &de) || de.Class != ClassUnsupported {
		t.Fatalf("a VRT named .tif: want an unsupported data error, got %v", err)
	}
}

func TestDriversFollowExtensions(t *testing.T) {
	got, err := driversFor([]string{"tif", ".JPG", "png"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GTiff", "JPEG", "PNG"} {
		if !slices.Contains(got, want) {
			t.Errorf("drivers for tif, jpg, png = %v: %s missing", got, want)
		}
	}
	for _, never := range []string{"VRT", "WEBP", "netCDF", "HDF5"} {
		if slices.Contains(got, never) {
			t.Errorf("drivers for tif, jpg, png = %v: %s must not be there", got, never)
		}
	}
	if got, err := driversFor([]string{"vrt"}); err == nil {
		t.Errorf("drivers for .vrt = %v: want an error (VRT names other files)", got)
	}
	if _, err := driversFor([]string{"tif", "nosuchformat"}); err == nil || !strings.Contains(err.Error(), ".nosuchformat") {
		t.Errorf("unknown extension: want an error naming it, got %v", err)
	}
}
