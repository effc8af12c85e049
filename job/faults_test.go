package main

import (
	"fmt"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"quicklook/internal/s3proxy"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// faultRun uploads NAIP crops, runs the job through a faulty proxy and
// returns the result, the proxy and the destination.
func faultRun(t *testing.T, n int, fault func(r *http.Request) s3proxy.Fault, extra ...string) (result, *s3test.Proxy, string) {
	t.Helper()
	srcLoc, dstLoc := s3test.Bucket(t, "faultsrc"), s3test.Bucket(t, "faultdst")
	uploadNAIP(t, s3Store(t, srcLoc), n, func(i int) string { return fmt.Sprintf("p/q%d/m_%03d.tif", i%3, i) })
	proxy := s3test.NewProxyWith(t, s3proxy.Options{Fault: fault})
	r := runBin(t, nil, append([]string{"run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc, "--log-format", "json"}, extra...)...)
	return r, proxy, dstLoc
}

// checkThumbnails decodes every thumbnail: none may be partial or corrupt.
func checkThumbnails(t *testing.T, dstLoc string, want int) {
	t.Helper()
	s3test.Direct(t)
	dst := s3Store(t, dstLoc)
	n := 0
	err := dst.List(t.Context(), "p/", "", func(e storage.Entry) error {
		if !strings.HasSuffix(e.Key, ".thumb.jpg") {
			return nil
		}
		rc, err := dst.Get(t.Context(), e.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := jpeg.Decode(rc); err != nil {
			return fmt.Errorf("%s: %v", e.Key, err)
		}
		n++
		return nil
	})
	if err != nil || n != want {
		t.Fatalf("%d valid thumbnails of %d: %v", n, want, err)
	}
}

func TestFaultSlowDownBurstsAreAbsorbed(t *testing.T) {
	var calls atomic.Int64
	r, proxy, dst := faultRun(t, 12, func(r *http.Request) s3proxy.Fault {
		// Bursts: requests 5-14, 30-39 and 60-69 are all refused.
		if n := calls.Add(1); n%30 >= 5 && n%30 < 15 && n < 90 {
			return s3proxy.Fault{Status: 503, Code: "SlowDown"}
		}
		return s3proxy.Fault{}
	})
	if r.code != 0 || !strings.Contains(r.stdout, "12 created") {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	slowdowns := 0
	for _, q := range proxy.Requests() {
		if q.Status == 503 {
			slowdowns++
		}
	}
	if slowdowns < 10 {
		t.Fatalf("only %d SlowDown answers injected", slowdowns)
	}
	checkThumbnails(t, dst, 12)
	t.Logf("%d SlowDown answers absorbed", slowdowns)
}

func TestFaultResetsMidBodyAreResumed(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	resets := 0
	r, _, dst := faultRun(t, 12, func(r *http.Request) s3proxy.Fault {
		if r.Method != http.MethodGet || r.Header.Get("Range") == "" {
			return s3proxy.Fault{}
		}
		mu.Lock()
		defer mu.Unlock()
		id := r.URL.Path // the first ranged read of every object breaks
		if seen[id] {
			return s3proxy.Fault{}
		}
		seen[id] = true
		resets++
		return s3proxy.Fault{ResetAt: 1000} // the first try of every range breaks after 1000 bytes
	})
	if r.code != 0 || !strings.Contains(r.stdout, "12 created") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	checkThumbnails(t, dst, 12)
	t.Logf("%d ranged reads reset mid-body and resumed", resets)
}

func TestFaultSlowResponsesAndItemTimeout(t *testing.T) {
	r, _, _ := faultRun(t, 4, func(r *http.Request) s3proxy.Fault {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
			return s3proxy.Fault{Delay: 150 * time.Millisecond}
		}
		return s3proxy.Fault{}
	})
	if r.code != 0 || !strings.Contains(r.stdout, "4 created") {
		t.Fatalf("slow responses: exit %d:\n%s", r.code, r.stdout)
	}
	// Slower than --item-timeout: recorded as timeouts; the next run retries them.
	r, _, _ = faultRun(t, 4, func(r *http.Request) s3proxy.Fault {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
			return s3proxy.Fault{Delay: 3 * time.Second}
		}
		return s3proxy.Fault{}
	}, "--item-timeout", "1s", "--max-failure-rate", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "4 failed: timeout") {
		t.Fatalf("timeouts: exit %d:\n%s", r.code, r.stdout)
	}
}

func TestFaultListingFailsOnPage3(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "pagesrc"), s3test.Bucket(t, "pagedst")
	tiny, _ := os.ReadFile(filepath.Join(testenv.RealData(t), "geotiff/float/float_raster_with_nodata.tif"))
	objects := map[string][]byte{}
	for i := 0; i < 2100; i++ {
		objects[fmt.Sprintf("p/img_%04d.tif", i)] = tiny
	}
	s3test.PutAll(t, s3Store(t, srcLoc), objects)
	var page3 atomic.Int64
	failPage3 := func(times int64) func(r *http.Request) s3proxy.Fault {
		return func(r *http.Request) s3proxy.Fault {
			q := r.URL.Query()
			if q.Get("list-type") == "2" && q.Get("continuation-token") != "" && strings.HasPrefix(r.URL.Path, "/"+strings.TrimPrefix(srcLoc, "s3://")) {
				// The second continuation is page 3.
				if pageOf(q.Get("continuation-token")) == 3 && page3.Add(1) <= times {
					return s3proxy.Fault{Status: 500, Code: "InternalError"}
				}
			}
			return s3proxy.Fault{}
		}
	}
	args := []string{"run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc, "--log-format", "json"}
	// Once: the SDK retries and the run completes.
	s3test.NewProxyWith(t, s3proxy.Options{Fault: failPage3(1)})
	resetPages()
	if r := runBin(t, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "2100 created") {
		t.Fatalf("transient listing failure: exit %d\n%s", r.code, r.stderr+r.stdout)
	}
	// Always: the run cannot finish, exits 75 for Batch to retry, and a rerun completes.
	dstLoc2 := s3test.Bucket(t, "pagedst2")
	args2 := []string{"run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc2, "--log-format", "json"}
	page3.Store(0)
	resetPages()
	s3test.NewProxyWith(t, s3proxy.Options{Fault: failPage3(1 << 30)})
	if r := runBin(t, []string{"AWS_MAX_ATTEMPTS=2"}, args2...); r.code != 75 || !strings.Contains(r.stderr, "listing source") {
		t.Fatalf("persistent listing failure: exit %d\n%s", r.code, r.stdout)
	}
	s3test.Direct(t)
	if r := runBin(t, nil, args2...); r.code != 0 || !strings.Contains(r.stdout, "2100 created") {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stdout)
	}
}

// pageOf numbers continuation tokens in the order the proxy first sees
// them: the first token asks for page 2.
var (
	pagesMu sync.Mutex
	pages   = map[string]int{}
)

func resetPages() {
	pagesMu.Lock()
	pages = map[string]int{}
	pagesMu.Unlock()
}

func pageOf(token string) int {
	pagesMu.Lock()
	defer pagesMu.Unlock()
	if n, ok := pages[token]; ok {
		return n
	}
	pages[token] = len(pages) + 2
	return pages[token]
}
