// Package s3test connects tests to the real S3-compatible server that
// scripts/s3-server.sh starts, and puts a recording proxy in front of it to
// observe what goes over the wire (bytes, headers, requests).
package s3test

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// Endpoint returns the server's URL, or skips (fails under CI=true).
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("AWS_ENDPOINT_URL_S3")
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

// Request is one request seen by the proxy.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Status                 int
	BodyBytes              int64 // response body bytes sent to the client
}

// Proxy forwards to the S3 server and records every exchange.
type Proxy struct {
	URL string

	mu   sync.Mutex
	reqs []Request
	srv  *httptest.Server
}

// NewProxy starts a recording proxy and points the SDK at it for the rest
// of the test (AWS_ENDPOINT_URL_S3).
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	target, err := url.Parse(Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the request was signed for this host
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, status: 200}
		rp.ServeHTTP(cw, r)
		p.mu.Lock()
		p.reqs = append(p.reqs, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Status: cw.status, BodyBytes: cw.n})
		p.mu.Unlock()
	}))
	t.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	t.Setenv("AWS_ENDPOINT_URL_S3", p.URL)
	return p
}

// Requests returns what was seen so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Reset forgets what was seen.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.reqs = nil
	p.mu.Unlock()
}

// BytesServed sums response body bytes of GETs whose path contains substr.
func (p *Proxy) BytesServed(substr string) (bytes int64, gets int) {
	for _, r := range p.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, substr) && !strings.Contains(r.RawQuery, "list-type") {
			bytes += r.BodyBytes
			gets++
		}
	}
	return bytes, gets
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

var _ io.Writer = (*countingWriter)(nil)

// PutAll writes the objects (key -> bytes) with 16 requests in flight.
func PutAll(t testing.TB, st storage.Store, objects map[string][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var first error
	for k, b := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func(k string, b []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := st.Put(context.Background(), k, b, storage.PutOptions{}); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(k, b)
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
