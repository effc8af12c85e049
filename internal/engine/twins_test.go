package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"quicklook/internal/manifest"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// Identical sources in a bucket (the same bytes under three keys) are
// rendered once: the others get a server-side copy of the thumbnail with
// their own key and ETag in its metadata, and a rerun finds all of them up
// to date. A different file of the same size is rendered.
func TestIdenticalSourcesAreRenderedOnce(t *testing.T) {
	ctx := context.Background()
	naip, _ := filepath.Glob(filepath.Join(testenv.RealData(t), "geotiff/naip/*.tif"))
	a, err := os.ReadFile(naip[0])
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(a)
	b[len(b)-1] ^= 0xff // same size, other bytes (the last byte of pixel data)
	src, err := storage.Open(ctx, s3test.Bucket(t, "twins-src"), storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s3test.PutAll(t, src, map[string][]byte{"t/a.tif": a, "t/copy1.tif": a, "t/z/copy2.tif": a, "t/other.tif": b})
	for name, dst := range map[string]func() storage.Store{
		"into a bucket": func() storage.Store {
			st, err := storage.Open(ctx, s3test.Bucket(t, "twins-dst"), storage.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"into a folder": func() storage.Store {
			st, _ := storage.OpenLocal(t.TempDir(), true)
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			dst := dst()
			res := runJob(t, Config{Source: src, Dest: dst, Prefix: "t/", Concurrency: 2})
			recs := byKey(readManifest(t, dst, res.Summary.Manifest))
			if res.Summary.Created != 4 || res.Summary.Copied != 2 {
				t.Fatalf("summary: %d created, %d copied; want 4 and 2", res.Summary.Created, res.Summary.Copied)
			}
			orig := recs["t/a.tif"]
			if orig.CopiedFrom != "" || recs["t/other.tif"].CopiedFrom != "" || recs["t/other.tif"].Requests.GET == 0 {
				t.Fatalf("the original or the other file was not rendered: %+v %+v", orig, recs["t/other.tif"])
			}
			thumb := read(t, dst, orig.Outputs[0].Key)
			for _, key := range []string{"t/copy1.tif", "t/z/copy2.tif"} {
				r := recs[key]
				if r.Status != manifest.Created || r.CopiedFrom != "t/a.tif" || r.Requests.COPY != 1 || r.Requests.GET != 0 || r.CPUSeconds != 0 {
					t.Fatalf("%s: %+v", key, r)
				}
				if len(r.Outputs) != 1 || !bytes.Equal(read(t, dst, r.Outputs[0].Key), thumb) {
					t.Fatalf("%s: outputs %+v are not the original's thumbnail", key, r.Outputs)
				}
				obj, err := dst.Stat(ctx, r.Outputs[0].Key)
				if err != nil || obj.Metadata[MetaSourceKey] != key || obj.Metadata[MetaSourceETag] != r.ETag || obj.ContentType != "image/jpeg" {
					t.Fatalf("%s: the copy's attributes %+v (%v)", key, obj, err)
				}
			}
			again := runJob(t, Config{Source: src, Dest: dst, Prefix: "t/", Concurrency: 2})
			if again.Summary.Skipped != 4 || again.Summary.Requests.COPY != 0 {
				t.Fatalf("rerun: %+v", again.Summary)
			}
		})
	}
}

func read(t *testing.T, st storage.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	b.ReadFrom(rc)
	return b.Bytes()
}
