// Command soak runs the whole suite under faults and checks that nothing is
// lost: 2,000 objects across 20 prefixes on the S3 server, 5% of requests
// failing transiently (503 SlowDown or a connection reset mid-body), some
// hostile files, run with the local executor (bin/submit, bin/job). The
// manifests must account for exactly the objects listed.
//
//	make soak
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/runspec"
	"quicklook/internal/s3proxy"
	"quicklook/internal/storage"
)

func main() {
	real := flag.String("real", "../shared/testdata/real", "real test imagery")
	prefixes := flag.Int("prefixes", 20, "prefixes")
	perPrefix := flag.Int("per-prefix", 100, "objects per prefix")
	faultRate := flag.Float64("faults", 0.05, "fraction of requests failing transiently")
	flag.Parse()
	ctx := context.Background()
	if os.Getenv("AWS_ENDPOINT_URL_S3") == "" {
		log.Fatal("AWS_ENDPOINT_URL_S3 is not set: start the S3 server (make soak does)")
	}

	good, _ := filepath.Glob(filepath.Join(*real, "geotiff/naip/*downsampled.tif"))
	good = append(good, filepath.Join(*real, "geotiff/float/float_raster_with_nodata.tif"), filepath.Join(*real, "geotiff/landsat/RGBA.uint16.tif"))
	hostile, _ := filepath.Glob(filepath.Join(*real, "hostile/corrupt/*.jpg"))
	if len(good) < 3 || len(hostile) == 0 {
		log.Fatalf("real test imagery missing under %s", *real)
	}
	run := fmt.Sprintf("soak-%d", time.Now().Unix())
	srcLoc, dstLoc := "s3://"+run+"-src", "s3://"+run+"-dst"
	src := mustOpen(ctx, srcLoc)
	dst := mustOpen(ctx, dstLoc)
	if err := src.CreateBucket(ctx); err != nil {
		log.Fatal(err)
	}
	if err := dst.CreateBucket(ctx); err != nil {
		log.Fatal(err)
	}

	// The collection: mostly good images, one hostile file in 25.
	objects := map[string][]byte{}
	rng := rand.New(rand.NewSource(1))
	for p := 0; p < *prefixes; p++ {
		for i := 0; i < *perPrefix; i++ {
			f := good[rng.Intn(len(good))]
			ext := ".tif"
			if i%25 == 24 {
				f, ext = hostile[rng.Intn(len(hostile))], ".jpg"
			}
			b, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			objects[fmt.Sprintf("s%02d/q%d/img_%04d%s", p, i%4, i, ext)] = b
		}
	}
	if err := storage.PutAll(ctx, src, objects, 16); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d objects in %s across %d prefixes", len(objects), srcLoc, *prefixes)

	// Faults between every process of the run and the server.
	var injected, resets, slowdowns atomic.Int64
	var mu sync.Mutex
	frng := rand.New(rand.NewSource(2))
	p, err := s3proxy.New(os.Getenv("AWS_ENDPOINT_URL_S3"), s3proxy.Options{Fault: func(r *http.Request) s3proxy.Fault {
		mu.Lock()
		roll := frng.Float64()
		mu.Unlock()
		if roll >= *faultRate {
			return s3proxy.Fault{}
		}
		injected.Add(1)
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && roll < *faultRate/2 {
			resets.Add(1)
			return s3proxy.Fault{ResetAt: 512}
		}
		slowdowns.Add(1)
		return s3proxy.Fault{Status: 503, Code: "SlowDown"}
	}})
	if err != nil {
		log.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, p)

	t0 := time.Now()
	cmd := exec.Command("bin/submit", "run", "--executor", "local", "--source", srcLoc, "--dest", dstLoc, "--depth", "1",
		"--parallel", "2", "--run-id", run, "--log-dir", filepath.Join("quicklook-logs", run), "--job-bin", "bin/job",
		"--job-env", "QUICKLOOK_MAX_FAILURE_RATE=0.2")
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3=http://"+ln.Addr().String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	runErr := cmd.Run()
	elapsed := time.Since(t0)

	// The account, read without faults.
	rec, err := runspec.LoadRecord(ctx, dstLoc, run)
	if err != nil {
		log.Fatal(err)
	}
	attempts, retriedJobs := 0, 0
	for _, j := range rec.Jobs {
		attempts += j.Attempts
		if j.Attempts > 1 {
			retriedJobs++
		}
	}
	latest, err := manifest.LatestManifests(ctx, dst)
	if err != nil {
		log.Fatal(err)
	}
	seen := map[string]int{}
	classes := map[string]int{}
	statuses := map[string]int{}
	for _, key := range latest {
		rc, err := dst.Get(ctx, key)
		if err != nil {
			log.Fatal(err)
		}
		recs, bad, _ := manifest.Parse(rc)
		rc.Close()
		if bad > 0 {
			log.Fatalf("%s has %d damaged lines", key, bad)
		}
		for _, r := range recs {
			seen[r.Key]++
			statuses[string(r.Status)]++
			if r.ErrorClass != "" {
				classes[r.ErrorClass]++
			}
		}
	}
	lost, dup := 0, 0
	for k := range objects {
		switch seen[k] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	extra := 0
	for k := range seen {
		if _, ok := objects[k]; !ok {
			extra++
		}
	}
	fmt.Println()
	fmt.Printf("soak %s: %d objects, %d prefixes, %.1fs\n", run, len(objects), *prefixes, elapsed.Seconds())
	fmt.Printf("faults injected: %d of %d requests (%d SlowDown, %d resets mid-body)\n", injected.Load(), len(p.Requests()), slowdowns.Load(), resets.Load())
	fmt.Printf("jobs: %d, attempts %d, jobs retried after exit 75: %d\n", len(rec.Jobs), attempts, retriedJobs)
	fmt.Printf("manifest records by status: %s\n", kv(statuses))
	fmt.Printf("failures by class: %s\n", kv(classes))
	fmt.Printf("objects verified: %d; lost: %d; listed twice: %d; unknown: %d\n", len(objects)-lost, lost, dup, extra)
	hostileCount := len(objects) / 25
	if lost > 0 || dup > 0 || extra > 0 || statuses["failed"] > hostileCount+classes["io"]+classes["timeout"] {
		log.Fatal("soak FAILED: the manifests do not account for the listing")
	}
	if runErr != nil && classes["io"]+classes["interrupted"] > 0 {
		log.Fatalf("soak FAILED: transient failures remain after retries: %v", runErr)
	}
	checkThumbs(ctx, dst, objects)
	fmt.Println("soak passed: every object accounted for exactly once")
}

func kv(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// checkThumbs: every good object has its thumbnail.
func checkThumbs(ctx context.Context, dst storage.Store, objects map[string][]byte) {
	have := map[string]bool{}
	dst.List(ctx, "", "", func(e storage.Entry) error { have[e.Key] = true; return nil })
	missing := 0
	for k := range objects {
		if strings.HasSuffix(k, ".tif") && !have[naming.OutputKey("", k, naming.DefaultProfile)] {
			missing++
		}
	}
	if missing > 0 {
		log.Fatalf("soak FAILED: %d good images have no thumbnail", missing)
	}
}

func mustOpen(ctx context.Context, loc string) *storage.S3 {
	st, err := storage.OpenS3(ctx, loc, storage.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	return st
}
