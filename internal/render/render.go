// Package render turns one image (GeoTIFF, COG, JPEG, PNG, WebP, ...) into
// thumbnails with GDAL. It is the only package that talks to GDAL: it reads
// only the overview level a thumbnail needs, decides bands, stretches
// non-8-bit data, applies masks and EXIF orientation, and encodes outputs.
//
// This file is one image's way through GDAL, from the first bytes to the
// encoded outputs, read top to bottom; each step's rules are in their own
// files (bands, level, stretch, pixels, encode, readcache, readplan).
package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/airbusgeo/godal"

	"quicklook/internal/imagehead"
	"quicklook/internal/naming"
	"quicklook/internal/sources"
)

// Config is process-wide GDAL set-up.
type Config struct {
	CacheMB int // GDAL's decoded-block cache, shared by all renders
	// BlockSize is the least a small read fetches (read-ahead, default
	// 64 KiB), and ReadCacheMB bounds the raw bytes one render keeps
	// (default 64: a bulk read streams two 16 MiB requests at once).
	BlockSize   int
	ReadCacheMB int
	// Parallel bounds the concurrent ranged reads of one render (default
	// 32: a striped file needs hundreds of small, latency-bound ranges).
	Parallel int
	// Extensions decide which GDAL drivers may open a source: those that
	// declare one of them (default sources.DefaultExtensions).
	Extensions []string
	// Read prices the ways of fetching an image's bytes (default: S3 and
	// Spot list prices, auto).
	Read ReadPolicy
}

var (
	cfg     Config
	drivers []string // GDAL drivers allowed to open sources their bytes do not name
	// imageDrivers are the registered drivers of the formats sniff knows:
	// a source whose bytes name one is opened by it alone.
	imageDrivers = map[string]bool{}
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
			c.ReadCacheMB = 64
		}
		if c.Parallel <= 0 {
			c.Parallel = 32
		}
		if c.Read == (ReadPolicy{}) {
			c.Read = DefaultReadPolicy()
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
			c.Extensions = sources.DefaultExtensions
		}
		godal.RegisterAll()
		if drivers, initErr = driversFor(c.Extensions); initErr != nil {
			return
		}
		for _, name := range []string{"JPEG", "PNG", "GIF", "GTiff", "WEBP", "JP2OpenJPEG", "MRF"} {
			if _, ok := godal.RasterDriver(godal.DriverName(name)); ok {
				imageDrivers[name] = true
			}
		}
		initErr = registerVSI()
	})
	return initErr
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
	Level int
	// ReadPlan says how the bytes were fetched and why (see planReads).
	ReadPlan string
	// Layout is how the image stores its pixels, as far as reading costs go:
	// cog (tiled, with overviews), tiled, striped, mrf, photo or other.
	Layout      string
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

// layoutOf names how an image stores its pixels, for costing: reading a
// COG costs a tile or two, a striped or tiled file without overviews its
// whole span, a photo all of it.
func layoutOf(driver string, b godal.Band, width int) string {
	switch driver {
	case "GTiff":
		switch {
		case b.Structure().BlockSizeX >= width:
			return "striped"
		case len(b.Overviews()) > 0:
			return "cog"
		}
		return "tiled"
	case "MRF":
		return "mrf"
	case "JPEG", "PNG", "WEBP", "GIF":
		return "photo"
	}
	return "other"
}

// photoExtensions are formats whose decoders read front to back: their bytes
// are all needed, and fetched at once, before GDAL opens them.
var photoExtensions = []string{"jpg", "jpeg", "jpe", "jfif", "mpo", "png", "webp", "gif"}

// wholeFirst decides to fetch an object whole before GDAL opens it: a photo
// (every byte is needed anyway), or, as the policy prices it, an object
// smaller than a request is dear: one request instead of a header read and
// then the pixels.
func wholeFirst(key string, size int64, pol ReadPolicy) bool {
	if sources.HasExtension(key, photoExtensions) {
		return true
	}
	if pol.Plan == PlanSparse || size <= 0 {
		return false
	}
	// One request saved is worth this many bytes of the vCPU's waiting.
	return float64(size) < pol.breakEven()
}

// imageOrientation is how the picture is to be turned: its EXIF or TIFF
// orientation (a georeferenced TIFF is drawn as its georeferencing says).
func imageOrientation(ds *godal.Dataset, driver string, sn imagehead.Header, georeferenced bool) int {
	o := sn.Orientation
	if o == 0 {
		o, _ = strconv.Atoi(strings.TrimSpace(ds.Metadata("EXIF_Orientation")))
	}
	if driver == "GTiff" && georeferenced {
		return 1
	}
	if o < 1 || o > 8 {
		return 1
	}
	return o
}

// pictureOf names the picture an output is made from: outputs with the
// same bands and stretch share one.
func pictureOf(p naming.Profile) string { return p.Bands + "|" + p.Scale }

// cutOut returns the image GDAL is to read instead of the object's bytes,
// when the image is intact but its container keeps GDAL from it: an
// animated WebP (its first frame, as a viewer shows), or junk between a
// JPEG's start and its first marker. nil: the bytes as they are.
//
// A JPEG is read whole here (it is decoded whole anyway, and the bytes stay
// in the read cache for the decoder): one cut short, without its end
// marker, is corrupt, since a progressive decoder shows the missing part as
// grey without a warning. An image larger than the read cache's budget is
// left as it is, for the decoder to stream (and judge by what it lost).
func cutOut(src Source, key string, size, budget int64, sn imagehead.Header) ([]byte, error) {
	if !(sn.Animated || sn.Driver == "JPEG") || size > budget {
		return nil, nil
	}
	whole := make([]byte, size)
	if n, err := src.ReadAt(key, whole, 0); int64(n) < size {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if sn.Driver == "JPEG" {
		fixed, ok := imagehead.JPEGWithoutLeadingJunk(whole)
		if ok {
			whole = fixed
		}
		if !imagehead.JPEGComplete(whole) {
			return nil, dataErr(ClassCorrupt, "the JPEG is cut short: no end marker after its scan")
		}
		if ok {
			return fixed, nil
		}
		return nil, nil
	}
	if sn.Animated {
		frame, err := imagehead.WebPFirstFrame(whole)
		if err != nil {
			return nil, dataErr(ClassCorrupt, "%s", err)
		}
		return frame, nil
	}
	return nil, nil
}

func dataErr(class, format string, a ...any) error {
	return &Error{Class: class, Msg: fmt.Sprintf(format, a...)}
}

// Render reads key (and the sidecars listed in siblings) from src and returns
// one output per profile. Data errors are *Error; other errors come from the
// source (storage, deadline) and are returned as they are.
func Render(ctx context.Context, src Source, key string, siblings []string, opt Options) (*Result, error) {
	opt = opt.Defaults()
	diag := &diagnostics{}
	cache := newReadCache(trackedSource{src, diag}, int64(cfg.BlockSize), int64(cfg.ReadCacheMB)<<20, cfg.Parallel, cfg.Read)
	defer cache.wait()
	var plan readPlan
	size, err := cache.Size(key)
	if err != nil {
		if srcErr := diag.sourceError(); srcErr != nil {
			return nil, srcErr
		}
		return nil, err
	}
	if wholeFirst(key, size, cfg.Read) {
		plan, _ = cache.Prefetch(key, [][2]int64{{0, size}})
	}
	// What the bytes are decides how they are read, not the name.
	head := make([]byte, min(size, imagehead.HeadBytes))
	n, err := cache.ReadAt(key, head, 0)
	if srcErr := diag.sourceError(); err != nil && srcErr != nil {
		return nil, srcErr
	}
	head = head[:n]
	// A TIFF's directory may follow its pixels: read on from the cache.
	sn, tiffDir := imagehead.SniffAt(head, func(off int64, n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := cache.ReadAt(key, b, off)
		return b, err
	})
	var view Source = cache
	if data, err := cutOut(cache, key, size, int64(cfg.ReadCacheMB)<<20, sn); err != nil {
		return nil, err
	} else if data != nil {
		view = rewritten{cache, key, data}
		head = data[:min(len(data), imagehead.HeadBytes)]
	}
	diag.head = head
	vpath, detach := attach(view, key, siblings...)
	defer detach()
	diag.setPath(vpath, key)
	if sn.Driver == "MRF" {
		// Opened as an MRF whatever its name or --ext: the bytes decide.
		if err := checkReferences(cache, key, siblings); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
	}

	// SiblingFiles() with no names lets GDAL ask /vsiql/ for them (see vsi.go).
	open := drivers
	if imageDrivers[sn.Driver] {
		open = []string{sn.Driver}
	}
	ds, err := godal.Open(vpath, godal.RasterOnly(), godal.Drivers(open...), godal.SiblingFiles(), godal.ErrLogger(diag.lenient))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if srcErr := diag.sourceError(); srcErr != nil {
			return nil, srcErr
		}
		switch {
		case sn.Driver == "":
			return nil, dataErr(ClassUnsupported, "not an image format this job reads: %s", diag.summary(err))
		case sn.Claims(opt.MaxPixels):
			return nil, dataErr(ClassTooLarge, "the %s header claims %dx%d pixels, over --max-pixels %d, and GDAL refused it: %s", sn.Driver, sn.Width, sn.Height, opt.MaxPixels, diag.summary(err))
		}
		return nil, dataErr(ClassCorrupt, "a damaged %s file: %s", sn.Driver, diag.summary(err))
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

	driver := ds.Driver().ShortName()
	orientation := imageOrientation(ds, driver, sn, pick.georeferenced)
	// Each output's size is reckoned on the picture as shown (turned by
	// its orientation); the read covers the largest of them, once.
	dispW, dispH := st.SizeX, st.SizeY
	if orientation >= 5 {
		dispW, dispH = dispH, dispW
	}
	type target struct{ sw, sh int } // scaled size, in the stored picture's axes
	targets := make([]target, len(opt.Profiles))
	maxW, maxH := 0, 0
	for i, p := range opt.Profiles {
		sw, sh, _, _ := p.Target(dispW, dispH)
		if orientation >= 5 {
			sw, sh = sh, sw
		}
		targets[i] = target{sw, sh}
		maxW, maxH = max(maxW, sw), max(maxH, sh)
	}
	lvl := chooseLevel(ds.Bands()[pick.bands[0]], st.SizeX, st.SizeY, maxW, maxH)
	if px := int64(lvl.w) * int64(lvl.h); px > opt.MaxPixels {
		return nil, dataErr(ClassTooLarge, "reading %dx%d pixels (%.0f Mpx, level %d) is over --max-pixels %d", lvl.w, lvl.h, float64(px)/1e6, lvl.index, opt.MaxPixels)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Each output's settings (the run's, with its own over them).
	popts := make([]Options, len(opt.Profiles))
	for i, p := range opt.Profiles {
		if popts[i], err = opt.For(p); err != nil {
			return nil, err
		}
	}
	// Outputs that override the bands or the stretch get a picture of
	// their own, from the same level: the bytes come from the read cache.
	pictures := map[string]rgba{}
	for i, p := range opt.Profiles {
		group := pictureOf(p)
		if _, done := pictures[group]; done {
			continue
		}
		gopt, gpick := opt, pick
		if p.Bands != "" || p.Scale != "" {
			gopt = popts[i]
			if gpick, err = chooseBands(ds, gopt.Bands); err != nil {
				var de *Error
				if errors.As(err, &de) {
					return nil, dataErr(de.Class, "output %s: %s", p.Name, de.Msg)
				}
				return nil, err
			}
		}
		img, err := readPicture(ds, gpick, lvl, maxW, maxH, gopt, diag, func(ranges [][2]int64) error {
			p, err := cache.Prefetch(key, ranges)
			if p.name != "" {
				plan = p
			}
			return err
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
		pictures[group] = img
	}
	if driver == "GTiff" && tiffDir != nil {
		// GDAL reads strips by the size they should have: one that does not
		// match the layout gives a garbled picture without a word.
		if err := imagehead.CheckTIFFLayout(tiffDir, size); err != nil {
			return nil, dataErr(ClassCorrupt, "%s", err)
		}
	}
	layout := layoutOf(driver, ds.Bands()[pick.bands[0]], st.SizeX)
	// Closing finishes the decoder, which is when libjpeg reports a truncated file.
	closed = true
	ds.Close(godal.ErrLogger(diag.lenient))
	if err := diag.corruption(); err != nil {
		return nil, err
	}

	res := &Result{Width: st.SizeX, Height: st.SizeY, Level: lvl.index, LevelWidth: lvl.w, LevelHeight: lvl.h, ReadPlan: plan.why,
		Layout: layout}
	for i, p := range opt.Profiles {
		out := orient(resize(pictures[pictureOf(p)], targets[i].sw, targets[i].sh), orientation)
		if p.Cover() {
			x, y := p.Crop(out.w, out.h)
			out = crop(out, x, y, p.Width, p.Height)
		}
		data, err := encode(out, p.Format, popts[i])
		if err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, Output{Profile: p, Data: data, Width: out.w, Height: out.h})
	}
	return res, nil
}
