package main

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quicklook/internal/manifest"
	"quicklook/internal/s3proxy"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// makeStriped writes NAIP's original layout at NAIP's size: 6000x7500, 4
// bands, uncompressed, one row per strip (180 MB).
func makeStriped(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m_naip_sized_striped.tif")
	testenv.RunTool(t, "gdal_translate", "-q", "-outsize", "6000", "7500", "-r", "bilinear", "-co", "TILED=NO", "-co", "BLOCKYSIZE=1",
		"-co", "INTERLEAVE=PIXEL", testenv.NAIPCrop(t), out)
	return out
}

// Reads are planned by price, end to end on the S3 server behind 30 ms of
// latency: the striped NAIP layout is read in bulk at list prices and
// sparsely when requests are free, a COG sparsely either way, and bulk and
// sparse reads of the striped file make the same thumbnail.
func TestReadPlansByPriceOnS3(t *testing.T) {
	srcLoc := s3test.Bucket(t, "plansrc")
	src := s3Store(t, srcLoc)
	for key, file := range map[string]string{"n/striped.tif": makeStriped(t), "n/cog.tif": makeBigCOG(t)} {
		b, _ := os.ReadFile(file)
		if err := src.Put(context.Background(), key, b, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s3test.NewProxyWith(t, s3proxy.Options{Latency: 30 * time.Millisecond})
	run := func(args ...string) map[string]manifest.Record {
		t.Helper()
		dstLoc := s3test.Bucket(t, "plandst")
		r := runBin(t, nil, append([]string{"run", "--source", srcLoc, "--prefix", "n/", "--dest", dstLoc}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
		}
		out := map[string]manifest.Record{}
		dst := s3Store(t, dstLoc)
		for _, recs := range manifestsOf(t, dst) {
			for _, rec := range recs {
				out[rec.Key] = rec
				if len(rec.Outputs) > 0 {
					rc, err := dst.Get(context.Background(), rec.Outputs[0].Key)
					if err != nil {
						t.Fatal(err)
					}
					var buf bytes.Buffer
					buf.ReadFrom(rc)
					rc.Close()
					thumbs[args[len(args)-1]+rec.Key] = buf.Bytes()
				}
			}
		}
		return out
	}
	thumbs = map[string][]byte{}
	auto := run("--read-plan", "auto")
	free := run("--price-get", "0", "--read-plan", "auto")
	sparse := run("--read-plan", "sparse")
	bulk := run("--read-plan", "bulk")
	plan := func(rec manifest.Record) string { name, _, _ := strings.Cut(rec.ReadPlan, " "); return name }
	for _, c := range []struct {
		what string
		rec  manifest.Record
		want string
	}{
		{"striped at list prices", auto["n/striped.tif"], "bulk"},
		{"striped with free requests", free["n/striped.tif"], "sparse"},
		{"COG at list prices", auto["n/cog.tif"], "sparse"},
		{"COG with free requests", free["n/cog.tif"], "sparse"},
	} {
		if plan(c.rec) != c.want {
			t.Errorf("%s: %q, want %s", c.what, c.rec.ReadPlan, c.want)
		}
		t.Logf("%s: %d requests, %d bytes: %s", c.what, c.rec.Requests.GET, c.rec.BytesRead, c.rec.ReadPlan)
	}
	if b, s := bulk["n/striped.tif"].Requests.GET, sparse["n/striped.tif"].Requests.GET; b > 16 || s < 500 {
		t.Errorf("striped: %d GETs in bulk, %d sparse", b, s)
	}
	if d := meanAbsDiff(t, thumbs["bulkn/striped.tif"], thumbs["sparsen/striped.tif"]); d > 1 {
		t.Errorf("bulk and sparse thumbnails of the striped file differ by %.2f a channel on average", d)
	}
}

var thumbs map[string][]byte

// meanAbsDiff compares two JPEGs of the same size, channel by channel.
func meanAbsDiff(t *testing.T, a, b []byte) float64 {
	t.Helper()
	ia, err1 := jpeg.Decode(bytes.NewReader(a))
	ib, err2 := jpeg.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil || ia.Bounds() != ib.Bounds() {
		t.Fatalf("thumbnails: %v %v, %v vs %v", err1, err2, boundsOf(ia), boundsOf(ib))
	}
	var sum, n float64
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			for _, d := range []int64{int64(r1) - int64(r2), int64(g1) - int64(g2), int64(b1) - int64(b2)} {
				sum += float64(max(d, -d)) / 257
				n++
			}
		}
	}
	return sum / n
}

func boundsOf(i image.Image) image.Rectangle {
	if i == nil {
		return image.Rectangle{}
	}
	return i.Bounds()
}
