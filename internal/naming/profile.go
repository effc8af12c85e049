package naming

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// MaxSize bounds a profile's SIZE: beyond it a "thumbnail" is a full image.
const MaxSize = 8192

// Profile is one requested output: a name, a format and a fit. The short
// form NAME:SIZE:FORMAT fits the picture inside SIZE on its longest side; a
// profiles file (LoadProfiles) can also ask for a box, a cover crop, a
// quality, a background and other bands or stretch for this output alone.
type Profile struct {
	Name   string `json:"name"`
	Format Format `json:"format"`
	// Fit is inside (the whole picture within Size, or within the
	// Width x Height box, never enlarged) or cover (exactly Width x Height,
	// enlarged if need be, the overflow cropped at Gravity).
	Fit     string `json:"fit,omitempty"`
	Size    int    `json:"size,omitempty"`
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	Gravity string `json:"gravity,omitempty"` // cover: centre (default), north, south, east, west
	// Overrides of the run's settings for this output.
	Quality    int    `json:"quality,omitempty"`    // JPEG and WebP, 1-100
	Background string `json:"background,omitempty"` // #rrggbb behind transparency in JPEG
	Bands      string `json:"bands,omitempty"`      // as --bands
	Scale      string `json:"scale,omitempty"`      // as --scale: MIN,MAX
}

// Fits.
const (
	FitInside = "inside"
	FitCover  = "cover"
)

// DefaultProfile is the layout existing indexers expect (x.tif -> x.thumb.jpg).
var DefaultProfile = Profile{Name: "thumb", Size: 256, Format: JPEG}

// String is the short form for a short-form profile, and every field
// otherwise; it is what the settings hash covers, so changing one output
// changes that output's hash alone.
func (p Profile) String() string {
	if p.Short() {
		return fmt.Sprintf("%s:%d:%s", p.Name, p.Size, p.Format)
	}
	s := fmt.Sprintf("%s:%s:%dx%d:%s", p.Name, p.fit(), p.Width, p.Height, p.Format)
	if p.Size > 0 {
		s = fmt.Sprintf("%s:%s:%d:%s", p.Name, p.fit(), p.Size, p.Format)
	}
	for _, kv := range [][2]string{{"gravity", p.Gravity}, {"q", strconv.Itoa(p.Quality)}, {"bg", p.Background}, {"bands", p.Bands}, {"scale", p.Scale}} {
		if kv[1] != "" && kv[1] != "0" {
			s += ";" + kv[0] + "=" + kv[1]
		}
	}
	return s
}

// Describe says what the output is, for people: "256 px JPEG",
// "WebP within 640x360", "200x200 PNG crop (north)".
func (p Profile) Describe() string {
	format := map[Format]string{JPEG: "JPEG", PNG: "PNG", WebP: "WebP"}[p.Format]
	var s string
	switch {
	case p.Cover():
		s = fmt.Sprintf("%dx%d %s crop", p.Width, p.Height, format)
		if p.Gravity != "" {
			s += " (" + p.Gravity + ")"
		}
	case p.Size > 0:
		s = fmt.Sprintf("%d px %s", p.Size, format)
	default:
		s = fmt.Sprintf("%s within %dx%d", format, p.Width, p.Height)
	}
	if p.Bands != "" && p.Bands != "auto" {
		s += ", bands " + p.Bands
	}
	return s
}

// Short reports whether the profile is the short form: inside a size,
// nothing overridden.
func (p Profile) Short() bool {
	return p.fit() == FitInside && p.Size > 0 && p.Width == 0 && p.Height == 0 && p.Gravity == "" && p.Quality == 0 &&
		p.Background == "" && p.Bands == "" && p.Scale == ""
}

func (p Profile) fit() string {
	if p.Fit == "" {
		return FitInside
	}
	return p.Fit
}

// Cover reports whether the profile crops to fill its box.
func (p Profile) Cover() bool { return p.Fit == FitCover }

// Target is the output's size, and the size the picture is scaled to
// before a cover crop, for a w x h picture (as displayed, after its
// orientation). Inside never enlarges; cover always fills the box.
func (p Profile) Target(w, h int) (scaledW, scaledH, outW, outH int) {
	if w <= 0 || h <= 0 {
		return 1, 1, 1, 1
	}
	fw, fh := float64(w), float64(h)
	switch {
	case p.Cover():
		scale := max(float64(p.Width)/fw, float64(p.Height)/fh)
		sw, sh := max(p.Width, int(fw*scale+0.5)), max(p.Height, int(fh*scale+0.5))
		return sw, sh, p.Width, p.Height
	case p.Size > 0:
		scale := min(1, float64(p.Size)/max(fw, fh))
		ow, oh := max(1, int(fw*scale+0.5)), max(1, int(fh*scale+0.5))
		return ow, oh, ow, oh
	default:
		scale := min(1, float64(p.Width)/fw, float64(p.Height)/fh)
		ow, oh := max(1, int(fw*scale+0.5)), max(1, int(fh*scale+0.5))
		return ow, oh, ow, oh
	}
}

// Crop is where a cover crop of the box from a scaled sw x sh picture
// starts, at the profile's gravity.
func (p Profile) Crop(sw, sh int) (x, y int) {
	x, y = (sw-p.Width)/2, (sh-p.Height)/2
	switch p.Gravity {
	case "north":
		y = 0
	case "south":
		y = sh - p.Height
	case "west":
		x = 0
	case "east":
		x = sw - p.Width
	}
	return x, y
}

var (
	gravities  = map[string]bool{"": true, "centre": true, "center": true, "north": true, "south": true, "east": true, "west": true}
	formatName = map[string]Format{"jpeg": JPEG, "jpg": JPEG, "png": PNG, "webp": WebP}
)

// Check validates one profile and puts it in canonical form; errors name
// the field.
func (p *Profile) Check() error {
	if !profileName.MatchString(p.Name) {
		return fmt.Errorf("name %q: 1-32 letters, digits, '-' or '_'", p.Name)
	}
	f, ok := formatName[strings.ToLower(string(p.Format))]
	if !ok {
		return fmt.Errorf("format %q: jpeg, png or webp", p.Format)
	}
	p.Format = f
	inRange := func(field string, v int) error {
		if v < 1 || v > MaxSize {
			return fmt.Errorf("%s %d: from 1 to %d pixels", field, v, MaxSize)
		}
		return nil
	}
	switch p.fit() {
	case FitInside:
		if p.Fit == FitInside && p.Size == 0 && p.Width == 0 && p.Height == 0 {
			return fmt.Errorf("fit inside: give size, or width and height")
		}
		if p.Size != 0 && (p.Width != 0 || p.Height != 0) {
			return fmt.Errorf("size and width/height: give one or the other")
		}
		if p.Size != 0 || (p.Width == 0 && p.Height == 0) {
			if err := inRange("size", p.Size); err != nil {
				return err
			}
			break
		}
		fallthrough
	case FitCover:
		if p.Size != 0 {
			return fmt.Errorf("size with fit %s: give width and height", p.fit())
		}
		if (p.Width == 0) != (p.Height == 0) {
			return fmt.Errorf("a box of width %d and height %d: give both", p.Width, p.Height)
		}
		if err := inRange("width", p.Width); err != nil {
			return err
		}
		if err := inRange("height", p.Height); err != nil {
			return err
		}
	default:
		return fmt.Errorf("fit %q: inside or cover", p.Fit)
	}
	if !gravities[p.Gravity] {
		return fmt.Errorf("gravity %q: centre, north, south, east or west", p.Gravity)
	}
	if p.Gravity != "" && !p.Cover() {
		return fmt.Errorf("gravity %q: only a cover crop has one", p.Gravity)
	}
	if p.Gravity == "center" || p.Gravity == "centre" {
		p.Gravity = ""
	}
	if p.Quality != 0 && (p.Quality < 1 || p.Quality > 100) {
		return fmt.Errorf("quality %d: from 1 to 100", p.Quality)
	}
	if p.Quality != 0 && p.Format == PNG {
		return fmt.Errorf("quality %d: PNG is lossless, quality is for jpeg and webp", p.Quality)
	}
	if p.Background != "" {
		if _, err := ParseColour(p.Background); err != nil || !strings.HasPrefix(p.Background, "#") {
			return fmt.Errorf("background %q: a colour as #rrggbb", p.Background)
		}
	}
	if _, err := ParseBands(p.Bands); err != nil {
		return fmt.Errorf("bands %q: auto, natural, cir, or one or three band numbers such as 4,3,2", p.Bands)
	}
	if p.Scale != "" {
		if _, _, err := ParseScale(p.Scale); err != nil {
			return fmt.Errorf("scale %q: MIN,MAX with MAX above MIN", p.Scale)
		}
	}
	return nil
}

// LoadProfiles reads a profiles file: a JSON array of outputs. Unknown
// fields, impossible sizes and two outputs writing the same key are
// refused, naming the output and the field.
func LoadProfiles(data []byte) ([]Profile, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("profiles: want a JSON array of outputs, got a JSON %s", typeErr.Value)
		}
		return nil, fmt.Errorf("profiles: want a JSON array of outputs: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("profiles: no outputs")
	}
	var out []Profile
	seen := map[string]string{}
	for i, r := range raw {
		var p Profile
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) && typeErr.Field == "" {
				return nil, fmt.Errorf("profiles: output %d: want a JSON object, got a JSON %s", i+1, typeErr.Value)
			}
			if errors.As(err, &typeErr) {
				// Go's message names the struct, not the file's field.
				return nil, fmt.Errorf("profiles: output %d: field %q: want a %s, got a JSON %s", i+1, typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
			}
			return nil, fmt.Errorf("profiles: output %d: %w", i+1, err)
		}
		if err := p.Check(); err != nil {
			return nil, fmt.Errorf("profiles: output %d (%q): %w", i+1, p.Name, err)
		}
		if prev, dup := seen[p.Suffix()]; dup {
			return nil, fmt.Errorf("profiles: outputs %q and %q both write *%s", prev, p.Name, p.Suffix())
		}
		seen[p.Suffix()] = p.Name
		out = append(out, p)
	}
	return out, nil
}

// jsonKind names a Go type as the JSON value it takes.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "whole number"
	case reflect.String:
		return "string"
	}
	return t.String()
}

// ProfilesJSON is the canonical profiles file of ps, as jobs are given it.
func ProfilesJSON(ps []Profile) string {
	b, _ := json.Marshal(ps)
	return string(b)
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

// ParseProfile parses NAME:SIZE:FORMAT, e.g. thumb:256:jpeg or 512:512:webp.
func ParseProfile(s string) (Profile, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Profile{}, fmt.Errorf("profile %q: want NAME:SIZE:FORMAT, e.g. thumb:256:jpeg", s)
	}
	name, sizeStr, format := parts[0], parts[1], strings.ToLower(parts[2])
	if !profileName.MatchString(name) {
		return Profile{}, fmt.Errorf("profile %q: name %q must be 1-32 letters, digits, '-' or '_'", s, name)
	}
	size, err := strconv.Atoi(sizeStr)
	if err != nil || size < 1 || size > MaxSize {
		return Profile{}, fmt.Errorf("profile %q: size %q must be a whole number from 1 to %d", s, sizeStr, MaxSize)
	}
	f, ok := formatName[format]
	if !ok {
		return Profile{}, fmt.Errorf("profile %q: format %q must be jpeg, png or webp", s, parts[2])
	}
	return Profile{Name: name, Size: size, Format: f}, nil
}

// ParseProfiles parses a list and refuses two profiles that would write the same key.
func ParseProfiles(specs []string) ([]Profile, error) {
	if len(specs) == 0 {
		return []Profile{DefaultProfile}, nil
	}
	seen := map[string]string{}
	var out []Profile
	for _, s := range specs {
		p, err := ParseProfile(s)
		if err != nil {
			return nil, err
		}
		suffix := p.Suffix()
		if prev, dup := seen[suffix]; dup {
			return nil, fmt.Errorf("profiles %q and %q both write *%s", prev, s, suffix)
		}
		seen[suffix] = s
		out = append(out, p)
	}
	return out, nil
}

// Select picks outputs by name, in the order asked, for a consumer (the
// indexer step) that points at some of them. A name matching outputs of
// several formats takes its extension to tell them apart: "thumb.webp".
func Select(ps []Profile, names []string) ([]Profile, error) {
	if len(names) == 0 {
		return ps, nil
	}
	var out []Profile
	for _, name := range names {
		var found []Profile
		for _, p := range ps {
			if p.Name == name || p.Name+"."+p.Format.Ext() == name {
				found = append(found, p)
			}
		}
		switch len(found) {
		case 1:
			out = append(out, found[0])
		case 0:
			return nil, fmt.Errorf("no output named %q: the outputs are %s", name, OutputNames(ps))
		default:
			return nil, fmt.Errorf("outputs %s are all named %q: give NAME.EXT", OutputNames(found), name)
		}
	}
	return out, nil
}

// outputNames lists outputs for a message: "thumb (.thumb.jpg), square (.square.webp)".
func OutputNames(ps []Profile) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name + " (*" + p.Suffix() + ")"
	}
	return strings.Join(names, ", ")
}
