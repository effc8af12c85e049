package render

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"quicklook/internal/naming"
)

// bytesSource serves one in-memory file.
type bytesSource []byte

func (b bytesSource) Size(key string) (int64, error) {
	if key != "f" {
		return -1, fs.ErrNotExist
	}
	return int64(len(b)), nil
}

func (b bytesSource) ReadAt(key string, p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Mutated GeoTIFF, JPEG and PNG bytes give a thumbnail or a data error,
// within a time bound and the pixel bound, never a crash.
func FuzzRender(f *testing.F) {
	seeds := []string{
		"geotiff/naip/m_3907864_sw_17_060_20210912_downsampled.tif",
		"geotiff/float/float_nan_3x2.tif",
		"geotiff/odd/rotated.tif",
		"cog/odd/cog_no_offset.tif",
		"hostile/corrupt/its_jpeg_357B.jpg",
		"hostile/png/its_png_width_zero.png",
		"hostile/bomb/goximage_tiff_0x0.tiff",
	}
	for _, s := range seeds {
		if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "real", s)); err == nil && len(b) < 100_000 {
			f.Add(b)
		}
	}
	opt := Options{Profiles: []naming.Profile{{Name: "t", Size: 64, Format: naming.PNG}}, MaxPixels: 4_000_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		type outcome struct {
			res *Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := Render(ctx, bytesSource(data), "f", nil, opt)
			done <- outcome{res, err}
		}()
		var out outcome
		select {
		case out = <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("rendering %d bytes did not return within 15s", len(data))
		}
		res, err := out.res, out.err
		var de *Error
		switch {
		case err == nil:
			if len(res.Outputs) != 1 || len(res.Outputs[0].Data) == 0 || res.Outputs[0].Width > 64 || res.Outputs[0].Height > 64 {
				t.Fatalf("bad output %+v", res.Outputs)
			}
		case errors.As(err, &de):
			if de.Class == "" {
				t.Fatal("data error without a class")
			}
		default:
			t.Fatalf("not a data error: %v", err)
		}
	})
}
