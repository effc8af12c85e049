// Package s3test connects tests to the real S3-compatible server that
// scripts/s3-server.sh starts, and puts a recording proxy in front of it to
// observe what goes over the wire (bytes, headers, requests).
package s3test

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"quicklook/internal/s3proxy"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// direct is the server itself, as the environment gave it before any proxy
// of a test was put in front of it.
var (
	directOnce sync.Once
	direct     string
)

// Endpoint returns the server's URL (never a test's proxy), or skips
// (fails under CI=true).
func Endpoint(t testing.TB) string {
	t.Helper()
	directOnce.Do(func() { direct = os.Getenv("AWS_ENDPOINT_URL_S3") })
	ep := direct
	if ep == "" {
		testenv.Missing(t, "the local S3 server (AWS_ENDPOINT_URL_S3; start it with scripts/s3-server.sh start)")
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(ep)
	if err != nil {
		t.Fatalf("S3 server at %s does not answer: %v", ep, err)
	}
	resp.Body.Close()
	return ep
}

// Bucket creates a fresh bucket and returns its s3:// location.
func Bucket(t testing.TB, name string) string {
	t.Helper()
	Endpoint(t)
	bucket := fmt.Sprintf("%s-%d-%d", name, time.Now().UnixNano()%1e9, rand.Intn(1e6))
	st, err := storage.OpenS3(context.Background(), "s3://"+bucket, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(context.Background()); err != nil {
		t.Fatalf("creating bucket %s: %v", bucket, err)
	}
	return "s3://" + bucket
}

// Proxy is a recording (and, with options, shaping or faulting) proxy in
// front of the test server; see package s3proxy.
type Proxy struct {
	*s3proxy.Proxy
	URL string
}

// NewProxy starts a recording proxy and points the SDK at it for the rest
// of the test (AWS_ENDPOINT_URL_S3).
func NewProxy(t testing.TB) *Proxy { return NewProxyWith(t, s3proxy.Options{}) }

// Direct points the SDK at the server itself again (past any proxy).
func Direct(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_S3", Endpoint(t))
}

// NewProxyWith starts a proxy with latency, bandwidth or faults.
func NewProxyWith(t testing.TB, o s3proxy.Options) *Proxy {
	t.Helper()
	p, err := s3proxy.New(Endpoint(t), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	return &Proxy{Proxy: p, URL: srv.URL}
}

// PutAll writes the objects (key -> bytes) with 16 requests in flight.
func PutAll(t testing.TB, st storage.Store, objects map[string][]byte) {
	t.Helper()
	if err := storage.PutAll(context.Background(), st, objects, 16); err != nil {
		t.Fatal(err)
	}
}

// PutFolder writes every file under dir, keyed by its path relative to dir.
func PutFolder(t testing.TB, st storage.Store, dir string) {
	t.Helper()
	objects := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		objects[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	PutAll(t, st, objects)
}
