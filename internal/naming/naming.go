// Package naming holds the one rule that maps a source key to its thumbnail
// keys and URLs. The job writes thumbnails with it and the indexer step points
// index entries at them with it, so the two can never disagree.
package naming

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
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

// MaxSize bounds a profile's SIZE: beyond it a "thumbnail" is a full image.
const MaxSize = 8192

// Profile is one requested output: NAME:SIZE:FORMAT.
type Profile struct {
	Name   string
	Size   int // longest side in pixels
	Format Format
}

// DefaultProfile is the layout existing indexers expect (x.tif -> x.thumb.jpg).
var DefaultProfile = Profile{Name: "thumb", Size: 256, Format: JPEG}

func (p Profile) String() string { return fmt.Sprintf("%s:%d:%s", p.Name, p.Size, p.Format) }

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
	var f Format
	switch format {
	case "jpeg", "jpg":
		f = JPEG
	case "png":
		f = PNG
	case "webp":
		f = WebP
	default:
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
