// Package planner decides what a run covers and how it is cut into jobs: it
// enumerates prefixes with a delimited listing, counts images and bytes with
// the run's source filter, splits huge prefixes into key ranges, bin-packs
// them into shards, estimates the cost and makes the jobs' specs.
package planner

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"quicklook/internal/parallel"
	"quicklook/internal/planfile"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

// Sized is a prefix (or a range of one) with what it holds.
type Sized struct {
	planfile.Range
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// EnumerateOptions choose the prefixes a run covers.
type EnumerateOptions struct {
	Root     string   // start below this prefix ("" for the bucket)
	Depth    int      // levels of "/" below Root, e.g. 2 for state/year
	Include  []string // globs on the prefix without its trailing slash; any match keeps it
	Exclude  []string // globs; any match drops it
	Parallel int      // listings in flight
}

func matchAny(globs []string, prefix string) (bool, error) {
	p := strings.TrimSuffix(prefix, "/")
	for _, g := range globs {
		ok, err := path.Match(strings.TrimSuffix(g, "/"), p)
		if err != nil {
			return false, fmt.Errorf("glob %q: %w", g, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Enumerate lists prefixes Depth levels below Root with a "/" delimiter,
// level by level, paginating as the store does.
func Enumerate(ctx context.Context, st storage.Store, o EnumerateOptions) ([]string, error) {
	if o.Depth < 1 {
		return nil, fmt.Errorf("depth must be at least 1")
	}
	if o.Parallel <= 0 {
		o.Parallel = defaultListParallel
	}
	level := []string{o.Root}
	for d := 0; d < o.Depth; d++ {
		next, err := forEach(ctx, level, o.Parallel, func(p string) ([]string, error) {
			var out []string
			err := st.List(ctx, p, "/", func(e storage.Entry) error {
				if e.CommonPrefix != "" && !sources.HiddenName(path.Base(e.CommonPrefix), true) {
					out = append(out, e.CommonPrefix)
				}
				return nil
			})
			return out, err
		})
		if err != nil {
			return nil, err
		}
		level = next
	}
	var out []string
	for _, p := range level {
		if len(o.Include) > 0 {
			if ok, err := matchAny(o.Include, p); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		if ok, err := matchAny(o.Exclude, p); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// defaultListParallel is how many listings planning keeps in flight
// unless told (--list-parallel).
const defaultListParallel = 8

func listParallel(cfg Config) int {
	if cfg.Enumerate.Parallel > 0 {
		return cfg.Enumerate.Parallel
	}
	return defaultListParallel
}

// forEach runs fn over items, parallel at most n, and concatenates the
// results in item order.
func forEach[T any](ctx context.Context, items []string, n int, fn func(string) ([]T, error)) ([]T, error) {
	results := make([][]T, len(items))
	err := parallel.EachErr(len(items), n, func(i int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		results[i], err = fn(items[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

// Count lists each prefix whole and counts the images the filter accepts.
// An image's bytes are its own and its parts' (an MRF's header is 1 KB, its
// data file gigabytes; an external .ovr is read too).
func Count(ctx context.Context, st storage.Store, prefixes []string, filter sources.Filter, parallel int) ([]Sized, error) {
	if parallel <= 0 {
		parallel = 8
	}
	return forEach(ctx, prefixes, parallel, func(p string) ([]Sized, error) {
		s := Sized{Range: planfile.Range{Prefix: p}}
		err := st.List(ctx, p, "", func(e storage.Entry) error {
			switch filter.Kind(p, e.Key) {
			case sources.Image:
				s.Objects++
				s.Bytes += e.Size
			case sources.Sidecar:
				s.Bytes += e.Size
			}
			return nil
		})
		return []Sized{s}, err
	})
}

// Split cuts a prefix into consecutive key ranges of at most target bytes
// each (a single object larger than target gets a range of its own).
func Split(ctx context.Context, st storage.Store, prefix string, target int64, filter sources.Filter) ([]Sized, error) {
	var out []Sized
	cur := Sized{Range: planfile.Range{Prefix: prefix}}
	var last string
	var parts int64 // sidecar bytes since the last image: they go with the next
	err := st.List(ctx, prefix, "", func(e storage.Entry) error {
		switch filter.Kind(prefix, e.Key) {
		case sources.Sidecar:
			parts += e.Size
			return nil
		case sources.Image:
		default:
			return nil
		}
		if cur.Objects > 0 && cur.Bytes+parts+e.Size > target {
			cur.Until = last
			out = append(out, cur)
			cur = Sized{Range: planfile.Range{Prefix: prefix, StartAfter: last}}
		}
		cur.Objects++
		cur.Bytes += parts + e.Size
		parts = 0
		last = e.Key
		return nil
	})
	if err != nil {
		return nil, err
	}
	cur.Bytes += parts
	if cur.Objects > 0 || len(out) == 0 {
		out = append(out, cur)
	}
	return out, nil
}

func rangeKey(r planfile.Range) string { return r.Prefix + "\x00" + r.StartAfter }
