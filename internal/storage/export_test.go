package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// Conformance runs the behaviour every Store must share, so that a local
// folder and a bucket are interchangeable for the job.
func Conformance(t *testing.T, s Store) {
	ctx := context.Background()
	keys := []string{
		"a-c", "a/b", "a.b", "a/c/d.tif", "a/c/e.tif", "a/z", "b/x y.tif", "b/café/東京.tif",
		"al/2013/1m/30085/m_1.tif", "al/2013/1m/30085/m_1.tif.ovr", "al/2013/1m/30086/m_2.tif", "al/2014/1m/1/m_3.tif",
	}
	for i, k := range keys {
		if err := s.Put(ctx, k, bytes.Repeat([]byte{byte('a' + i)}, 10+i), PutOptions{ContentType: "image/tiff"}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}

	t.Run("full listing is in byte order of keys", func(t *testing.T) {
		got := listKeys(t, s, "", "")
		want := append([]string(nil), keys...)
		sort.Strings(want)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("list = %q\nwant %q", got, want)
		}
	})
	t.Run("delimiter groups common prefixes", func(t *testing.T) {
		got := listKeys(t, s, "", "/")
		want := []string{"a-c", "a.b", "a/", "al/", "b/"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("list / = %q, want %q", got, want)
		}
		got = listKeys(t, s, "al/", "/")
		if want := []string{"al/2013/", "al/2014/"}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("list al/ / = %q, want %q", got, want)
		}
		got = listKeys(t, s, "a/", "/")
		if want := []string{"a/b", "a/c/", "a/z"}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("list a/ / = %q, want %q", got, want)
		}
	})
	t.Run("prefix need not end at a folder", func(t *testing.T) {
		got := listKeys(t, s, "al/2013/1m/3008", "")
		want := []string{"al/2013/1m/30085/m_1.tif", "al/2013/1m/30085/m_1.tif.ovr", "al/2013/1m/30086/m_2.tif"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("list = %q, want %q", got, want)
		}
		if got := listKeys(t, s, "al/2013/1m/3008", "/"); strings.Join(got, "|") != "al/2013/1m/30085/|al/2013/1m/30086/" {
			t.Fatalf("list with delimiter = %q", got)
		}
	})
	t.Run("missing prefix lists nothing", func(t *testing.T) {
		if got := listKeys(t, s, "nope/", ""); len(got) != 0 {
			t.Fatalf("list nope/ = %q", got)
		}
	})
	t.Run("ranged reads and EOF", func(t *testing.T) {
		buf := make([]byte, 4)
		n, err := s.ReadAt(ctx, "a/z", buf, 2)
		if n != 4 || err != nil {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		buf = make([]byte, 10)
		n, err = s.ReadAt(ctx, "a/z", buf, 10) // object is 15 bytes
		if n != 5 || err != io.EOF {
			t.Fatalf("ReadAt past end = %d, %v; want 5, EOF", n, err)
		}
		if _, err := s.ReadAt(ctx, "a/missing", buf, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReadAt missing = %v, want ErrNotFound", err)
		}
	})
	t.Run("metadata and etag", func(t *testing.T) {
		md := map[string]string{"quicklook-source-etag": "abc", "quicklook-settings": "s1"}
		if err := s.Put(ctx, "m/x.thumb.jpg", []byte("jpegbytes"), PutOptions{ContentType: "image/jpeg", CacheControl: "max-age=60", Metadata: md}); err != nil {
			t.Fatal(err)
		}
		o, err := s.Stat(ctx, "m/x.thumb.jpg")
		if err != nil {
			t.Fatal(err)
		}
		if o.Size != 9 || o.ContentType != "image/jpeg" || o.Metadata["quicklook-source-etag"] != "abc" || o.ETag == "" {
			t.Fatalf("stat = %+v", o)
		}
		before := o.ETag
		if err := s.Put(ctx, "m/x.thumb.jpg", []byte("other jpeg bytes"), PutOptions{ContentType: "image/jpeg"}); err != nil {
			t.Fatal(err)
		}
		if o, _ = s.Stat(ctx, "m/x.thumb.jpg"); o.ETag == before {
			t.Fatalf("etag did not change on overwrite: %q", o.ETag)
		}
		var listed Object
		s.List(ctx, "m/", "", func(e Entry) error { listed = e.Object; return nil })
		if listed.ETag != o.ETag || listed.Size != o.Size {
			t.Fatalf("listing %+v disagrees with stat %+v", listed, o)
		}
		if _, err := s.Stat(ctx, "m/none"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("stat missing = %v", err)
		}
	})
	t.Run("get streams the whole object", func(t *testing.T) {
		rc, err := s.Get(ctx, "a/b")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) != 11 {
			t.Fatalf("get = %d bytes", len(b))
		}
	})
	t.Run("keys that escape the root are refused", func(t *testing.T) {
		for _, k := range []string{"../x", "a/../../x", "/etc/passwd", "a\x00b", "", "a//b", "./a", `a\..\b`} {
			err := s.Put(ctx, k, []byte("x"), PutOptions{})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("put %q = %v, want ErrInvalid", k, err)
			}
			if _, err := s.ReadAt(ctx, k, make([]byte, 1), 0); !errors.Is(err, ErrInvalid) {
				t.Errorf("read %q = %v, want ErrInvalid", k, err)
			}
		}
		if err := s.List(ctx, "../", "", func(Entry) error { return nil }); !errors.Is(err, ErrInvalid) {
			t.Errorf("list ../ = %v, want ErrInvalid", err)
		}
	})
	t.Run("copy carries the bytes and its own attributes", func(t *testing.T) {
		u := NewUsage(nil)
		cctx := WithUsage(ctx, u)
		meta := map[string]string{"quicklook-source-key": "b/café/東京 2.tif"}
		if err := s.Copy(cctx, "b/café/東京.tif", "c/copy of 東京.tif", PutOptions{ContentType: "image/jpeg", Metadata: meta}); err != nil {
			t.Fatal(err)
		}
		obj, err := s.Stat(ctx, "c/copy of 東京.tif")
		if err != nil || obj.Size != 17 || obj.ContentType != "image/jpeg" || obj.Metadata["quicklook-source-key"] != meta["quicklook-source-key"] {
			t.Fatalf("copy: %+v %v", obj, err)
		}
		got := make([]byte, 17)
		if n, _ := s.ReadAt(ctx, "c/copy of 東京.tif", got, 0); n != 17 || !bytes.Equal(got, bytes.Repeat([]byte{'a' + 7}, 17)) {
			t.Fatalf("copy holds %q", got[:n])
		}
		if c := u.Counts().Requests; c.COPY != 1 || c.GET+c.PUT != 0 {
			t.Fatalf("a copy counted as %+v, want one COPY", c)
		}
		if err := s.Copy(ctx, "never/there.tif", "c/x.tif", PutOptions{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("copy of a missing object = %v, want ErrNotFound", err)
		}
		if err := s.Copy(ctx, "../x", "c/x.tif", PutOptions{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("copy from ../x = %v, want ErrInvalid", err)
		}
		s.Delete(ctx, "c/copy of 東京.tif")
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(ctx, "a/c/d.tif", "a/c/e.tif", "a/never"); err != nil {
			t.Fatal(err)
		}
		if got := listKeys(t, s, "a/", "/"); strings.Join(got, "|") != "a/b|a/z" {
			t.Fatalf("after delete: %q", got)
		}
	})
}

func listKeys(t *testing.T, s Store, prefix, delim string) []string {
	t.Helper()
	var out []string
	err := s.List(context.Background(), prefix, delim, func(e Entry) error {
		if e.CommonPrefix != "" {
			out = append(out, e.CommonPrefix)
		} else {
			out = append(out, e.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %q %q: %v", prefix, delim, err)
	}
	return out
}

// Requests are billed by what S3 charges them as, whoever counts them (the
// SDK's transport here, the benchmark from its proxy's log).
func TestBilledAs(t *testing.T) {
	copyHeader := http.Header{"X-Amz-Copy-Source": {"b/k"}}
	for _, c := range []struct {
		method, query string
		header        http.Header
		want          Requests
	}{
		{"GET", "", nil, Requests{GET: 1}},
		{"GET", "list-type=2&prefix=a%2F", nil, Requests{LIST: 1}},
		{"HEAD", "", nil, Requests{HEAD: 1}},
		{"PUT", "", nil, Requests{PUT: 1}},
		{"PUT", "", copyHeader, Requests{COPY: 1}},
		{"POST", "delete", nil, Requests{DELETE: 1}},
		{"POST", "uploads", nil, Requests{PUT: 1}},
		{"DELETE", "", nil, Requests{DELETE: 1}},
		{"OPTIONS", "", nil, Requests{GET: 1}},
	} {
		q, _ := url.ParseQuery(c.query)
		if got := BilledAs(c.method, q, c.header); got != c.want {
			t.Errorf("%s ?%s %v: %+v, want %+v", c.method, c.query, c.header, got, c.want)
		}
	}
}
