// Package sources decides which listed objects are images to render. The
// submitter counts with it, sends it to every job (job environment and plan
// file) and the job lists with it, so a run renders exactly what its plan
// counted.
package sources

import (
	"fmt"
	"path"
	"strings"

	"quicklook/internal/layout"
	"quicklook/internal/naming"
)

// DefaultExtensions are the source extensions rendered unless told otherwise.
var DefaultExtensions = []string{"tif", "tiff", "jpg", "jpeg", "png", "webp", "jp2", "gif", "mrf"}

// sidecarSuffixes are files GDAL reads beside an image (external overviews,
// masks, auxiliary metadata, world files): parts of an image, never images
// themselves.
var sidecarSuffixes = []string{".ovr", ".msk", ".aux.xml", ".tfw", ".tifw", ".jgw", ".pgw", ".wld"}

// mrfParts are the extensions of an MRF's index and data files (one per
// tile compression: PNG, JPEG, JPNG, none, DEFLATE, ZSTD, TIFF, LERC, QB3),
// beside its .mrf header.
var mrfParts = []string{"idx", "ppg", "pjg", "pjp", "til", "pzp", "pzs", "ptf", "lrc", "pq3"}

// Kind is what a listed key is to a run.
type Kind int

const (
	Image     Kind = iota // to render
	Own                   // quicklook's own files (_quicklook/)
	Hidden                // under a folder named .x or _x, or a file named .x
	Thumbnail             // an output of the run's profiles written into the source tree
	Sidecar               // a part of an image (x.tif.ovr, x.aux.xml, an MRF's x.idx and x.lrc)
	Other                 // anything else: not an image to render
)

func (k Kind) String() string {
	return [...]string{"image", "own", "hidden", "thumbnail", "sidecar", "other"}[k]
}

// Filter is the rule. Its JSON form is what plan files carry.
type Filter struct {
	// Extensions are the image extensions, lower case without dots.
	Extensions []string `json:"extensions"`
	// Thumbnails are the suffixes of the run's outputs (.thumb.jpg): a
	// thumbnail written into the source tree is not a source.
	Thumbnails []string `json:"thumbnails,omitempty"`
}

// New makes the filter of a run: extensions as given on a command line
// ("tif, .TIFF,jpg"; empty for the defaults) and the run's profiles.
func New(extensions string, profiles []naming.Profile) (Filter, error) {
	f := Filter{Extensions: ParseExtensions(extensions)}
	if len(f.Extensions) == 0 {
		f.Extensions = append([]string(nil), DefaultExtensions...)
	}
	for _, e := range f.Extensions {
		if strings.ContainsAny(e, "/*? ") {
			return Filter{}, fmt.Errorf("extension %q: want a name such as tif", e)
		}
	}
	for _, p := range profiles {
		f.Thumbnails = append(f.Thumbnails, p.Suffix())
	}
	return f, nil
}

// ParseExtensions reads a comma-separated list: case, dots and spaces do not
// matter, duplicates are dropped.
func ParseExtensions(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), "."))
		if e != "" && !contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// ExtensionList is the extensions as a flag or environment value.
func (f Filter) ExtensionList() string { return strings.Join(f.Extensions, ",") }

// SameExtensions reports whether a comma-separated list names the filter's
// extensions.
func (f Filter) SameExtensions(list string) bool { return sameSet(f.Extensions, ParseExtensions(list)) }

// Kind classifies key, listed under prefix. Hidden folders and files are
// judged below the prefix's last folder, so a prefix may itself name one
// (--prefix _archive/2013/).
func (f Filter) Kind(prefix, key string) Kind {
	if layout.IsOwn(key) {
		return Own
	}
	segs := strings.Split(key[strings.LastIndexByte(prefix, '/')+1:], "/")
	for i, s := range segs {
		if HiddenName(s, i < len(segs)-1) {
			return Hidden
		}
	}
	for _, t := range f.Thumbnails {
		if strings.HasSuffix(key, t) {
			return Thumbnail
		}
	}
	lower := strings.ToLower(key)
	for _, s := range sidecarSuffixes {
		if strings.HasSuffix(lower, s) {
			return Sidecar
		}
	}
	if contains(f.Extensions, "mrf") && HasExtension(key, mrfParts) {
		return Sidecar
	}
	if HasExtension(key, f.Extensions) {
		return Image
	}
	return Other
}

// HiddenName reports whether a folder or file name marks bookkeeping rather
// than data: a name that starts with "." (NAIP's .misc/, macOS's ._x.jpg), or
// a folder name that starts with "_" (quicklook's own _quicklook/). A file
// named _x is data: cameras name files _DSC0001.JPG.
func HiddenName(name string, folder bool) bool {
	return strings.HasPrefix(name, ".") || (folder && strings.HasPrefix(name, "_"))
}

// HasExtension reports whether the key's extension (case-insensitive) is
// one of exts (given without dots).
func HasExtension(key string, exts []string) bool {
	return contains(exts, strings.ToLower(strings.TrimPrefix(path.Ext(key), ".")))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}
