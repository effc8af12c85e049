// Command samples writes a small collection laid out like NAIP
// (<state>/<year>/<res>/<quad>/m_*.tif): 4-band RGB+NIR GeoTIFFs, some
// striped and uncompressed as in the original archive, some Cloud-Optimized
// with overviews. Pixels come from the real NAIP crops in
// ../shared/testdata/real when present, otherwise they are synthesised.
// GDAL's command-line tools do the GeoTIFF writing.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

func main() {
	out := flag.String("out", "demo/data", "folder to write the collection into")
	real := flag.String("real", "../shared/testdata/real", "real test imagery (NAIP crops used as pixels when present)")
	width := flag.Int("width", 1000, "image width in pixels")
	height := flag.Int("height", 1250, "image height in pixels")
	flag.Parse()
	n, err := generate(*out, *real, *width, *height)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d images under %s", n, *out)
}

// generate writes the collection (skipping images already there) and
// returns how many images it holds.
func generate(out, real string, width, height int) (int, error) {
	crops, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	sort.Strings(crops)
	if len(crops) > 0 {
		log.Printf("pixels from %d real NAIP crops in %s", len(crops), real)
	} else {
		log.Printf("no real NAIP crops at %s: synthesising pixels", real)
	}
	states := []struct {
		name, zone string
		quads      []string
	}{
		{"al", "16", []string{"30085", "30086"}},
		{"ga", "17", []string{"30083", "30084"}},
		{"tx", "14", []string{"29097", "29098"}},
	}
	years := []string{"2013", "2015"}
	tmp, err := os.MkdirTemp("", "quicklook-samples-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	n := 0
	for si, st := range states {
		for yi, year := range years {
			for qi, quad := range st.quads {
				for k, corner := range []string{"ne", "sw"} {
					key := fmt.Sprintf("%s/%s/1m/%s/m_%s%02d_%s_%s_1_%s0928.tif", st.name, year, quad, quad, k+1, corner, st.zone, year)
					dst := filepath.Join(out, key)
					if _, err := os.Stat(dst); err == nil {
						n++
						continue
					}
					if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
						return n, err
					}
					var base string
					if len(crops) > 0 {
						base = crops[n%len(crops)]
					} else {
						if base, err = synthesise(tmp, width/4, height/4, int64(n)); err != nil {
							return n, err
						}
					}
					cog := (si+yi+qi+k)%2 == 0
					if err := makeGeoTIFF(base, dst, st.zone, width, height, n, cog); err != nil {
						return n, fmt.Errorf("%s: %w", key, err)
					}
					n++
				}
			}
		}
	}
	return n, nil
}

// makeGeoTIFF scales base to the target size, georeferences it in UTM and
// writes it striped (as the NAIP archive) or as a COG with overviews.
func makeGeoTIFF(base, dst, zone string, w, h, n int, cog bool) error {
	x0 := 500000 + float64(n%7)*float64(w)
	y0 := 3400000 - float64(n/7)*float64(h)
	args := []string{"-q", "-b", "1", "-b", "2", "-b", "3", "-b", "4", "-colorinterp", "red,green,blue,undefined",
		"-outsize", fmt.Sprint(w), fmt.Sprint(h), "-r", "cubic",
		"-a_srs", "EPSG:269" + zone, "-a_ullr", ftoa(x0), ftoa(y0), ftoa(x0 + float64(w)), ftoa(y0 - float64(h))}
	if cog {
		args = append(args, "-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "OVERVIEWS=IGNORE_EXISTING", "-co", "BLOCKSIZE=256")
	} else {
		args = append(args, "-of", "GTiff", "-co", "INTERLEAVE=PIXEL", "-co", "TILED=NO")
	}
	tmp := dst + ".partial"
	cmd := exec.Command("gdal_translate", append(args, base, tmp)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("gdal_translate: %v: %s", err, b)
	}
	return os.Rename(tmp, dst)
}

func ftoa(f float64) string { return fmt.Sprintf("%.1f", f) }

// synthesise writes a 4-band raw image (ENVI) that looks like farmland:
// fields of different crops, a road grid, a river; NIR bright on vegetation.
func synthesise(dir string, w, h int, seed int64) (string, error) {
	rng := rand.New(rand.NewSource(seed))
	type field struct{ r, g, b, nir float64 }
	palette := []field{{90, 110, 60, 200}, {140, 130, 90, 120}, {70, 95, 50, 220}, {170, 160, 130, 90}, {110, 120, 80, 170}}
	cell := 24 + rng.Intn(24)
	fields := map[[2]int]field{}
	pix := make([]byte, 4*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := x/cell, y/cell
			f, ok := fields[[2]int{fx, fy}]
			if !ok {
				f = palette[rng.Intn(len(palette))]
				fields[[2]int{fx, fy}] = f
			}
			noise := rng.Float64()*20 - 10
			v := [4]float64{f.r + noise, f.g + noise, f.b + noise, f.nir + noise}
			if x%(cell*4) < 2 || y%(cell*4) < 2 { // roads
				v = [4]float64{190, 185, 180, 100}
			}
			river := float64(h)/2 + 20*math.Sin(float64(x)/17+float64(seed))
			if math.Abs(float64(y)-river) < 5 {
				v = [4]float64{40, 60, 90, 20}
			}
			for b := 0; b < 4; b++ {
				pix[b*w*h+y*w+x] = byte(math.Max(0, math.Min(255, v[b])))
			}
		}
	}
	raw := filepath.Join(dir, fmt.Sprintf("synth%d.bsq", seed))
	if err := os.WriteFile(raw, pix, 0o644); err != nil {
		return "", err
	}
	hdr := fmt.Sprintf("ENVI\nsamples = %d\nlines = %d\nbands = 4\nheader offset = 0\nfile type = ENVI Standard\ndata type = 1\ninterleave = bsq\nbyte order = %d\n", w, h, byteOrder())
	return raw, os.WriteFile(filepath.Join(dir, fmt.Sprintf("synth%d.hdr", seed)), []byte(hdr), 0o644)
}

func byteOrder() int {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return 0
	}
	return 1
}
