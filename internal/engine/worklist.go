package engine

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"quicklook/internal/imagehead"
	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/parallel"
	"quicklook/internal/planfile"
	"quicklook/internal/render"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

// Metadata keys written with every thumbnail.
const (
	MetaSourceETag = "quicklook-source-etag"
	MetaSourceKey  = "quicklook-source-key"
	MetaSettings   = "quicklook-settings"
	MetaRules      = "quicklook-rules" // render.RulesVersion when it was made
)

// item is one source object and what it needs.
type item struct {
	obj      storage.Object
	siblings []string         // keys beside it GDAL may open (x.tif.ovr, x.aux.xml, an MRF's x.idx and x.lrc)
	parts    []string         // the siblings that are parts of it (sidecars), for the manifest
	sizes    map[string]int64 // the object's and its sidecars' sizes, from the listing
	todo     []naming.Profile // profiles to render; empty when up to date
	existing bool             // some output already existed (updated, not created)
	kept     []manifest.Output
	// failed carries a data error forward: the same bytes with the same
	// settings fail the same way, so they are not decoded again.
	failed *manifest.Record
	// usage counts the storage calls made for it: checks, reads, writes.
	usage *storage.Usage
	// rules is the rules version its kept thumbnails were made under.
	rules int
}

// tally puts what the item's storage calls were in its record.
func (it *item) tally(rec *manifest.Record) {
	c := it.usage.Counts()
	rec.Requests, rec.BytesRead, rec.BytesWritten = c.Requests, c.BytesRead, c.BytesWritten
}

// record starts the item's manifest line.
func (it *item) record(status manifest.Status) manifest.Record {
	return manifest.Record{Key: it.obj.Key, ETag: it.obj.ETag, Size: it.obj.Size, Parts: it.parts, Status: status}
}

// listing is what one listing of the source prefix shows.
type listing struct {
	sources []storage.Object
	sizes   map[string]int64 // every listed key, sources and sidecars
	all     []string         // every listed key, sorted
	ignored int
	parts   int // sidecars: parts of images, not images themselves
}

// prefixes are the distinct prefixes of the ranges, in order.
func (c *Config) prefixes() []string {
	var out []string
	for _, r := range c.Ranges {
		if !contains(out, r.Prefix) {
			out = append(out, r.Prefix)
		}
	}
	return out
}

// rangeOf is the range key falls in.
func (c *Config) rangeOf(key string) (planfile.Range, bool) {
	for _, r := range c.Ranges {
		if r.Contains(key) {
			return r, true
		}
	}
	return planfile.Range{}, false
}

func (c *Config) inRanges(key string) bool {
	_, ok := c.rangeOf(key)
	return ok
}

// listSource lists each prefix once. Every listed key is kept for sidecar
// lookups (a sidecar may sort past a range's end); only keys inside the
// ranges are sources.
func (c *Config) listSource(ctx context.Context) (*listing, error) {
	l := &listing{sizes: map[string]int64{}}
	for _, prefix := range c.prefixes() {
		err := c.Source.List(ctx, prefix, "", func(e storage.Entry) error {
			if _, dup := l.sizes[e.Key]; dup {
				return nil
			}
			l.sizes[e.Key] = e.Size
			l.all = append(l.all, e.Key)
			r, in := c.rangeOf(e.Key)
			if !in {
				return nil
			}
			switch c.Filter.Kind(r.Prefix, e.Key) {
			case sources.Own:
			case sources.Image:
				l.sources = append(l.sources, e.Object)
			case sources.Sidecar:
				l.parts++
			default:
				l.ignored++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(l.all)
	return l, nil
}

// siblingsOf finds sidecars of key in the sorted listing: keys that extend
// the key or its extension-less stem with a dot (x.tif.ovr, x.aux.xml).
func (l *listing) siblingsOf(key string) []string {
	var out []string
	for _, stem := range uniq(key+".", naming.StripExt(key)+".") {
		i := sort.SearchStrings(l.all, stem)
		for ; i < len(l.all) && strings.HasPrefix(l.all[i], stem); i++ {
			if l.all[i] != key && !contains(out, l.all[i]) {
				out = append(out, l.all[i])
			}
		}
	}
	return out
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// recheck makes again the up-to-date thumbnails of images that a change of
// the rendering rules since they were made touches (render.Affected), as
// their headers say: one read of each image's first bytes, once (the
// skipped record then carries the current rules), not a render.
func (c *Config) recheck(ctx context.Context, items []*item) {
	var stale []*item
	for _, it := range items {
		if it.failed == nil && len(it.todo) == 0 && len(it.kept) > 0 && it.rules < render.RulesVersion {
			stale = append(stale, it)
		}
	}
	if len(stale) == 0 {
		return
	}
	var touched atomic.Int32
	parallel.Each(len(stale), max(c.Concurrency, 8), func(i int) {
		it := stale[i]
		ictx := storage.WithUsage(ctx, it.usage)
		head := make([]byte, min(it.obj.Size, imagehead.HeadBytes))
		n, err := c.Source.ReadAt(ictx, it.obj.Key, head, 0)
		h, _ := imagehead.SniffAt(head[:n], func(off int64, size int) ([]byte, error) {
			b := make([]byte, size)
			_, err := c.Source.ReadAt(ictx, it.obj.Key, b, off)
			return b, err
		})
		if (err != nil && n == 0) || render.Affected(it.rules, h) {
			touched.Add(1)
			it.todo, it.kept, it.existing = c.Render.Profiles, nil, true
			return
		}
		it.rules = render.RulesVersion
	})
	c.Log.Info("rendering rules changed since thumbnails were made", "checked", len(stale), "made_again", touched.Load())
}

// worklist decides, from one listing of the destination and the last manifest,
// which profiles of each source need rendering. Only outputs that exist but
// that the manifest does not vouch for are checked one by one (their
// metadata), which happens after a lost manifest, not in a normal rerun.
func (c *Config) worklist(ctx context.Context, l *listing, destObjs map[string]storage.Object, last map[string]manifest.Record) ([]*item, error) {
	items := make([]*item, 0, len(l.sources))
	for _, src := range l.sources {
		it := &item{obj: src, siblings: l.siblingsOf(src.Key), sizes: map[string]int64{src.Key: src.Size},
			usage: storage.NewUsage(storage.UsageOf(ctx))}
		r, _ := c.rangeOf(src.Key)
		for _, s := range it.siblings {
			it.sizes[s] = l.sizes[s]
			if c.Filter.Kind(r.Prefix, s) == sources.Sidecar {
				it.parts = append(it.parts, s)
			}
		}
		rec, known := last[src.Key]
		if known {
			it.rules = rec.Rules
		}
		if known && rec.Status == manifest.Failed && rec.ETag == src.ETag && rec.Settings == c.Render.RunHash() && permanent(rec.ErrorClass) {
			carried := rec
			carried.BytesRead, carried.Millis = 0, 0
			it.failed = &carried
			items = append(items, it)
			continue
		}
		for _, p := range c.Render.Profiles {
			key := naming.OutputKey("", src.Key, p)
			settings := c.Render.Hash(p)
			dst, exists := destObjs[key]
			if !exists {
				it.todo = append(it.todo, p)
				continue
			}
			it.existing = true
			if known && rec.ETag == src.ETag && vouches(rec, key, settings, dst.Size) {
				it.kept = append(it.kept, outputOf(rec, key))
				continue
			}
			if !known || rec.Status == manifest.Failed {
				st, err := c.Dest.Stat(storage.WithUsage(ctx, it.usage), key)
				if err != nil && !errors.Is(err, storage.ErrNotFound) {
					return nil, err
				}
				if err == nil && st.Metadata[MetaSourceETag] == src.ETag && st.Metadata[MetaSettings] == settings {
					it.kept = append(it.kept, manifest.Output{Key: key, Bytes: st.Size, Settings: settings})
					it.rules, _ = strconv.Atoi(st.Metadata[MetaRules])
					continue
				}
			}
			it.todo = append(it.todo, p)
		}
		items = append(items, it)
	}
	return items, nil
}

func vouches(rec manifest.Record, key, settings string, size int64) bool {
	for _, o := range rec.Outputs {
		if o.Key == key {
			return o.Settings == settings && o.Bytes == size
		}
	}
	return false
}

func outputOf(rec manifest.Record, key string) manifest.Output {
	for _, o := range rec.Outputs {
		if o.Key == key {
			return o
		}
	}
	return manifest.Output{Key: key}
}

// prunable returns, per vanished source, the outputs that can go: thumbnail
// keys of the configured profiles whose source is no longer listed, as the
// last manifest or the thumbnail's own metadata says.
func (c *Config) prunable(ctx context.Context, l *listing, destObjs map[string]storage.Object, last map[string]manifest.Record) (map[string][]string, error) {
	expected := map[string]bool{}
	for _, src := range l.sources {
		for _, p := range c.Render.Profiles {
			expected[naming.OutputKey("", src.Key, p)] = true
		}
	}
	owner := map[string]string{}
	for _, rec := range last {
		for _, o := range rec.Outputs {
			owner[o.Key] = rec.Key
		}
	}
	gone := map[string][]string{}
	keys := make([]string, 0, len(destObjs))
	for k := range destObjs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bounded := false
	for _, r := range c.Ranges {
		bounded = bounded || r.Bounded()
	}
	for _, key := range keys {
		if expected[key] || !c.isOutput(key) {
			continue
		}
		src, ok := owner[key]
		if !ok && bounded {
			continue // thumbnails of other shards: not ours to judge
		}
		if !ok {
			st, err := c.Dest.Stat(ctx, key)
			if err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					continue
				}
				return nil, err
			}
			if src = st.Metadata[MetaSourceKey]; src == "" {
				continue // not written by quicklook: leave it alone
			}
		}
		if _, listed := l.sizes[src]; listed || !c.inRanges(src) {
			continue
		}
		gone[src] = append(gone[src], key)
	}
	return gone, nil
}

func (c *Config) isOutput(key string) bool {
	for _, p := range c.Render.Profiles {
		if strings.HasSuffix(key, p.Suffix()) {
			return true
		}
	}
	return false
}

// permanent reports whether a failure class is about the data itself,
// rather than about the run (stopped, timed out, storage trouble).
func permanent(class string) bool {
	switch class {
	case ClassIO, ClassInterrupted, ClassTimeout, ClassGone, "":
		return false
	}
	return true
}
