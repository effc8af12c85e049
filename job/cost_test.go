package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"quicklook/internal/manifest"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
)

// kindOf is how S3 bills a request the proxy saw.
func kindOf(method, rawQuery string, header http.Header) string {
	q, _ := url.ParseQuery(rawQuery)
	switch {
	case method == http.MethodGet && q.Has("list-type"):
		return "LIST"
	case method == http.MethodPut && header.Get("X-Amz-Copy-Source") != "":
		return "COPY"
	case method == http.MethodPost && q.Has("delete"):
		return "DELETE"
	case method == http.MethodPost:
		return "PUT"
	}
	return method
}

// The account a job keeps is what went over the wire: the summary's
// requests by kind equal the requests a recording proxy saw, and each
// object's GETs are the GETs of its key.
func TestManifestCountsEveryRequestOnTheWire(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "costsrc"), s3test.Bucket(t, "costdst")
	keys := uploadNAIP(t, s3Store(t, srcLoc), 6, func(i int) string { return fmt.Sprintf("al/2013/m_%d.tif", i) })
	proxy := s3test.NewProxy(t)
	r := runBin(t, nil, "run", "--source", srcLoc, "--prefix", "al/", "--dest", dstLoc, "--profile", "thumb:256:jpeg,big:512:webp")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	seen := map[string]int64{}
	getsOf := map[string]int64{}
	for _, req := range proxy.Requests() {
		seen[kindOf(req.Method, req.RawQuery, req.Header)]++
		for _, k := range keys {
			if req.Method == http.MethodGet && strings.HasSuffix(req.Path, "/"+k) {
				getsOf[k]++
			}
		}
	}
	s3test.Direct(t)
	dst := s3Store(t, dstLoc)
	var sum manifest.Summary
	var recs []manifest.Record
	for key, m := range manifestsOf(t, dst) {
		recs = m
		sum = readSummary(t, dst, key)
	}
	got := sum.Requests
	want := storage.Requests{GET: seen["GET"], HEAD: seen["HEAD"], PUT: seen["PUT"], LIST: seen["LIST"], DELETE: seen["DELETE"], COPY: seen["COPY"]}
	if got != want || got.Total() == 0 {
		t.Fatalf("the summary counts %+v, the wire carried %+v", got, want)
	}
	for _, rec := range recs {
		if rec.Requests.GET != getsOf[rec.Key] || rec.Requests.GET == 0 || rec.Requests.PUT != 2 {
			t.Errorf("%s: recorded %+v, the wire carried %d GETs of it (and 2 PUTs are its thumbnails)", rec.Key, rec.Requests, getsOf[rec.Key])
		}
	}
	if sum.Cost.Total <= 0 || sum.Cost.PerThousand <= 0 || sum.CPUSeconds <= 0 || sum.Prices.GET != 0.0004 {
		t.Fatalf("summary account %+v, prices %+v, cpu %g", sum.Cost, sum.Prices, sum.CPUSeconds)
	}
	t.Logf("%d requests on the wire, as counted: %+v; $%.4f per 1,000 thumbnails", want.Total(), got, sum.Cost.PerThousand)
}

func readSummary(t *testing.T, st storage.Store, manifestKey string) manifest.Summary {
	t.Helper()
	rc, err := st.Get(context.Background(), strings.TrimSuffix(manifestKey, ".jsonl")+".summary.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var s manifest.Summary
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
