package main

import (
	"encoding/binary"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// corpusVersion changes when the corpus recipe does.
const corpusVersion = "2"

// makeCorpus builds (once; kept under dir) NAIP-sized 4-band 8-bit
// GeoTIFFs from the real NAIP crops, scaled up to 6000x7500 with per-pixel
// noise added (a plain upscale is so smooth it compresses far better than
// real imagery, which would flatter whoever downloads whole files), in
// three layouts, and large JPEG photos from the real photos. The fast
// layouts (COG, photos) are replicated so that a run lasts long enough to
// measure.
func makeCorpus(dir, real string, n int) []layout {
	if b, _ := os.ReadFile(filepath.Join(dir, "VERSION")); string(b) != corpusVersion {
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		defer os.WriteFile(filepath.Join(dir, "VERSION"), []byte(corpusVersion), 0o644)
	}
	crops, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	photos, _ := filepath.Glob(filepath.Join(real, "photo/orientation/recurser_*_1.jpg"))
	if len(crops) == 0 || len(photos) == 0 {
		log.Fatalf("the benchmark corpus is made from the real imagery in %s, which is missing", real)
	}
	sort.Strings(crops)
	ls := []layout{
		{name: "striped", reps: 1, desc: "6000×7500, 4 bands, striped (one row a strip), uncompressed, no overviews: the NAIP archive layout"},
		{name: "tiled", reps: 1, desc: "6000×7500, 4 bands, 512×512 tiles, uncompressed, no overviews"},
		{name: "cog", reps: 5, desc: "6000×7500, 4 bands, Cloud-Optimized GeoTIFF, DEFLATE with predictor, 512×512 tiles, overviews"},
		{name: "photo", reps: 20, desc: "JPEG photos of 12, 24 and 39 Mpx, quality 90"},
	}
	gdal := func(args ...string) {
		out, err := exec.Command("gdal_translate", append([]string{"-q"}, args...)...).CombinedOutput()
		if err != nil {
			log.Fatalf("gdal_translate %v: %v\n%s", args, err, out)
		}
	}
	sizes := [][2]int{{4000, 3000}, {6000, 4000}, {7200, 5400}}
	for i := 0; i < n; i++ {
		striped := filepath.Join(dir, "striped", fmt.Sprintf("m_naip_%02d.tif", i))
		tiled := filepath.Join(dir, "tiled", fmt.Sprintf("m_naip_%02d.tif", i))
		cog := filepath.Join(dir, "cog", fmt.Sprintf("m_naip_%02d.tif", i))
		photo := filepath.Join(dir, "photo", fmt.Sprintf("photo_%02d.jpg", i))
		for _, p := range []string{striped, tiled, cog, photo} {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if !exists(striped) {
			log.Printf("corpus: %s", striped)
			base := filepath.Join(dir, "base.bsq")
			gdal("-of", "ENVI", "-co", "INTERLEAVE=BSQ", "-outsize", "6000", "7500", "-r", "bilinear", crops[i%len(crops)], base)
			addNoise(base, uint64(i+1))
			gdal("-of", "GTiff", "-co", "TILED=NO", "-co", "INTERLEAVE=PIXEL", base, striped+".tmp")
			os.Rename(striped+".tmp", striped)
			for _, f := range []string{base, filepath.Join(dir, "base.hdr"), base + ".aux.xml"} {
				os.Remove(f)
			}
		}
		if !exists(tiled) {
			gdal("-of", "GTiff", "-co", "TILED=YES", "-co", "BLOCKXSIZE=512", "-co", "BLOCKYSIZE=512", striped, tiled+".tmp")
			os.Rename(tiled+".tmp", tiled)
		}
		if !exists(cog) {
			gdal("-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=2", "-co", "BLOCKSIZE=512", striped, cog+".tmp")
			os.Rename(cog+".tmp", cog)
		}
		if !exists(photo) {
			s := sizes[i%len(sizes)]
			gdal("-of", "JPEG", "-co", "QUALITY=90", "-outsize", fmt.Sprint(s[0]), fmt.Sprint(s[1]), "-r", "cubic", photos[i%len(photos)], photo+".tmp")
			os.Rename(photo+".tmp", photo)
		}
		for li, f := range []string{striped, tiled, cog, photo} {
			ls[li].files = append(ls[li].files, f)
			for r := 1; r < ls[li].reps; r++ {
				copy := filepath.Join(filepath.Dir(f), fmt.Sprintf("r%d", r), filepath.Base(f))
				if !exists(copy) {
					os.MkdirAll(filepath.Dir(copy), 0o755)
					if err := os.Link(f, copy); err != nil {
						log.Fatal(err)
					}
				}
				ls[li].files = append(ls[li].files, copy)
			}
		}
	}
	for li := range ls {
		ls[li].dir = filepath.Join(dir, ls[li].name)
	}
	for _, p := range []string{"striped", "tiled", "cog", "photo"} {
		m, _ := filepath.Glob(filepath.Join(dir, p, "*.aux.xml"))
		for _, f := range m {
			os.Remove(f)
		}
	}
	return ls
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// neededBytes is what a thumbnail of 256 px cannot do without, summed over
// the layout's files: for a TIFF, its first IFD plus the IFD and the
// strips or tiles of the smallest resolution level covering the
// thumbnail; for a JPEG, the whole file (it decodes front to back).
func neededBytes(l layout) int64 {
	var total int64
	for _, f := range l.files {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		if filepath.Ext(f) != ".tif" {
			total += int64(len(b))
			continue
		}
		levels := tiffLevels(b)
		if len(levels) == 0 {
			total += int64(len(b))
			continue
		}
		w, h := levels[0].w, levels[0].h
		s := 256 / math.Max(float64(w), float64(h))
		tw, th := int(math.Round(float64(w)*s)), int(math.Round(float64(h)*s))
		best := levels[0]
		for _, lv := range levels[1:] {
			if lv.w >= tw-1 && lv.h >= th-1 && lv.w*lv.h < best.w*best.h {
				best = lv
			}
		}
		total += 8 + levels[0].ifdBytes + best.ifdBytes + best.dataBytes
	}
	return total
}

type tiffLevel struct {
	w, h                int
	dataBytes, ifdBytes int64
}

// tiffLevels reads a classic little-endian TIFF's image IFDs (masks skipped).
func tiffLevels(b []byte) []tiffLevel {
	if len(b) < 8 || string(b[:2]) != "II" || binary.LittleEndian.Uint16(b[2:]) != 42 {
		return nil
	}
	le := binary.LittleEndian
	size := map[uint16]int64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 16: 8}
	var out []tiffLevel
	off := int64(le.Uint32(b[4:]))
	for off > 0 && off+2 <= int64(len(b)) {
		n := int64(le.Uint16(b[off:]))
		lv := tiffLevel{ifdBytes: 2 + 12*n + 4}
		var counts []int64
		mask := false
		for i := int64(0); i < n; i++ {
			e := b[off+2+12*i:]
			tag, typ, cnt := le.Uint16(e), le.Uint16(e[2:]), int64(le.Uint32(e[4:]))
			bytes := size[typ] * cnt
			data := e[8:12]
			if bytes > 4 {
				lv.ifdBytes += bytes
				p := int64(le.Uint32(e[8:]))
				if p+bytes > int64(len(b)) {
					return out
				}
				data = b[p : p+bytes]
			}
			get := func(i int64) int64 {
				switch typ {
				case 3:
					return int64(le.Uint16(data[2*i:]))
				case 4:
					return int64(le.Uint32(data[4*i:]))
				case 16:
					return int64(le.Uint64(data[8*i:]))
				}
				return 0
			}
			switch tag {
			case 254:
				mask = get(0)&4 != 0
			case 256:
				lv.w = int(get(0))
			case 257:
				lv.h = int(get(0))
			case 279, 325: // StripByteCounts, TileByteCounts
				for i := int64(0); i < cnt; i++ {
					counts = append(counts, get(i))
				}
			}
		}
		for _, c := range counts {
			lv.dataBytes += c
		}
		if !mask {
			out = append(out, lv)
		}
		off = int64(le.Uint32(b[off+2+12*n:]))
	}
	return out
}

// addNoise adds ±12 of uniform noise to every byte of a raw raster, in place.
func addNoise(path string, seed uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	x := seed*0x9E3779B97F4A7C15 | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v := int(b[i]) + int(x%25) - 12
		b[i] = byte(min(max(v, 0), 255))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
