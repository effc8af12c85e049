package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/manifest"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// mrfTree makes, under a fresh folder, the MRFs NAIP's analytic bucket
// holds (header, index, LERC data, overviews) and hostile headers that name
// a secret raster elsewhere on this machine. It returns the folder and the
// legitimate MRF's data file size.
func mrfTree(t *testing.T) (string, int64) {
	t.Helper()
	root, secretDir := t.TempDir(), t.TempDir()
	legit := filepath.Join(root, "al/2013/legit")
	os.MkdirAll(legit, 0o755)
	data := testenv.MRF(t, legit, "m_3008501_ne_16_1", 4096)
	testenv.MRF(t, secretDir, "secret", 1024)
	header, _ := os.ReadFile(filepath.Join(secretDir, "secret.mrf"))
	naming := func(data, index string) string {
		return strings.Replace(string(header), "</Compression>", "</Compression><DataFile>"+data+"</DataFile><IndexFile>"+index+"</IndexFile>", 1)
	}
	abs := naming(filepath.Join(secretDir, "secret.lrc"), filepath.Join(secretDir, "secret.idx"))
	up, _ := filepath.Rel(filepath.Join(root, "al/2013/evil"), secretDir)
	evil := map[string]string{
		"abs.mrf":   abs,
		"looks.tif": abs, // GDAL knows an MRF by its first bytes, not its name
		"up.mrf":    naming(up+"/secret.lrc", up+"/secret.idx"),
		"cache.mrf": strings.Replace(string(header), "<MRF_META>", "<MRF_META><CachedSource><Source>"+filepath.Join(secretDir, "secret.mrf")+"</Source></CachedSource>", 1),
	}
	os.MkdirAll(filepath.Join(root, "al/2013/evil"), 0o755)
	for name, h := range evil {
		os.WriteFile(filepath.Join(root, "al/2013/evil", name), []byte(h), 0o644)
	}
	return root, data
}

// MRF is rendered by default, from its overviews, through its listed parts
// only; a header naming anything else (an absolute path, a folder above,
// another raster to cache) is refused as corrupt before GDAL opens it, and
// no pixel of the secret reaches a thumbnail. From a folder and from S3.
func TestMRFFromFoldersAndS3(t *testing.T) {
	tree, data := mrfTree(t)
	srcLoc := s3test.Bucket(t, "mrf-src")
	s3test.PutFolder(t, s3Store(t, srcLoc), tree)

	for _, c := range []struct{ name, src, dst string }{
		{"folder", tree, t.TempDir()},
		{"s3", srcLoc, s3test.Bucket(t, "mrf-dst")},
	} {
		r := runBin(t, nil, "run", "--source", c.src, "--prefix", "al/2013/", "--dest", c.dst, "--max-failure-rate", "1")
		if r.code != 0 || !strings.Contains(r.stdout, "1 created") || !strings.Contains(r.stdout, "4 failed") || !strings.Contains(r.stdout, "2 parts") {
			t.Fatalf("%s: exit %d\n%s\n%s", c.name, r.code, r.stdout, r.stderr)
		}
		dst, err := storage.Open(context.Background(), c.dst, storage.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var recs []manifest.Record
		for _, m := range manifestsOf(t, dst) {
			recs = append(recs, m...)
		}
		if len(recs) != 5 {
			t.Fatalf("%s: %d manifest records, want 5 (the parts are not objects)", c.name, len(recs))
		}
		for _, rec := range recs {
			switch {
			case strings.HasPrefix(rec.Key, "al/2013/legit/"):
				if rec.Status != manifest.Created || len(rec.Parts) != 2 || rec.Level == nil || *rec.Level == 0 || rec.BytesRead > data/10 {
					t.Errorf("%s: %+v (data file %d bytes)", c.name, rec, data)
				}
				t.Logf("%s: %s read %d bytes of a %d-byte data file, overview level %d", c.name, rec.Key, rec.BytesRead, data, *rec.Level)
			default:
				if rec.Status != manifest.Failed || rec.ErrorClass != "corrupt" || len(rec.Outputs) != 0 {
					t.Errorf("%s: hostile %s: %s %s %q", c.name, rec.Key, rec.Status, rec.ErrorClass, rec.Error)
				}
				thumb := strings.TrimSuffix(strings.TrimSuffix(rec.Key, ".mrf"), ".tif") + ".thumb.jpg"
				if _, err := dst.Stat(context.Background(), thumb); err == nil {
					t.Errorf("%s: a thumbnail of %s was written", c.name, rec.Key)
				}
			}
		}
	}
	// Without mrf among the extensions, a .tif holding an MRF header is still
	// opened as one (the bytes decide) and so still checked.
	dst := t.TempDir()
	r := runBin(t, nil, "run", "--source", tree, "--prefix", "al/2013/evil/", "--dest", dst, "--ext", "tif", "--max-failure-rate", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "0 created") || !strings.Contains(r.stdout, "1 failed") {
		t.Fatalf("--ext tif: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dst, "al/2013/evil/looks.thumb.jpg")); err == nil {
		t.Error("--ext tif: a thumbnail of the secret raster was written")
	}
}
