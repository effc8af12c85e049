// Package indexer points search-index entries at their thumbnails: it
// reads JSON entries (one document, or NDJSON for bulk pipelines), takes the
// source key from one field, and sets the URL field from the same naming
// rule the job writes thumbnails with.
package indexer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"quicklook/internal/naming"
)

// Options configure the filter.
type Options struct {
	URLBase  string
	Profile  naming.Profile
	KeyField []string // path of the source key, e.g. entry.fields.fs_key
	URLField []string // path of the URL to set, e.g. entry.fields.image_url
	// Exists, when set, decides whether a thumbnail key exists; entries
	// whose thumbnail does not are left without a URL.
	Exists func(key string) (bool, error)
	// Warn receives one line per entry passed through unchanged.
	Warn func(string)
}

// Stats count what the filter did.
type Stats struct {
	Entries, Pointed, NoKey, NoThumbnail int
}

// ParsePath splits a dotted field path.
func ParsePath(p string) ([]string, error) {
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if s == "" {
			return nil, fmt.Errorf("field path %q has an empty segment", p)
		}
	}
	return parts, nil
}

// URL is the thumbnail URL of a source key.
func URL(base string, p naming.Profile, sourceKey string) string {
	return naming.URL(base, naming.OutputKey("", sourceKey, p))
}

// Filter reads entries from r and writes them to w, one JSON document per
// line. An entry without the key field, or (with Exists) without a
// thumbnail, keeps its content unchanged.
func Filter(r io.Reader, w io.Writer, o Options) (Stats, error) {
	var st Stats
	err := eachDocument(r, w, "entry", func(raw json.RawMessage) ([]byte, error) {
		st.Entries++
		return o.point(raw, &st)
	})
	return st, err
}

// eachDocument reads JSON documents from r one after another (a document, a
// stream of them, or one a line) and writes what fn makes of each to w,
// compact, one a line. Errors name the document by its number, as a what.
func eachDocument(r io.Reader, w io.Writer, what string, fn func(json.RawMessage) ([]byte, error)) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	dec.UseNumber()
	out := bufio.NewWriter(w)
	defer out.Flush()
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s %d: %w", what, n, err)
		}
		res, err := fn(raw)
		if err != nil {
			return fmt.Errorf("%s %d: %w", what, n, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, res); err != nil {
			return err
		}
		compact.WriteByte('\n')
		if _, err := out.Write(compact.Bytes()); err != nil {
			return err
		}
	}
}

func (o Options) point(raw json.RawMessage, st *Stats) (json.RawMessage, error) {
	var doc any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	key, ok := lookup(doc, o.KeyField).(string)
	if !ok || key == "" {
		st.NoKey++
		o.warn(fmt.Sprintf("entry %d has no %s: passed through unchanged", st.Entries, strings.Join(o.KeyField, ".")))
		return raw, nil
	}
	if o.Exists != nil {
		ok, err := o.Exists(naming.OutputKey("", key, o.Profile))
		if err != nil {
			return nil, err
		}
		if !ok {
			st.NoThumbnail++
			o.warn(fmt.Sprintf("entry %d (%s) has no thumbnail yet: left without a URL", st.Entries, key))
			return raw, nil
		}
	}
	if !set(&doc, o.URLField, URL(o.URLBase, o.Profile, key)) {
		return nil, fmt.Errorf("cannot set %s: a parent is not an object", strings.Join(o.URLField, "."))
	}
	st.Pointed++
	return json.Marshal(doc)
}

func (o Options) warn(s string) {
	if o.Warn != nil {
		o.Warn(s)
	}
}

func lookup(doc any, path []string) any {
	for _, p := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[p]
	}
	return doc
}

// set puts v at path, creating missing objects on the way.
func set(doc *any, path []string, v any) bool {
	if *doc == nil {
		*doc = map[string]any{}
	}
	m, ok := (*doc).(map[string]any)
	if !ok {
		return false
	}
	if len(path) == 1 {
		m[path[0]] = v
		return true
	}
	child := m[path[0]]
	if !set(&child, path[1:], v) {
		return false
	}
	m[path[0]] = child
	return true
}
