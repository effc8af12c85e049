package render

import (
	"errors"
	"io"
	"io/fs"
)

// Source gives GDAL the bytes of one object and of its sidecars (.ovr,
// .msk, .aux.xml), by key, through quicklook's storage layer: that is where
// bytes are counted, deadlines apply and reads are ranged.
type Source interface {
	// Size fails with an error matching fs.ErrNotExist for keys that do not
	// exist; GDAL probes sidecars with it.
	Size(key string) (int64, error)
	ReadAt(key string, p []byte, off int64) (int, error)
}

// trackedSource remembers the first storage failure, so a read that failed
// because the network did is not recorded as a corrupt image.
type trackedSource struct {
	Source
	diag *diagnostics
}

func (t trackedSource) Size(key string) (int64, error) {
	n, err := t.Source.Size(key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.diag.setSourceError(err)
	}
	return n, err
}

// streamer is a Source that can hand on a ranged read as it arrives.
type streamer interface {
	Stream(key string, off, n int64, fn func([]byte) error) error
}

// stream reads [off, off+n) of key with one request, handing fn the bytes
// as they arrive where src can stream, all at once where it cannot.
func stream(src Source, key string, off, n int64, fn func([]byte) error) error {
	if st, ok := src.(streamer); ok {
		return st.Stream(key, off, n, fn)
	}
	buf := make([]byte, n)
	got, err := src.ReadAt(key, buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return fn(buf[:got])
}

// Stream implements streamer.
func (t trackedSource) Stream(key string, off, n int64, fn func([]byte) error) error {
	err := stream(t.Source, key, off, n, fn)
	if err != nil && !errors.Is(err, errEnough) {
		t.diag.setSourceError(err)
	}
	return err
}

func (t trackedSource) ReadAt(key string, p []byte, off int64) (int, error) {
	n, err := t.Source.ReadAt(key, p, off)
	if err != nil && err != io.EOF {
		t.diag.setSourceError(err)
	}
	return n, err
}

// rewritten serves other bytes for one key: an intact image the job cut
// out of its container (an animated WebP's first frame, a JPEG without the
// junk GDAL stops at); every other key is src's.
type rewritten struct {
	Source
	key  string
	data []byte
}

func (r rewritten) Size(key string) (int64, error) {
	if key == r.key {
		return int64(len(r.data)), nil
	}
	return r.Source.Size(key)
}

func (r rewritten) ReadAt(key string, p []byte, off int64) (int, error) {
	if key != r.key {
		return r.Source.ReadAt(key, p, off)
	}
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
