// Package render turns one image (GeoTIFF, COG, JPEG, PNG, WebP, ...) into
// thumbnails with GDAL. It is the only package that talks to GDAL: it reads
// only the overview level a thumbnail needs, decides bands, stretches
// non-8-bit data, applies masks and EXIF orientation, and encodes outputs.
package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/airbusgeo/godal"

	"quicklook/internal/naming"
)

// Version changes whenever rendering changes what it writes, so outputs made
// by an older renderer are no longer up to date.
const Version = "1"

// Config is process-wide GDAL set-up.
type Config struct {
	CacheMB int // GDAL's decoded-block cache, shared by all renders
	// BlockSize is the least a small read fetches (read-ahead, default
	// 64 KiB), and ReadCacheMB bounds the raw bytes one render keeps
	// (default 32).
	BlockSize   int
	ReadCacheMB int
	// Parallel bounds the concurrent ranged reads of one render (default
	// 32: a striped file needs hundreds of small, latency-bound ranges).
	Parallel int
	// Extensions decide which GDAL drivers may open a source: those that
	// declare one of them (default naming.DefaultExtensions).
	Extensions []string
}

var (
	cfg     Config
	drivers []string // GDAL drivers allowed to open sources
)

var initOnce sync.Once
var initErr error

// Init configures and registers GDAL once, before first use.
func Init(c Config) error {
	initOnce.Do(func() {
		if c.CacheMB <= 0 {
			c.CacheMB = 64
		}
		if c.BlockSize <= 0 {
			c.BlockSize = 64 << 10
		}
		if c.ReadCacheMB <= 0 {
			c.ReadCacheMB = 32
		}
		if c.Parallel <= 0 {
			c.Parallel = 32
		}
		cfg = c
		for k, v := range map[string]string{
			"GDAL_CACHEMAX":          strconv.Itoa(cfg.CacheMB),
			"GDAL_PAM_ENABLED":       "NO", // no .aux.xml next to /vsimem/ outputs
			"GDAL_NUM_THREADS":       "1",  // the job runs one item per worker
			"CPL_VSIL_CURL_USE_HEAD": "NO",
		} {
			if _, set := os.LookupEnv(k); !set {
				os.Setenv(k, v)
			}
		}
		if len(c.Extensions) == 0 {
			c.Extensions = naming.DefaultExtensions
		}
		godal.RegisterAll()
		if drivers, initErr = driversFor(c.Extensions); initErr != nil {
			return
		}
		initErr = registerVSI()
	})
	return initErr
}

// Bands chooses which bands make the picture.
type Bands struct {
	Auto bool
	List []int // 1-based; one (grey) or three (RGB)
}

// ParseBands parses auto, natural (1,2,3), cir (4,1,2) or a list like 3,2,1 or 1.
func ParseBands(s string) (Bands, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Bands{Auto: true}, nil
	case "natural":
		return Bands{List: []int{1, 2, 3}}, nil
	case "cir":
		return Bands{List: []int{4, 1, 2}}, nil
	}
	var list []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return Bands{}, fmt.Errorf("bands %q: want auto, natural, cir or 1-based band numbers like 3,2,1", s)
		}
		list = append(list, n)
	}
	if len(list) != 1 && len(list) != 3 {
		return Bands{}, fmt.Errorf("bands %q: give one band (grey) or three (red,green,blue)", s)
	}
	return Bands{List: list}, nil
}

func (b Bands) String() string {
	if b.Auto {
		return "auto"
	}
	s := make([]string, len(b.List))
	for i, n := range b.List {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// Options are the render settings; their Hash is recorded with every output.
type Options struct {
	Profiles    []naming.Profile
	Bands       Bands
	Scale       *[2]float64 // fixed stretch for non-8-bit data; nil: percentiles
	Percentiles [2]float64  // default 2, 98
	Quality     int         // JPEG and WebP quality
	Background  [3]uint8    // behind transparency in JPEG
	MaxPixels   int64       // refuse reads of a level larger than this
}

// Defaults fills unset options.
func (o Options) Defaults() Options {
	if len(o.Profiles) == 0 {
		o.Profiles = []naming.Profile{naming.DefaultProfile}
	}
	if !o.Bands.Auto && len(o.Bands.List) == 0 {
		o.Bands.Auto = true
	}
	if o.Percentiles == [2]float64{} {
		o.Percentiles = [2]float64{2, 98}
	}
	if o.Quality == 0 {
		o.Quality = 85
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = 200_000_000
	}
	return o
}

// Hash identifies everything that changes the pixels written for a profile.
func (o Options) Hash(p naming.Profile) string {
	scale := "pct"
	if o.Scale != nil {
		scale = fmt.Sprintf("%g,%g", o.Scale[0], o.Scale[1])
	} else {
		scale += fmt.Sprintf("%g,%g", o.Percentiles[0], o.Percentiles[1])
	}
	s := fmt.Sprintf("v%s|%s|bands=%s|scale=%s|q=%d|bg=%v", Version, p, o.Bands, scale, o.Quality, o.Background)
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// RunHash identifies all settings of a run, including those that decide
// whether an image can be rendered at all (--max-pixels): a recorded data
// error stands until the source or these settings change.
func (o Options) RunHash() string {
	s := fmt.Sprintf("%d", o.MaxPixels)
	for _, p := range o.Profiles {
		s += "|" + o.Hash(p)
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// Output is one encoded thumbnail.
type Output struct {
	Profile naming.Profile
	Data    []byte
	Width   int
	Height  int
}

// Result is what one render did.
type Result struct {
	Outputs []Output
	Width   int // source size
	Height  int
	// Level is the resolution read: 0 full resolution, k the k-th largest overview.
	Level       int
	LevelWidth  int
	LevelHeight int
}

// Error classes recorded in manifests.
const (
	ClassUnsupported = "unsupported" // not an image GDAL can read, or a kind we do not render
	ClassCorrupt     = "corrupt"     // recognised but broken data
	ClassTooLarge    = "too_large"   // over --max-pixels even after overviews
	ClassEmpty       = "empty"       // zero bytes or zero pixels
	ClassBands       = "bands"       // requested bands the image does not have
)

// Error is a data error: the image cannot be rendered as asked.
type Error struct {
	Class string
	Msg   string
}

func (e *Error) Error() string { return e.Class + ": " + e.Msg }

func dataErr(class, format string, a ...any) error {
	return &Error{Class: class, Msg: fmt.Sprintf(format, a...)}
}

// Render reads key (and the sidecars listed in siblings) from src and returns
// one output per profile. Data errors are *Error; other errors come from the
// source (storage, deadline) and are returned as they are.
func Render(ctx context.Context, src Source, key string, siblings []string, opt Options) (*Result, error) {
	opt = opt.Defaults()
	diag := &diagnostics{}
	cache := newReadCache(trackedSource{src, diag}, int64(cfg.BlockSize), int64(cfg.ReadCacheMB)<<20, cfg.Parallel)
	defer cache.wait()
	vpath, detach := attach(cache, key, siblings...)
	defer detach()

	// SiblingFiles() with no names lets GDAL ask /vsiql/ for them (see vsi.go).
	ds, err := godal.Open(vpath, godal.RasterOnly(), godal.Drivers(drivers...), godal.SiblingFiles(), godal.ErrLogger(diag.lenient))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if srcErr := diag.sourceError(); srcErr != nil {
			return nil, srcErr
		}
		return nil, dataErr(ClassUnsupported, "not a readable image: %s", diag.summary(err))
	}
	closed := false
	defer func() {
		if !closed {
			ds.Close(godal.ErrLogger(diag.lenient))
		}
	}()

	st := ds.Structure()
	if st.SizeX <= 0 || st.SizeY <= 0 || st.NBands == 0 {
		return nil, dataErr(ClassEmpty, "image has %dx%d pixels and %d bands", st.SizeX, st.SizeY, st.NBands)
	}
	if strings.HasPrefix(st.DataType.String(), "C") {
		return nil, dataErr(ClassUnsupported, "complex %s data has no picture to show", st.DataType)
	}
	pick, err := chooseBands(ds, opt.Bands)
	if err != nil {
		return nil, err
	}

	maxW, maxH := 0, 0
	for _, p := range opt.Profiles {
		w, h := targetSize(st.SizeX, st.SizeY, p.Size)
		maxW, maxH = max(maxW, w), max(maxH, h)
	}
	lvl := chooseLevel(ds.Bands()[pick.bands[0]], st.SizeX, st.SizeY, maxW, maxH)
	if px := int64(lvl.w) * int64(lvl.h); px > opt.MaxPixels {
		return nil, dataErr(ClassTooLarge, "reading %dx%d pixels (%.0f Mpx, level %d) is over --max-pixels %d", lvl.w, lvl.h, float64(px)/1e6, lvl.index, opt.MaxPixels)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	img, err := readPicture(ds, pick, lvl, maxW, maxH, opt, diag, func(ranges [][2]int64) error {
		if len(ranges) == 0 && ds.Driver().ShortName() != "GTiff" {
			// Photo formats decode front to back: fetch the whole (bounded) file at once.
			if size, err := cache.Size(key); err == nil && size <= int64(cfg.ReadCacheMB)<<19 {
				for off := int64(0); off < size; off += 1 << 20 {
					ranges = append(ranges, [2]int64{off, 1 << 20})
				}
			}
		}
		return cache.Prefetch(key, ranges)
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if srcErr := diag.sourceError(); srcErr != nil {
			return nil, srcErr
		}
		return nil, err
	}
	orientation, _ := strconv.Atoi(strings.TrimSpace(ds.Metadata("EXIF_Orientation")))
	// Closing finishes the decoder, which is when libjpeg reports a truncated file.
	closed = true
	ds.Close(godal.ErrLogger(diag.lenient))
	if err := diag.corruption(); err != nil {
		return nil, err
	}

	res := &Result{Width: st.SizeX, Height: st.SizeY, Level: lvl.index, LevelWidth: lvl.w, LevelHeight: lvl.h}
	for _, p := range opt.Profiles {
		w, h := targetSize(st.SizeX, st.SizeY, p.Size)
		out := orient(resize(img, w, h), orientation)
		data, err := encode(out, p.Format, opt)
		if err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, Output{Profile: p, Data: data, Width: out.w, Height: out.h})
	}
	return res, nil
}

// picked is the band plan for one image (0-based band indexes).
type picked struct {
	bands   []int // 1 (grey) or 3 (RGB)
	palette *godal.ColorTable
	alpha   int // band used as alpha, -1 for none
}

func chooseBands(ds *godal.Dataset, want Bands) (picked, error) {
	bands := ds.Bands()
	n := len(bands)
	p := picked{alpha: -1}
	if !want.Auto {
		for _, b := range want.List {
			if b > n {
				return p, dataErr(ClassBands, "band %d requested, the image has %d", b, n)
			}
			p.bands = append(p.bands, b-1)
		}
		return p, nil
	}
	// Alpha is honoured in photo formats only: in GeoTIFFs such as NAIP the
	// 4th band is near-infrared even when tagged alpha.
	photo := ds.Driver().ShortName() != "GTiff"
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
	if photo && alphaAt >= 0 && !contains(p.bands, alphaAt) {
		p.alpha = alphaAt
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

// level is one resolution of the image: full (index 0) or an overview.
type level struct {
	index int
	w, h  int
}

// chooseLevel picks the smallest resolution that still covers the largest
// thumbnail, whatever order the file stores its overviews in.
func chooseLevel(b godal.Band, w, h, tw, th int) level {
	levels := []level{{0, w, h}}
	for i, o := range b.Overviews() {
		s := o.Structure()
		if s.SizeX > 0 && s.SizeY > 0 {
			levels = append(levels, level{i + 1, s.SizeX, s.SizeY})
		}
	}
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].w*levels[i].h > levels[j].w*levels[j].h })
	best := levels[0]
	for _, l := range levels[1:] {
		// One pixel short is rounding in the overview, not a visible loss.
		if l.w >= tw-1 && l.h >= th-1 {
			best = l
		}
	}
	return best
}

// bandAt returns the band at a level (0 full resolution, k the k-th overview).
func bandAt(b godal.Band, lvl level) godal.Band {
	if lvl.index == 0 {
		return b
	}
	return b.Overviews()[lvl.index-1]
}

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
				ok[i] = valid[i] && !isND
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

// encode writes the image in the profile's format through GDAL's drivers.
// JPEG never gets alpha (it is flattened) and never more than 3 bands.
func encode(img rgba, f naming.Format, opt Options) ([]byte, error) {
	transparent := !img.opaque()
	var channels int
	var driver string
	var co []string
	switch f {
	case naming.JPEG:
		if transparent {
			img = flatten(img, opt.Background)
		}
		channels, driver = 3, "JPEG"
		if img.grey {
			channels = 1
		}
		co = []string{"-co", fmt.Sprintf("QUALITY=%d", opt.Quality)}
	case naming.PNG:
		driver = "PNG"
		switch {
		case img.grey && transparent:
			channels = 2
		case img.grey:
			channels = 1
		case transparent:
			channels = 4
		default:
			channels = 3
		}
	case naming.WebP:
		driver, channels = "WEBP", 3
		if transparent {
			channels = 4
		}
		co = []string{"-co", fmt.Sprintf("QUALITY=%d", opt.Quality)}
	default:
		return nil, fmt.Errorf("unknown format %q", f)
	}
	mem, err := godal.Create(godal.Memory, "", channels, godal.Byte, img.w, img.h)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	defer mem.Close()
	if err := mem.Write(0, 0, img.interleave(channels), img.w, img.h); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if channels == 2 || channels == 4 {
		if err := mem.Bands()[channels-1].SetColorInterp(godal.CIAlpha); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
	}
	name := fmt.Sprintf("/vsimem/quicklook-%d.%s", nextID.Add(1), f.Ext())
	defer godal.VSIUnlink(name)
	out, err := mem.Translate(name, append([]string{"-of", driver}, co...))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	return readVSIMem(name)
}

func readVSIMem(name string) ([]byte, error) {
	f, err := godal.VSIOpen(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// trackedSource remembers the first storage failure, so a read that failed
// because the network did is not recorded as a corrupt image.
type trackedSource struct {
	Source
	diag *diagnostics
}

func (t trackedSource) Size(key string) (int64, error) {
	n, err := t.Source.Size(key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.diag.setSourceError(err)
	}
	return n, err
}

func (t trackedSource) ReadAt(key string, p []byte, off int64) (int, error) {
	n, err := t.Source.ReadAt(key, p, off)
	if err != nil && err != io.EOF {
		t.diag.setSourceError(err)
	}
	return n, err
}
