// Package contactsheet writes the pages people look at: for each job a page
// of its thumbnails and failures, and one index under the destination,
// _quicklook/index.html, that gathers every job's counts, a sample of its
// thumbnails and its failed items. Links are relative, so the pages work
// from a local folder in a browser and from CloudFront alike.
package contactsheet

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/parallel"
	"quicklook/internal/storage"
)

// Index is the contact sheet's key under the destination.
const Index = layout.IndexPage

// Limits keep pages usable for prefixes of 17,000 images.
const (
	indexThumbs   = 60  // per job on the index
	indexFailures = 25  // per job on the index
	pageLazyAfter = 200 // images beyond this load as they scroll into view
)

//go:embed page.html.tmpl
var files embed.FS

var tmpl = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
	"rel":  func(from, key string) string { return relURL(from, key) },
	"base": path.Base,
}).ParseFS(files, "page.html.tmpl"))

// Thumb is one thumbnail on a page.
type Thumb struct {
	Key    string       `json:"key"`    // thumbnail key
	Source string       `json:"source"` // source key
	Link   template.URL `json:"link"`   // where the source can be seen (built here, so trusted)
	Width  int          `json:"width"`
	Height int          `json:"height"`
	Lazy   bool         `json:"-"`
}

// Failure is one failed item.
type Failure struct {
	Source, Class, Error string
}

// Digest is one job's contribution to the index.
type Digest struct {
	Job      string           `json:"job"`
	Label    string           `json:"label"` // prefix or ranges
	Page     string           `json:"page"`  // key of the job's page
	Summary  manifest.Summary `json:"summary"`
	Thumbs   []Thumb          `json:"thumbs"`
	Failures []Failure        `json:"failures"`
	More     int              `json:"more"` // thumbnails not on the index
}

type page struct {
	Self     string // key of this page, for relative links
	Title    string
	Sections []section
}

type section struct {
	Digest
	Page    string // relative link to the job's own page, on the index
	Grouped []group
}

type group struct {
	Prefix string
	Thumbs []Thumb
}

// Write renders the job's page and its digest and, with index, rebuilds the
// index from every job's digest (a listing, a read of each digest and a
// write: jobs of a submitted run leave that to the submitter, once).
// sourceURL is the source store's location, for links to sources.
func Write(ctx context.Context, dest storage.Store, sourceURL string, sum manifest.Summary, records []manifest.Record, index bool) error {
	var thumbs []Thumb
	var fails []Failure
	for _, r := range records {
		switch r.Status {
		case manifest.Failed:
			fails = append(fails, Failure{Source: r.Key, Class: r.ErrorClass, Error: r.Error})
		case manifest.Created, manifest.Updated, manifest.Skipped:
			if o, ok := smallest(r.Outputs); ok {
				thumbs = append(thumbs, Thumb{Key: o.Key, Source: r.Key, Link: sourceLink(sourceURL, r.Key), Width: o.Width, Height: o.Height})
			}
		}
	}
	label := sum.Prefix
	if label == "" {
		label = "(everything)"
	}
	if sum.Ranges != nil {
		b, _ := json.Marshal(sum.Ranges)
		label = "shard " + sum.Job + " " + string(b)
	}
	d := Digest{Job: sum.Job, Label: label, Page: layout.JobPage(sum.Job), Summary: sum}

	// The job's own page: all of it.
	full := d
	full.Thumbs, full.Failures = thumbs, fails
	for i := range full.Thumbs {
		full.Thumbs[i].Lazy = i >= pageLazyAfter
	}
	if err := put(ctx, dest, d.Page, page{Self: d.Page, Title: "quicklook: " + label, Sections: []section{{Digest: full, Grouped: byFolder(full.Thumbs)}}}); err != nil {
		return err
	}

	// The digest the index is built from.
	d.Thumbs, d.Failures = thumbs[:min(len(thumbs), indexThumbs)], fails[:min(len(fails), indexFailures)]
	d.More = len(thumbs) - len(d.Thumbs)
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := dest.Put(ctx, layout.JobDigest(sum.Job), b, storage.PutOptions{ContentType: "application/json", CacheControl: "no-cache"}); err != nil {
		return err
	}
	if !index {
		return nil
	}
	return writeIndex(ctx, dest)
}

// RebuildIndex writes the index again from every job's digest: jobs that
// finish at the same moment may each have missed the other's, so the
// submitter calls this once a run is over.
func RebuildIndex(ctx context.Context, dest storage.Store) error { return writeIndex(ctx, dest) }

// IndexBefore reports whether the index is missing or was written before t
// (the last job's finish): a finished run's index is rebuilt once, not at
// every look at the run.
func IndexBefore(ctx context.Context, dest storage.Store, t time.Time) bool {
	o, err := dest.Stat(ctx, Index)
	return err != nil || o.ModTime.Before(t)
}

// writeIndex gathers every job's digest into the index.
func writeIndex(ctx context.Context, dest storage.Store) error {
	var keys []string
	err := dest.List(ctx, layout.PagesDir, "/", func(e storage.Entry) error {
		if strings.HasSuffix(e.Key, ".json") {
			keys = append(keys, e.Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A run of thousands of jobs has as many digests: read them side by side.
	read := make([]*section, len(keys))
	parallel.Each(len(keys), 16, func(i int) {
		rc, err := dest.Get(ctx, keys[i])
		if err != nil {
			return // written by a job that is being replaced right now
		}
		var d Digest
		err = json.NewDecoder(rc).Decode(&d)
		rc.Close()
		if err == nil {
			read[i] = &section{Digest: d, Page: relURL(Index, d.Page), Grouped: byFolder(d.Thumbs)}
		}
	})
	var secs []section
	for _, s := range read {
		if s != nil {
			secs = append(secs, *s)
		}
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].Label < secs[j].Label })
	return put(ctx, dest, Index, page{Self: Index, Title: "quicklook contact sheet", Sections: secs})
}

func put(ctx context.Context, dest storage.Store, key string, p page) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, p); err != nil {
		return err
	}
	return dest.Put(ctx, key, buf.Bytes(), storage.PutOptions{ContentType: "text/html; charset=utf-8", CacheControl: "no-cache"})
}

// smallest picks the output to show: the smallest (first profile on ties).
func smallest(outs []manifest.Output) (manifest.Output, bool) {
	if len(outs) == 0 {
		return manifest.Output{}, false
	}
	best := outs[0]
	for _, o := range outs[1:] {
		if o.Width*o.Height < best.Width*best.Height {
			best = o
		}
	}
	return best, true
}

// byFolder groups thumbnails by the folder of their source key.
func byFolder(ts []Thumb) []group {
	var out []group
	for _, t := range ts {
		dir := path.Dir(t.Source) + "/"
		if dir == "./" {
			dir = "/"
		}
		if len(out) == 0 || out[len(out)-1].Prefix != dir {
			out = append(out, group{Prefix: dir})
		}
		out[len(out)-1].Thumbs = append(out[len(out)-1].Thumbs, t)
	}
	return out
}

// relURL is the relative, escaped URL from the page at key from to key.
func relURL(from, key string) string {
	up := strings.Repeat("../", strings.Count(from, "/"))
	return up + escapePath(key)
}

func escapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// sourceLink is where a person can look at a source object: the file
// itself for a local folder, the S3 console for a bucket. Every part is
// escaped here, which is why html/template may take it as it is.
func sourceLink(sourceURL, key string) template.URL {
	if rest, ok := strings.CutPrefix(sourceURL, "s3://"); ok {
		bucket, base, _ := strings.Cut(rest, "/")
		return template.URL(fmt.Sprintf("https://s3.console.aws.amazon.com/s3/object/%s?prefix=%s", url.PathEscape(bucket), url.QueryEscape(base+key)))
	}
	return template.URL("file://" + escapePath(strings.TrimSuffix(sourceURL, "/")+"/"+key))
}
