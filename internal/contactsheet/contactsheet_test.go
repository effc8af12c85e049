package contactsheet

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"quicklook/internal/manifest"
	"quicklook/internal/storage"
)

func TestPagesLinkEveryThumbnailRelatively(t *testing.T) {
	root := t.TempDir()
	dest, _ := storage.OpenLocal(root, false)
	ctx := context.Background()
	recs := []manifest.Record{
		{Key: "al/2013/q1/a.tif", Status: manifest.Created, Outputs: []manifest.Output{{Key: "al/2013/q1/a.thumb.jpg", Width: 100, Height: 80}, {Key: "al/2013/q1/a.big.png", Width: 400, Height: 320}}},
		{Key: "al/2013/q2/b c#1.tif", Status: manifest.Skipped, Outputs: []manifest.Output{{Key: "al/2013/q2/b c#1.thumb.jpg", Width: 100, Height: 80}}},
		{Key: "al/2013/q2/broken.tif", Status: manifest.Failed, ErrorClass: "corrupt", Error: "libjpeg: <premature end>"},
	}
	for _, r := range recs {
		for _, o := range r.Outputs {
			dest.Put(ctx, o.Key, []byte("img"), storage.PutOptions{})
		}
	}
	sum := manifest.Summary{Job: "al_2013-1", Prefix: "al/2013/", Sources: 3, Created: 1, Skipped: 1, Failed: 1, Finished: time.Now()}
	if err := Write(ctx, dest, "/srv/naip/", sum, recs, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "_quicklook", "index.html")); err == nil {
		t.Fatal("a page-only write rebuilt the index")
	}
	other := manifest.Summary{Job: "ga_2015-2", Prefix: "ga/2015/", Sources: 0, Finished: time.Now()}
	if err := Write(ctx, dest, "s3://aws-naip/", other, nil, true); err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(root, "_quicklook", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(index)
	for _, want := range []string{"al/2013/", "ga/2015/", "1 created", "1 up to date", "1 failed", "corrupt",
		"libjpeg: &lt;premature end&gt;", `href="file:///srv/naip/al/2013/q1/a.tif"`, "al/2013/q1/", "al/2013/q2/"} {
		if !strings.Contains(html, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	// Every image is a relative URL that resolves, from the page, to a file.
	srcs := regexp.MustCompile(`<img src="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(srcs) != 2 {
		t.Fatalf("%d images on the index, want 2 (the smallest output of each)", len(srcs))
	}
	for _, m := range srcs {
		if strings.Contains(m[1], "big.png") || strings.HasPrefix(m[1], "/") || strings.Contains(m[1], "://") {
			t.Errorf("image URL %q: want the thumbnail, relative", m[1])
		}
		p := strings.NewReplacer("%20", " ", "%23", "#").Replace(m[1])
		if _, err := os.Stat(filepath.Join(root, "_quicklook", p)); err != nil {
			t.Errorf("image %q does not resolve from the index: %v", m[1], err)
		}
	}
	jobPage, err := os.ReadFile(filepath.Join(root, "_quicklook", "pages", "al_2013-1.html"))
	if err != nil || !strings.Contains(string(jobPage), `src="../../al/2013/q1/a.thumb.jpg"`) {
		t.Fatalf("job page: %v", err)
	}
	if !strings.Contains(string(sourceLink("s3://aws-naip/base/", "al/x y.tif")), "s3.console.aws.amazon.com/s3/object/aws-naip?prefix=base%2Fal%2Fx+y.tif") {
		t.Errorf("S3 source link %s", sourceLink("s3://aws-naip/base/", "al/x y.tif"))
	}
}
