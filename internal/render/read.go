package render

import (
	"math"

	"github.com/airbusgeo/godal"
)

// readPicture reads the chosen bands at the chosen level into an RGBA image
// of at least the largest thumbnail's size.
//
// When the level is near the thumbnail size it is read whole with average
// resampling. When it is much larger (no usable overview) it is sampled with
// nearest neighbour at twice the thumbnail size, which reads only the strips
// or tiles it needs; area averaging then removes the aliasing.
func readPicture(ds *godal.Dataset, p picked, lvl level, tw, th int, opt Options, diag *diagnostics, prefetch func([][2]int64) error) (rgba, error) {
	alg := godal.Average
	rw, rh := tw, th
	if lvl.w > 4*tw || lvl.h > 4*th || p.palette != nil {
		alg = godal.Nearest
		rw, rh = min(lvl.w, 2*tw), min(lvl.h, 2*th)
	}
	bands := ds.Bands()
	var levelBands []godal.Band
	for _, bi := range p.bands {
		levelBands = append(levelBands, bandAt(bands[bi], lvl))
	}
	if p.alpha >= 0 {
		levelBands = append(levelBands, bandAt(bands[p.alpha], lvl))
	}
	// A one-pixel read first, under the strict handler: it makes libtiff load
	// the strip or tile index, and report on it, before the lookups below.
	probe := make([]uint8, 1)
	if err := levelBands[0].Read(0, 0, probe, 1, 1, godal.Window(1, 1), godal.ErrLogger(diag.strict)); err != nil {
		return rgba{}, diag.readErr(err)
	}
	// Only TIFF reports where its blocks are; a photo's "blocks" are its rows.
	var ranges [][2]int64
	if ds.Driver().ShortName() == "GTiff" {
		ranges = tiffBlockRanges(levelBands, lvl, rw, rh, alg == godal.Nearest)
	}
	// A prefetch failure is not fatal here: the reads below retry and report.
	_ = prefetch(ranges)
	n := rw * rh
	img := newRGBA(rw, rh)
	valid := make([]bool, n)
	for i := range valid {
		valid[i] = true
	}
	// The window is the whole level; the buffer size sets the decimation.
	readOpts := []godal.BandIOOption{godal.Window(lvl.w, lvl.h), godal.Resampling(alg), godal.ErrLogger(diag.strict)}

	// Validity: nodata (a pixel is nodata when all its bands are), NaN,
	// an internal mask, or a photo's alpha band.
	first := bandAt(bands[p.bands[0]], lvl)
	mflags := first.MaskFlags()
	if mflags&0x02 != 0 && mflags&0x04 == 0 { // GMF_PER_DATASET without GMF_ALPHA: internal mask
		m := make([]uint8, n)
		if err := first.MaskBand().Read(0, 0, m, rw, rh, godal.Window(lvl.w, lvl.h), godal.Resampling(godal.Nearest), godal.ErrLogger(diag.strict)); err != nil {
			return img, diag.readErr(err)
		}
		for i, v := range m {
			valid[i] = v != 0
		}
	}
	alpha := make([]uint8, n)
	for i := range alpha {
		alpha[i] = 255
	}
	if p.alpha >= 0 {
		if err := bandAt(bands[p.alpha], lvl).Read(0, 0, alpha, rw, rh, readOpts...); err != nil {
			return img, diag.readErr(err)
		}
		if p.alphaIfMask && !maskLike(alpha) {
			for i := range alpha {
				alpha[i] = 255
			}
		}
	}

	allNodata := make([]bool, n)
	for i := range allNodata {
		allNodata[i] = true
	}
	anyNodata := false
	planes := make([][]uint8, len(p.bands))
	byteData := first.Structure().DataType == godal.Byte
	raw8, rawF, err := readPlanes(ds, p, lvl, rw, rh, byteData, readOpts)
	if err != nil {
		return img, diag.readErr(err)
	}
	// A constant fill around the picture (a reprojected scene's border) is
	// not data: it stays out of the stretch, and with FillNodata it is
	// transparent.
	var fill []bool
	switch {
	case !p.georeferenced:
		// A photo's flat border is part of the picture.
	case byteData && opt.FillNodata:
		fill = edgeFill(raw8, rw, rh)
	case !byteData && (opt.FillNodata || opt.Scale == nil):
		fill = edgeFill(rawF, rw, rh)
	}
	if opt.FillNodata {
		for i, f := range fill {
			valid[i] = valid[i] && !f
		}
	}
	for c, bi := range p.bands {
		band := bandAt(bands[bi], lvl)
		nd, hasND := band.NoData()
		anyNodata = anyNodata || hasND
		plane := make([]uint8, n)
		if byteData {
			plane = raw8[c]
			for i, v := range plane {
				if !hasND || float64(v) != nd {
					allNodata[i] = false
				}
			}
		} else {
			vals := rawF[c]
			ok := make([]bool, n)
			for i, v := range vals {
				isND := math.IsNaN(v) || math.IsInf(v, 0) || (hasND && (v == nd || float64(float32(v)) == float64(float32(nd))))
				ok[i] = valid[i] && !isND && (fill == nil || !fill[i]) && alpha[i] > 0
				if !isND {
					allNodata[i] = false
				}
			}
			lo, hi, found := 0.0, 0.0, false
			if opt.Scale != nil {
				lo, hi, found = opt.Scale[0], opt.Scale[1], true
			} else {
				lo, hi, found = percentiles(vals, ok, opt.Percentiles[0], opt.Percentiles[1])
			}
			if found {
				for i, v := range vals {
					if ok[i] {
						plane[i] = stretchTo8(v, lo, hi)
					}
				}
			}
		}
		planes[c] = plane
	}
	if anyNodata {
		for i := range valid {
			valid[i] = valid[i] && !allNodata[i]
		}
	}

	for i := 0; i < n; i++ {
		px := img.pix[4*i:]
		switch {
		case p.palette != nil:
			e := p.palette.Entries
			idx := int(planes[0][i])
			if idx < len(e) {
				px[0], px[1], px[2] = uint8(e[idx][0]), uint8(e[idx][1]), uint8(e[idx][2])
				if e[idx][3] < 255 {
					alpha[i] = min(alpha[i], uint8(max(e[idx][3], 0)))
				}
			}
		case len(planes) == 1:
			px[0], px[1], px[2] = planes[0][i], planes[0][i], planes[0][i]
		default:
			px[0], px[1], px[2] = planes[0][i], planes[1][i], planes[2][i]
		}
		px[3] = alpha[i]
		if !valid[i] {
			px[3] = 0
		}
	}
	img.grey = len(planes) == 1 && p.palette == nil
	return img, nil
}

// readPlanes reads the chosen bands at the level into one plane each, as
// bytes for 8-bit data and as float64 otherwise.
func readPlanes(ds *godal.Dataset, p picked, lvl level, rw, rh int, byteData bool, opts []godal.BandIOOption) ([][]uint8, [][]float64, error) {
	if byteData {
		planes, err := readPlanesAs[uint8](ds, p, lvl, rw, rh, opts)
		return planes, nil, err
	}
	planes, err := readPlanesAs[float64](ds, p, lvl, rw, rh, opts)
	return nil, planes, err
}

// readPlanesAs reads one plane per chosen band. Overview levels, small by
// choice, are read band by band. Full resolution is read dataset-wide, in
// bands one block row tall: GDAL fills a multi-band buffer band after band,
// and on a level larger than its block cache that would read the file once
// per band; within one block row each band's pass finds the blocks the
// previous pass decoded.
func readPlanesAs[T uint8 | float64](ds *godal.Dataset, p picked, lvl level, rw, rh int, opts []godal.BandIOOption) ([][]T, error) {
	n, k := rw*rh, len(p.bands)
	planes := make([][]T, k)
	for c := range planes {
		planes[c] = make([]T, n)
	}
	bands := ds.Bands()
	if lvl.index > 0 {
		for c, bi := range p.bands {
			if err := bandAt(bands[bi], lvl).Read(0, 0, planes[c], rw, rh, opts...); err != nil {
				return nil, err
			}
		}
		return planes, nil
	}
	var dsOpts []godal.DatasetIOOption
	for _, o := range opts {
		if do, ok := o.(godal.DatasetIOOption); ok {
			dsOpts = append(dsOpts, do)
		}
	}
	for _, ch := range rowChunks(lvl.h, rh, bands[p.bands[0]].Structure().BlockSizeY) {
		rows := ch.j1 - ch.j0
		// The chunk's window comes last, overriding the whole level's.
		read := append(append([]godal.DatasetIOOption{godal.Bands(p.bands...)}, dsOpts...), godal.Window(lvl.w, ch.y1-ch.y0))
		buf := make([]T, rw*rows*k) // pixel-interleaved
		if err := ds.Read(0, ch.y0, buf, rw, rows, read...); err != nil {
			return nil, err
		}
		for c := range planes {
			dst := planes[c][ch.j0*rw:]
			for i := 0; i < rw*rows; i++ {
				dst[i] = buf[i*k+c]
			}
		}
	}
	return planes, nil
}

// rowChunk is buffer rows [j0, j1) read from source rows [y0, y1).
type rowChunk struct{ j0, j1, y0, y1 int }

// rowChunks cuts a read of h source rows into rh buffer rows in bands
// whose source rows start and end on block rows (at least 256 rows tall),
// so no block row is decoded for two chunks.
func rowChunks(h, rh, blockH int) []rowChunk {
	step := max(blockH, 1) * max(1, (255+max(blockH, 1))/max(blockH, 1))
	var out []rowChunk
	j0, y0 := 0, 0
	for y := step; ; y += step {
		y1 := min(y, h)
		j1 := int(math.Round(float64(y1) * float64(rh) / float64(h)))
		if y1 == h {
			j1 = rh
		}
		if j1 > j0 {
			out = append(out, rowChunk{j0, j1, y0, y1})
			j0, y0 = j1, y1
		}
		if y1 == h {
			return out
		}
	}
}

// sourceRows are the rows a nearest-neighbour read samples: per chunk at
// full resolution (as readPlanes reads), over the whole level otherwise.
func sourceRows(lvl level, rh, blockH int) []int {
	chunks := []rowChunk{{0, rh, 0, lvl.h}}
	if lvl.index == 0 {
		chunks = rowChunks(lvl.h, rh, blockH)
	}
	var rows []int
	for _, c := range chunks {
		for j := c.j0; j < c.j1; j++ {
			// GDAL's nearest neighbour takes the source pixel under the centre.
			y := c.y0 + int((float64(j-c.j0)+0.5)*float64(c.y1-c.y0)/float64(c.j1-c.j0))
			rows = append(rows, min(y, lvl.h-1))
		}
	}
	return rows
}

// maskLike reports whether an alpha band holds a mask: nearly all of it
// fully transparent or fully opaque (the rest are edge pixels averaged
// between the two), where a band of data, such as near-infrared, spreads
// over the range.
func maskLike(alpha []uint8) bool {
	ends := 0
	for _, v := range alpha {
		if v == 0 || v == 255 {
			ends++
		}
	}
	return ends*10 >= len(alpha)*9
}

// edgeFill finds a constant fill around the picture: the pixels, connected
// to the image's edge, whose bands all hold the values most common on the
// edge, when that value covers a tenth of the edge and the fill is at least
// 0.5% of the picture. nil when there is none.
func edgeFill[T uint8 | float64](planes [][]T, w, h int) []bool {
	if len(planes) == 0 || w < 3 || h < 3 {
		return nil
	}
	n := w * h
	same := func(i, j int) bool {
		for _, pl := range planes {
			if pl[i] != pl[j] {
				return false
			}
		}
		return true
	}
	var edge []int
	for x := 0; x < w; x++ {
		edge = append(edge, x, (h-1)*w+x)
	}
	for y := 1; y < h-1; y++ {
		edge = append(edge, y*w, y*w+w-1)
	}
	// The most common edge value (as a tuple of bands): counted by a
	// representative pixel of each distinct value.
	counts := map[int]int{}
	var reps []int
	for _, i := range edge {
		found := false
		for _, r := range reps {
			if same(i, r) {
				counts[r]++
				found = true
				break
			}
		}
		if !found && len(reps) < 64 {
			reps = append(reps, i)
			counts[i] = 1
		}
	}
	best := -1
	for _, r := range reps {
		if best < 0 || counts[r] > counts[best] {
			best = r
		}
	}
	if best < 0 || counts[best]*10 < len(edge) {
		return nil
	}
	for _, pl := range planes {
		if v := float64(pl[best]); v != v { // NaN is nodata already
			return nil
		}
	}
	fill := make([]bool, n)
	queue := []int{}
	for _, i := range edge {
		if !fill[i] && same(i, best) {
			fill[i] = true
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		x, y := i%w, i/w
		for _, j := range [4]int{i - 1, i + 1, i - w, i + w} {
			if (j == i-1 && x == 0) || (j == i+1 && x == w-1) || (j == i-w && y == 0) || (j == i+w && y == h-1) {
				continue
			}
			if !fill[j] && same(j, best) {
				fill[j] = true
				queue = append(queue, j)
			}
		}
	}
	count := 0
	for _, f := range fill {
		if f {
			count++
		}
	}
	if count*200 < n || count == n {
		return nil
	}
	// Fill is written outside the data's range (0, a maximum, a sentinel):
	// a flat patch of the picture itself, such as a wall or a clipped sky
	// in the middle of the range, is not fill.
	for _, pl := range planes {
		v := pl[best]
		below, above := true, true
		for i, x := range pl {
			if !fill[i] {
				below = below && v <= x
				above = above && v >= x
			}
		}
		if !below && !above {
			return nil
		}
	}
	return fill
}
