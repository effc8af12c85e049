package render

import "github.com/airbusgeo/godal"

// picked is the band plan for one image (0-based band indexes).
type picked struct {
	bands   []int // 1 (grey) or 3 (RGB)
	palette *godal.ColorTable
	alpha   int // band used as alpha, -1 for none
	// alphaIfMask: the alpha band is transparency only if its values are
	// a mask's (0 and 255): a GeoTIFF's 4th band tagged alpha may be
	// NAIP's near-infrared.
	alphaIfMask bool
	// georeferenced: a raster of the ground, whose constant edge is fill
	// (see edgeFill); a photo's is picture.
	georeferenced bool
}

func chooseBands(ds *godal.Dataset, want Bands) (picked, error) {
	bands := ds.Bands()
	n := len(bands)
	p := picked{alpha: -1}
	if _, err := ds.GeoTransform(); err == nil || len(ds.GCPs()) > 0 {
		p.georeferenced = true
	}
	if !want.Auto {
		for _, b := range want.List {
			if b > n {
				return p, dataErr(ClassBands, "band %d requested, the image has %d", b, n)
			}
			p.bands = append(p.bands, b-1)
		}
		return p, nil
	}
	// GDAL's mask says which band is alpha (per-dataset alpha: TIFF's
	// ExtraSamples, a PNG's alpha). In a GeoTIFF it is transparency when
	// its values are a mask's; NAIP's near-infrared, sometimes tagged
	// alpha, is data (see readPicture).
	geoTIFF := ds.Driver().ShortName() == "GTiff"
	alphaAt := -1
	for i, b := range bands {
		if b.ColorInterp() == godal.CIAlpha {
			alphaAt = i
		}
	}
	switch {
	case n >= 3:
		r, g, bl := -1, -1, -1
		for i, b := range bands {
			switch b.ColorInterp() {
			case godal.CIRed:
				r = firstOf(r, i)
			case godal.CIGreen:
				g = firstOf(g, i)
			case godal.CIBlue:
				bl = firstOf(bl, i)
			}
		}
		if r >= 0 && g >= 0 && bl >= 0 {
			p.bands = []int{r, g, bl} // honours orders such as Blue,Green,Red
		} else {
			p.bands = []int{0, 1, 2}
		}
	default:
		p.bands = []int{0}
		if ct := bands[0].ColorTable(); bands[0].ColorInterp() == godal.CIPalette && len(ct.Entries) > 0 {
			p.palette = &ct
		}
	}
	const gmfPerDataset, gmfAlpha = 0x02, 0x04
	if alphaAt >= 0 && !contains(p.bands, alphaAt) {
		if flags := bands[p.bands[0]].MaskFlags(); !geoTIFF || flags&(gmfPerDataset|gmfAlpha) == gmfPerDataset|gmfAlpha {
			p.alpha, p.alphaIfMask = alphaAt, geoTIFF
		}
	}
	return p, nil
}

func firstOf(cur, i int) int {
	if cur >= 0 {
		return cur
	}
	return i
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
