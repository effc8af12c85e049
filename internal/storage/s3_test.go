package storage_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"quicklook/internal/s3test"
	"quicklook/internal/storage"
)

func openS3(t *testing.T, location string, opts storage.OpenOptions) *storage.S3 {
	t.Helper()
	st, err := storage.OpenS3(context.Background(), location, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestS3Conformance(t *testing.T) {
	bucket := s3test.Bucket(t, "conformance")
	t.Run("bucket root", func(t *testing.T) { storage.Conformance(t, openS3(t, bucket, storage.OpenOptions{})) })
	t.Run("below a base prefix", func(t *testing.T) {
		st := openS3(t, bucket+"/base/", storage.OpenOptions{})
		storage.Conformance(t, st)
		// The base is invisible to callers, and other keys of the bucket are not listed.
		var keys []string
		st.List(context.Background(), "", "/", func(e storage.Entry) error { keys = append(keys, e.Key+e.CommonPrefix); return nil })
		for _, k := range keys {
			if strings.HasPrefix(k, "base/") {
				t.Fatalf("key %q shows the base", k)
			}
		}
	})
}

func TestS3PaginationSpacesAndUnicode(t *testing.T) {
	st := openS3(t, s3test.Bucket(t, "pages"), storage.OpenOptions{})
	ctx := context.Background()
	const n = 1100
	objects := map[string][]byte{}
	for i := 0; i < n; i++ {
		objects[fmt.Sprintf("p/d%04d/é x %04d.tif", i, i)] = []byte("x")
	}
	s3test.PutAll(t, st, objects)
	var keys, prefixes []string
	st.List(ctx, "p/", "", func(e storage.Entry) error { keys = append(keys, e.Key); return nil })
	st.List(ctx, "p/", "/", func(e storage.Entry) error { prefixes = append(prefixes, e.CommonPrefix); return nil })
	if len(keys) != n || len(prefixes) != n {
		t.Fatalf("listed %d keys and %d common prefixes, want %d", len(keys), len(prefixes), n)
	}
	for i := 1; i < n; i++ {
		if keys[i-1] >= keys[i] {
			t.Fatalf("listing out of order at %d: %q, %q", i, keys[i-1], keys[i])
		}
	}
	if keys[0] != "p/d0000/é x 0000.tif" {
		t.Fatalf("first key %q", keys[0])
	}
}

func TestS3RequesterPaysHeaderOnEverySourceCall(t *testing.T) {
	bucket := s3test.Bucket(t, "payer")
	proxy := s3test.NewProxy(t)
	ctx := context.Background()
	plain := openS3(t, bucket, storage.OpenOptions{})
	plain.Put(ctx, "a/x.tif", []byte("0123456789"), storage.PutOptions{})
	proxy.Reset()

	payer := openS3(t, bucket, storage.OpenOptions{RequesterPays: true})
	payer.List(ctx, "a/", "", func(storage.Entry) error { return nil })
	payer.ReadAt(ctx, "a/x.tif", make([]byte, 4), 2)
	payer.Stat(ctx, "a/x.tif")
	rc, err := payer.Get(ctx, "a/x.tif")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	reqs := proxy.Requests()
	if len(reqs) < 4 {
		t.Fatalf("%d requests seen", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("X-Amz-Request-Payer") != "requester" {
			t.Errorf("%s %s?%s without x-amz-request-payer", r.Method, r.Path, r.RawQuery)
		}
	}
	proxy.Reset()
	plain.ReadAt(ctx, "a/x.tif", make([]byte, 4), 2)
	for _, r := range proxy.Requests() {
		if r.Header.Get("X-Amz-Request-Payer") != "" {
			t.Errorf("requester-pays sent without --requester-pays")
		}
	}
	// A ranged read asks for exactly its range.
	for _, r := range reqs {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "x.tif") && r.Header.Get("Range") == "bytes=2-5" {
			return
		}
	}
	t.Error("no ranged GET bytes=2-5 seen")
}

func TestS3ErrorsNameBucketAndOperation(t *testing.T) {
	s3test.Endpoint(t)
	ctx := context.Background()
	missing := openS3(t, "s3://quicklook-no-such-bucket-x", storage.OpenOptions{})
	err := missing.List(ctx, "", "", func(storage.Entry) error { return nil })
	if !errors.Is(err, storage.ErrNoBucket) || !strings.Contains(err.Error(), "quicklook-no-such-bucket-x") || !strings.Contains(err.Error(), "list") {
		t.Fatalf("missing bucket: %v", err)
	}
	bucket := s3test.Bucket(t, "denied")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	bad := openS3(t, bucket, storage.OpenOptions{})
	err = bad.List(ctx, "", "", func(storage.Entry) error { return nil })
	if !errors.Is(err, storage.ErrDenied) || !strings.Contains(err.Error(), strings.TrimPrefix(bucket, "s3://")) {
		t.Fatalf("bad credentials: %v", err)
	}
}
