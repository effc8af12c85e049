package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"quicklook/internal/imagehead"
	"quicklook/internal/naming"
)

// Version changes whenever rendering changes what it writes for every
// image, so outputs made by an older renderer are no longer up to date.
const Version = "1"

// RulesVersion counts changes to the rendering rules that alter some
// images' thumbnails but not all (changing Version would make every one
// again). Records carry the version they were made under; an older
// thumbnail is made again only when Affected says a change touches it.
const RulesVersion = 2

// Affected reports whether the rules changed since version v alter the
// thumbnail of an image whose header says h. Version 2: orientation read
// outside JPEG (PNG, WebP, a TIFF that is not georeferenced), a GeoTIFF's
// alpha used as transparency when it is a mask, and a constant fill or
// transparent pixels left out of the stretch of data deeper than 8 bits.
func Affected(v int, h imagehead.Header) bool {
	if v >= RulesVersion {
		return false
	}
	turned := h.Orientation > 1 && h.Orientation <= 8 &&
		(h.Driver == "PNG" || h.Driver == "WEBP" || (h.Driver == "GTiff" && !h.Georeferenced))
	return turned || (h.Driver == "GTiff" && h.Alpha) || (h.NonByte && (h.Alpha || h.Georeferenced))
}

// Bands chooses which bands make the picture.
type Bands struct {
	Auto bool
	List []int // 1-based; one (grey) or three (RGB)
}

// ParseBands parses auto, natural (1,2,3), cir (4,1,2) or a list like 3,2,1 or 1.
func ParseBands(s string) (Bands, error) {
	list, err := naming.ParseBands(s)
	return Bands{Auto: list == nil, List: list}, err
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
	// FillNodata makes a constant fill around the picture transparent (it
	// is always left out of the stretch).
	FillNodata bool
}

// For is the options of one output: the run's, with the profile's own
// quality, background, bands and stretch over them.
func (o Options) For(p naming.Profile) (Options, error) {
	if p.Quality > 0 {
		o.Quality = p.Quality
	}
	if p.Background != "" {
		c, err := naming.ParseColour(p.Background)
		if err != nil {
			return o, fmt.Errorf("profile %s: background %w", p.Name, err)
		}
		o.Background = c
	}
	if p.Bands != "" {
		b, err := ParseBands(p.Bands)
		if err != nil {
			return o, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		o.Bands = b
	}
	if p.Scale != "" {
		lo, hi, err := naming.ParseScale(p.Scale)
		if err != nil {
			return o, fmt.Errorf("profile %s: scale %w", p.Name, err)
		}
		o.Scale = &[2]float64{lo, hi}
	}
	return o, nil
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
	if o.FillNodata {
		s += "|fill=nodata" // only when set: thumbnails made without it keep their hash
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// RunHash identifies all settings of a run, including those that decide
// whether an image can be rendered at all (--max-pixels): a recorded data
// error stands until the source or these settings change.
func (o Options) RunHash() string {
	// A data error stands until the rules change too: some files refused
	// before are read now.
	s := fmt.Sprintf("%d|r%d", o.MaxPixels, RulesVersion)
	for _, p := range o.Profiles {
		s += "|" + o.Hash(p)
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
