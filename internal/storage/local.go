// Local is the Store of a folder, behaving as a bucket does (see the
// package's doc): one backend, one file, as s3.go is the other.

package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// reservedDir holds the local store's bookkeeping (temp files for atomic
// writes, per-object metadata). It is hidden from listings and no key may
// name it.
const reservedDir = ".quicklook"

// Local is a folder that behaves like a bucket: keys are slash-separated
// paths below the root, listing is in byte order of keys, writes are atomic
// (temp file + rename) and metadata lives in sidecar JSON under .quicklook/meta.
//
// Its ETag is "<mtime in ns, hex>-<size, hex>": cheap (no read of the content)
// and it changes whenever a file is rewritten, like an S3 ETag does.
type Local struct {
	root string
}

// OpenLocal opens a folder as a store; create makes it if missing.
func OpenLocal(path string, create bool) (*Local, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty folder path", ErrNoBucket)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if create {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, &OpError{Op: "open", Store: abs, Kind: classifyFS(err), Err: err}
		}
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &OpError{Op: "open", Store: abs, Kind: ErrNoBucket, Err: errors.New("folder does not exist")}
		}
		return nil, &OpError{Op: "open", Store: abs, Kind: classifyFS(err), Err: err}
	}
	if !st.IsDir() {
		return nil, &OpError{Op: "open", Store: abs, Kind: ErrNoBucket, Err: errors.New("not a folder")}
	}
	return &Local{root: abs}, nil
}

// URL implements Store.
func (l *Local) URL() string { return l.root + "/" }

// Root is the absolute folder path.
func (l *Local) Root() string { return l.root }

func (l *Local) checkKey(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if key == reservedDir || strings.HasPrefix(key, reservedDir+"/") {
		return fmt.Errorf("%w: key %q is inside the reserved %s/ folder", ErrInvalid, key, reservedDir)
	}
	return nil
}

func (l *Local) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

func (l *Local) metaPath(key string) string {
	return filepath.Join(l.root, reservedDir, "meta", filepath.FromSlash(key)+".json")
}

func (l *Local) opErr(op, key string, err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	kind := classifyFS(err)
	if errors.Is(err, ErrInvalid) {
		kind = ErrInvalid
	}
	return &OpError{Op: op, Store: l.URL(), Key: key, Kind: kind, Err: err}
}

func classifyFS(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return ErrDenied
	}
	return nil
}

// List implements Store.
func (l *Local) List(ctx context.Context, prefix, delimiter string, fn func(Entry) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return l.opErr("list", prefix, err)
	}
	entries := 0
	counted := func(e Entry) error {
		entries++
		return fn(e)
	}
	// As S3 would bill it: a request per page of 1,000 entries.
	defer func() { count(ctx, Requests{LIST: int64(max(1, (entries+999)/1000))}) }()
	w := lister{l: l, ctx: ctx, prefix: prefix, delim: delimiter, fn: counted}
	// Start in the deepest folder the prefix names whole.
	start := prefix[:strings.LastIndex(prefix, "/")+1]
	if err := w.walk(start); err != nil {
		return l.opErr("list", prefix, err)
	}
	return nil
}

type lister struct {
	l        *Local
	ctx      context.Context
	prefix   string
	delim    string
	fn       func(Entry) error
	lastPref string
}

type dirEntry struct {
	key   string // with a trailing "/" for folders, so sorting matches key order
	isDir bool
	info  fs.FileInfo
}

func (w *lister) walk(dirKey string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	ents, err := os.ReadDir(w.l.path(dirKey))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && dirKey != "" {
			return nil // an absent prefix lists nothing, as on S3
		}
		return err
	}
	list := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		name := e.Name()
		if dirKey == "" && name == reservedDir {
			continue
		}
		info, err := os.Stat(filepath.Join(w.l.path(dirKey), name)) // follows file symlinks
		if err != nil {
			continue // vanished or dangling link: not an object
		}
		de := dirEntry{key: dirKey + name, isDir: info.IsDir(), info: info}
		if de.isDir {
			if e.Type()&fs.ModeSymlink != 0 {
				continue // linked folders could loop or leave the root
			}
			de.key += "/"
		} else if !info.Mode().IsRegular() {
			continue
		}
		list = append(list, de)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	for _, de := range list {
		if de.isDir {
			if !strings.HasPrefix(de.key, w.prefix) && !strings.HasPrefix(w.prefix, de.key) {
				continue
			}
			if cp, ok := w.group(de.key); ok && w.delim == "/" {
				// The whole folder folds into one common prefix: no need to descend,
				// but S3 has no empty folders, so only report one that holds a file.
				if cp != w.lastPref && w.hasFile(de.key) {
					w.lastPref = cp
					if err := w.fn(Entry{CommonPrefix: cp}); err != nil {
						return err
					}
				}
				continue
			}
			if err := w.walk(de.key); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(de.key, w.prefix) {
			continue
		}
		if cp, ok := w.group(de.key); ok {
			if cp != w.lastPref {
				w.lastPref = cp
				if err := w.fn(Entry{CommonPrefix: cp}); err != nil {
					return err
				}
			}
			continue
		}
		obj := Object{Key: de.key, Size: de.info.Size(), ModTime: de.info.ModTime(), ETag: localETag(de.info)}
		if err := w.fn(Entry{Object: obj}); err != nil {
			return err
		}
	}
	return nil
}

// group returns the common prefix a key (or folder key) falls into, if any.
func (w *lister) group(key string) (string, bool) {
	if w.delim == "" || len(key) <= len(w.prefix) {
		return "", false
	}
	rest := key[len(w.prefix):]
	i := strings.Index(rest, w.delim)
	if i < 0 {
		return "", false
	}
	return w.prefix + rest[:i+len(w.delim)], true
}

func (w *lister) hasFile(dirKey string) bool {
	found := errors.New("found")
	err := filepath.WalkDir(w.l.path(dirKey), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			return found
		}
		return nil
	})
	return err == found
}

func localETag(info fs.FileInfo) string {
	return fmt.Sprintf("%x-%x", info.ModTime().UnixNano(), info.Size())
}

// ReadAt implements Store.
func (l *Local) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	if err := l.checkKey(key); err != nil {
		return 0, l.opErr("read", key, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	count(ctx, Requests{GET: 1})
	f, err := os.Open(l.path(key))
	if err != nil {
		return 0, l.opErr("read", key, err)
	}
	defer f.Close()
	n, err := f.ReadAt(p, off)
	countBytes(ctx, int64(n), 0)
	if err != nil && err != io.EOF {
		return n, l.opErr("read", key, err)
	}
	return n, err
}

// Stream implements Store.
func (l *Local) Stream(ctx context.Context, key string, off, n int64, fn func([]byte) error) error {
	if err := l.checkKey(key); err != nil {
		return l.opErr("read", key, err)
	}
	count(ctx, Requests{GET: 1})
	f, err := os.Open(l.path(key))
	if err != nil {
		return l.opErr("read", key, err)
	}
	defer f.Close()
	return pump(ctx, io.NewSectionReader(f, off, n), fn)
}

// streamPiece is how much a stream hands on at a time.
const streamPiece = 256 << 10

// pump reads r to its end in pieces, counting the bytes, and hands each to fn.
func pump(ctx context.Context, r io.Reader, fn func([]byte) error) error {
	buf := make([]byte, streamPiece)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			countBytes(ctx, int64(n), 0)
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := l.checkKey(key); err != nil {
		return nil, l.opErr("get", key, err)
	}
	count(ctx, Requests{GET: 1})
	f, err := os.Open(l.path(key))
	if err != nil {
		return nil, l.opErr("get", key, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, l.opErr("get", key, fs.ErrNotExist)
	}
	return f, nil
}

type localMeta struct {
	ContentType  string            `json:"content_type,omitempty"`
	CacheControl string            `json:"cache_control,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Object, error) {
	if err := l.checkKey(key); err != nil {
		return Object{}, l.opErr("stat", key, err)
	}
	count(ctx, Requests{HEAD: 1})
	info, err := os.Stat(l.path(key))
	if err == nil && !info.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return Object{}, l.opErr("stat", key, err)
	}
	obj := Object{Key: key, Size: info.Size(), ModTime: info.ModTime(), ETag: localETag(info)}
	if b, err := os.ReadFile(l.metaPath(key)); err == nil {
		var m localMeta
		if json.Unmarshal(b, &m) == nil {
			obj.Metadata, obj.ContentType = m.Metadata, m.ContentType
		}
	}
	return obj, nil
}

// Put implements Store. The data is renamed into place before its metadata,
// so a crash in between leaves metadata that no longer vouches for the data
// (and the next run re-renders), never the reverse.
func (l *Local) Put(ctx context.Context, key string, data []byte, opts PutOptions) error {
	if err := l.checkKey(key); err != nil {
		return l.opErr("put", key, err)
	}
	if strings.HasSuffix(key, "/") {
		return l.opErr("put", key, fmt.Errorf("%w: object key %q ends with /", ErrInvalid, key))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	count(ctx, Requests{PUT: 1})
	countBytes(ctx, 0, int64(len(data)))
	return l.write("put", key, data, opts)
}

// write stores the object's bytes and then its attributes.
func (l *Local) write(op, key string, data []byte, opts PutOptions) error {
	if err := l.writeAtomic(l.path(key), data); err != nil {
		return l.opErr(op, key, err)
	}
	meta, _ := json.Marshal(localMeta{ContentType: opts.ContentType, CacheControl: opts.CacheControl, Metadata: opts.Metadata})
	if err := l.writeAtomic(l.metaPath(key), meta); err != nil {
		return l.opErr(op, key, err)
	}
	return nil
}

// Copy implements Store: the file copied, its attributes replaced.
func (l *Local) Copy(ctx context.Context, from, key string, opts PutOptions) error {
	for _, k := range []string{from, key} {
		if err := l.checkKey(k); err != nil {
			return l.opErr("copy", k, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	count(ctx, Requests{COPY: 1})
	data, err := os.ReadFile(l.path(from))
	if err != nil {
		return l.opErr("copy", from, err)
	}
	return l.write("copy", key, data, opts)
}

func (l *Local) writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmpDir := filepath.Join(l.root, reservedDir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// Delete implements Store. Folders left empty are removed, since a bucket
// has no empty folders either.
func (l *Local) Delete(ctx context.Context, keys ...string) error {
	count(ctx, Requests{DELETE: int64((len(keys) + 999) / 1000)}) // as S3's batches of 1,000
	for _, key := range keys {
		if err := l.checkKey(key); err != nil {
			return l.opErr("delete", key, err)
		}
		for _, p := range []string{l.path(key), l.metaPath(key)} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return l.opErr("delete", key, err)
			}
		}
		l.removeEmptyParents(filepath.Dir(l.path(key)), l.root)
		l.removeEmptyParents(filepath.Dir(l.metaPath(key)), filepath.Join(l.root, reservedDir))
	}
	return nil
}

func (l *Local) removeEmptyParents(dir, stop string) {
	for dir != stop && strings.HasPrefix(dir, stop) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
