// Package naming holds the one rule that maps a source key to its thumbnail
// keys and URLs, and the outputs (profiles) a run asks for. The job writes
// thumbnails with it and the indexer step points index entries at them with
// it, so the two can never disagree.
package naming

import (
	"net/url"
	"strings"
)

// Format is an output image format.
type Format string

const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
)

// Ext is the file extension written for the format (without the dot).
func (f Format) Ext() string {
	if f == JPEG {
		return "jpg"
	}
	return string(f)
}

// ContentType is the HTTP media type of the format.
func (f Format) ContentType() string { return "image/" + string(f) }

// Suffix is what the profile appends to the extension-less source key.
func (p Profile) Suffix() string { return "." + p.Name + "." + p.Format.Ext() }

// StripExt removes the extension of the last path segment only: dots in
// folder names and a leading dot of a hidden file are not extensions.
func StripExt(key string) string {
	slash := strings.LastIndexByte(key, '/')
	dot := strings.LastIndexByte(key, '.')
	if dot > slash+1 {
		return key[:dot]
	}
	return key
}

// OutputKey maps a source key to the profile's thumbnail key below destBase
// (a key prefix such as "" or "thumbs/"; keys are mirrored whole).
func OutputKey(destBase, sourceKey string, p Profile) string {
	return joinKey(destBase, StripExt(sourceKey)+p.Suffix())
}

func joinKey(base, key string) string {
	if base == "" {
		return key
	}
	return strings.TrimSuffix(base, "/") + "/" + key
}

// URL is urlBase followed by the URL-path-escaped key: every segment is
// escaped, the slashes between them are kept.
func URL(urlBase, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimSuffix(urlBase, "/") + "/" + strings.Join(segs, "/")
}
