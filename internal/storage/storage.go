// Package storage is quicklook's one view of where imagery and thumbnails
// live: a local folder or an S3 bucket, behind the same Store interface with
// the same listing order, delimiter semantics and error kinds.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"quicklook/internal/parallel"
)

// Object describes one stored object as a listing or Stat reports it.
type Object struct {
	Key     string
	Size    int64
	ETag    string // opaque; changes whenever the content changes
	ModTime time.Time
	// Metadata and ContentType are filled by Stat only (listings do not carry them).
	Metadata    map[string]string
	ContentType string
}

// Entry is one listing result: an object, or (with a delimiter) a common prefix.
type Entry struct {
	Object
	// CommonPrefix is set instead of Object when the delimiter grouped keys.
	CommonPrefix string
}

// PutOptions are the attributes written with an object.
type PutOptions struct {
	ContentType  string
	CacheControl string
	Metadata     map[string]string
}

// Store is a bucket-like key space. Keys are relative to the store's base.
type Store interface {
	// List calls fn for every object under prefix in lexical (byte) key order.
	// With a non-empty delimiter, keys holding the delimiter after the prefix
	// are grouped into one CommonPrefix entry each, as S3 does.
	List(ctx context.Context, prefix, delimiter string, fn func(Entry) error) error
	// ReadAt reads len(p) bytes at off; it returns io.EOF with fewer bytes at the end.
	ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error)
	// Stream reads [off, off+n) with one ranged read, handing fn the bytes in
	// order as they arrive (a slice fn must not keep); a read whose body
	// breaks off resumes where it stopped. It stops at the object's end.
	Stream(ctx context.Context, key string, off, n int64, fn func([]byte) error) error
	// Get opens the whole object for streaming.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the object's attributes and metadata.
	Stat(ctx context.Context, key string) (Object, error)
	// Put writes the whole object atomically: readers see the old or the new one.
	Put(ctx context.Context, key string, data []byte, opts PutOptions) error
	// Copy writes key as a copy of the store's object from, with opts'
	// attributes instead of the original's: on S3 a server-side copy (no
	// bytes pass through this machine).
	Copy(ctx context.Context, from, key string, opts PutOptions) error
	// Delete removes the objects; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// URL is the store's location as the user would type it.
	URL() string
}

// ContentETag reports whether an ETag is a digest of the content (an S3
// single-part upload's MD5), so that equal ETags and sizes mean equal
// bytes; a multipart upload's ETag ("...-N") and a folder's are not.
func ContentETag(etag string) bool {
	etag = strings.Trim(etag, `"`)
	if len(etag) != 32 {
		return false
	}
	for _, r := range etag {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// Error kinds callers decide on (exit codes, retries, manifest classes).
var (
	ErrNotFound  = errors.New("not found")
	ErrInvalid   = errors.New("invalid key")
	ErrDenied    = errors.New("access denied")
	ErrNoBucket  = errors.New("no such bucket or folder")
	ErrTransient = errors.New("transient storage failure")
)

// OpError names the store, operation and key of a failure, so logs and
// manifests say exactly what went wrong where.
type OpError struct {
	Op    string // list, read, get, stat, put, delete
	Store string
	Key   string
	Kind  error // one of the Err* kinds, or nil when unclassified
	Err   error
}

func (e *OpError) Error() string {
	loc := e.Store
	if e.Key != "" {
		loc = strings.TrimSuffix(e.Store, "/") + "/" + e.Key
	}
	return fmt.Sprintf("%s %s: %v", e.Op, loc, e.Err)
}

func (e *OpError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// ValidateKey refuses keys that could escape a local root or that no store
// can hold consistently: empty, absolute, NUL, backslash, "." or ".." segments,
// empty segments.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("%w: key %q contains NUL", ErrInvalid, key)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%w: key %q is absolute", ErrInvalid, key)
	case strings.ContainsRune(key, '\\'):
		return fmt.Errorf("%w: key %q contains a backslash", ErrInvalid, key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "..":
			return fmt.Errorf("%w: key %q escapes the root with \"..\"", ErrInvalid, key)
		case ".":
			return fmt.Errorf("%w: key %q has a \".\" segment", ErrInvalid, key)
		}
	}
	if strings.Contains(strings.TrimSuffix(key, "/"), "//") {
		return fmt.Errorf("%w: key %q has an empty path segment", ErrInvalid, key)
	}
	return nil
}

// ValidatePrefix is ValidateKey for listing prefixes, where "" means everything.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(prefix)
}

// Open returns the store for a location: s3://BUCKET[/BASE/], file:///abs,
// or a local folder path.
func Open(ctx context.Context, location string, opts OpenOptions) (Store, error) {
	switch {
	case strings.HasPrefix(location, "s3://"):
		return OpenS3(ctx, location, opts)
	case strings.Contains(location, "://") && !strings.HasPrefix(location, "file://"):
		return nil, fmt.Errorf("%s: unknown scheme (use s3://BUCKET/BASE/, file:///path or a folder path)", location)
	}
	return OpenLocal(strings.TrimPrefix(location, "file://"), opts.Create)
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Create makes a missing local folder (destinations); sources must exist.
	Create bool
	// RequesterPays sends x-amz-request-payer on every call (S3 only).
	RequesterPays bool
}

// splitLocation splits a file location into the store that holds it and its
// key: s3://b/runs/p.json -> (s3://b, runs/p.json).
func splitLocation(location string) (store, key string, err error) {
	if strings.HasPrefix(location, "s3://") {
		rest := strings.TrimPrefix(location, "s3://")
		bucket, key, ok := strings.Cut(rest, "/")
		if !ok || bucket == "" || key == "" || strings.HasSuffix(key, "/") {
			return "", "", fmt.Errorf("%q: want s3://BUCKET/KEY", location)
		}
		return "s3://" + bucket, key, nil
	}
	p := strings.TrimPrefix(location, "file://")
	if p == "" || strings.HasSuffix(p, "/") {
		return "", "", fmt.Errorf("%q: want a file path", location)
	}
	dir, file := filepath.Split(p)
	if dir == "" {
		dir = "."
	}
	return dir, file, nil
}

// ReadFile reads one whole object named by a location (s3://BUCKET/KEY or a path).
func ReadFile(ctx context.Context, location string, opts OpenOptions) ([]byte, error) {
	dir, key, err := splitLocation(location)
	if err != nil {
		return nil, err
	}
	st, err := Open(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	rc, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// WriteFile writes one whole object named by a location, atomically.
func WriteFile(ctx context.Context, location string, data []byte, put PutOptions) error {
	dir, key, err := splitLocation(location)
	if err != nil {
		return err
	}
	st, err := Open(ctx, dir, OpenOptions{Create: true})
	if err != nil {
		return err
	}
	return st.Put(ctx, key, data, put)
}

// PutAll writes many objects (key -> bytes), limit at a time; it returns
// an error of one that failed.
func PutAll(ctx context.Context, st Store, objects map[string][]byte, limit int) error {
	keys := slices.Collect(maps.Keys(objects))
	return parallel.EachErr(len(keys), limit, func(i int) error {
		return st.Put(ctx, keys[i], objects[keys[i]], PutOptions{})
	})
}
