package indexer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"quicklook/internal/naming"
)

// STACOptions configure the STAC filter: STAC Items (as NAIP is catalogued
// by the Planetary Computer and Earth Search) get their thumbnail assets.
type STACOptions struct {
	URLBase string
	// Profiles: the first becomes assets.thumbnail, each other one an asset
	// "thumbnail-NAME".
	Profiles []naming.Profile
	// Asset names the asset whose href is the source image; empty: image,
	// visual, or the first GeoTIFF asset.
	Asset string
	// HrefPrefix, when set, is cut from the source href to give the source
	// key (for hrefs the built-in rules do not know).
	HrefPrefix string
	Exists     func(key string) (bool, error)
	Warn       func(string)
}

// STACStats count what the STAC filter did.
type STACStats struct {
	Items, Pointed, Replaced, NoSource, NoThumbnail int
}

// FilterSTAC reads STAC Items (one Item, an ItemCollection, or one Item per
// line) from r and writes each document back, compact, one per line, with
// the thumbnail assets set.
func FilterSTAC(r io.Reader, w io.Writer, o STACOptions) (STACStats, error) {
	var st STACStats
	if len(o.Profiles) == 0 {
		o.Profiles = []naming.Profile{naming.DefaultProfile}
	}
	err := eachDocument(r, w, "document", func(raw json.RawMessage) ([]byte, error) {
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		root, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("not a JSON object")
		}
		switch root["type"] {
		case "Feature":
			if err := o.point(root, &st); err != nil {
				return nil, err
			}
		case "FeatureCollection":
			features, _ := root["features"].([]any)
			for _, f := range features {
				item, ok := f.(map[string]any)
				if !ok || item["type"] != "Feature" {
					return nil, fmt.Errorf("a feature that is not a STAC Item")
				}
				if err := o.point(item, &st); err != nil {
					return nil, fmt.Errorf("item %v: %w", item["id"], err)
				}
			}
		default:
			return nil, fmt.Errorf("type %v: want a STAC Item (Feature) or ItemCollection (FeatureCollection)", root["type"])
		}
		return marshal(root)
	})
	return st, err
}

// marshal writes JSON without escaping <, > and & (hrefs keep their &).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func (o STACOptions) point(item map[string]any, st *STACStats) error {
	st.Items++
	id, _ := item["id"].(string)
	assets, ok := item["assets"].(map[string]any)
	if !ok {
		return fmt.Errorf("no assets object")
	}
	href, err := o.sourceHref(assets)
	if err == nil {
		var key string
		if key, err = SourceKey(href, o.HrefPrefix); err == nil {
			return o.setAssets(assets, key, id, st)
		}
	}
	st.NoSource++
	o.warn(fmt.Sprintf("item %q: %v: passed through unchanged", id, err))
	return nil
}

func (o STACOptions) setAssets(assets map[string]any, key, id string, st *STACStats) error {
	for i, p := range o.Profiles {
		thumb := naming.OutputKey("", key, p)
		if o.Exists != nil {
			ok, err := o.Exists(thumb)
			if err != nil {
				return err
			}
			if !ok {
				if i == 0 {
					st.NoThumbnail++
					o.warn(fmt.Sprintf("item %q (%s) has no thumbnail yet: left without one", id, key))
					return nil
				}
				continue
			}
		}
		name := "thumbnail"
		if i > 0 {
			name += "-" + p.Name
		}
		if _, had := assets[name]; had && i == 0 {
			st.Replaced++
		}
		assets[name] = map[string]any{
			"href":  naming.URL(o.URLBase, thumb),
			"type":  p.Format.ContentType(),
			"title": "Thumbnail (" + p.Describe() + ")",
			"roles": []any{"thumbnail"},
		}
	}
	st.Pointed++
	return nil
}

// sourceHref is the href of the asset that is the source image.
func (o STACOptions) sourceHref(assets map[string]any) (string, error) {
	hrefOf := func(name string) (string, bool) {
		a, ok := assets[name].(map[string]any)
		if !ok {
			return "", false
		}
		h, ok := a["href"].(string)
		return h, ok && h != ""
	}
	if o.Asset != "" {
		if h, ok := hrefOf(o.Asset); ok {
			return h, nil
		}
		return "", fmt.Errorf("no asset %q with an href", o.Asset)
	}
	for _, name := range []string{"image", "visual"} {
		if h, ok := hrefOf(name); ok {
			return h, nil
		}
	}
	// The first GeoTIFF asset, in name order (JSON objects have no order).
	var names []string
	for name := range assets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a, _ := assets[name].(map[string]any)
		if t, _ := a["type"].(string); strings.HasPrefix(t, "image/tiff") {
			if h, ok := hrefOf(name); ok {
				return h, nil
			}
		}
	}
	return "", fmt.Errorf("no image, visual or GeoTIFF asset (name one with --stac-asset)")
}

var (
	s3VirtualHost = regexp.MustCompile(`^(.+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com$`)
	s3PathHost    = regexp.MustCompile(`^s3([.-][a-z0-9-]+)?\.amazonaws\.com$`)
	azureBlobHost = regexp.MustCompile(`^[a-z0-9]+\.blob\.core\.windows\.net$`)
)

// SourceKey is the object key an asset href names: s3://BUCKET/KEY; an
// https URL of an S3 bucket (virtual-hosted or path-style) or of an Azure
// blob container; or, with prefix, whatever follows it.
func SourceKey(href, prefix string) (string, error) {
	if prefix != "" {
		if rest, ok := strings.CutPrefix(href, prefix); ok {
			return cleanKey(strings.TrimPrefix(rest, "/"), href)
		}
		return "", fmt.Errorf("href %q does not start with %q", href, prefix)
	}
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("href %q: %v", href, err)
	}
	p := strings.TrimPrefix(u.Path, "/")
	switch {
	case u.Scheme == "s3":
		return cleanKey(p, href)
	case u.Scheme != "https" && u.Scheme != "http":
	case s3VirtualHost.MatchString(u.Host):
		return cleanKey(p, href)
	case s3PathHost.MatchString(u.Host), azureBlobHost.MatchString(u.Host):
		if _, key, ok := strings.Cut(p, "/"); ok { // past the bucket or container
			return cleanKey(key, href)
		}
	}
	return "", fmt.Errorf("cannot tell the source key of href %q (give --stac-href-prefix)", href)
}

func cleanKey(key, href string) (string, error) {
	if key == "" || path.Clean("/"+key) != "/"+key {
		return "", fmt.Errorf("href %q names no usable key", href)
	}
	return key, nil
}

func (o STACOptions) warn(s string) {
	if o.Warn != nil {
		o.Warn(s)
	}
}
