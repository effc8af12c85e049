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

func (t trackedSource) ReadAt(key string, p []byte, off int64) (int, error) {
	n, err := t.Source.ReadAt(key, p, off)
	if err != nil && err != io.EOF {
		t.diag.setSourceError(err)
	}
	return n, err
}
