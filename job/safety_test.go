package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/proctree"
	"quicklook/internal/s3proxy"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// No credential, signature or signed URL may reach logs, manifests or pages,
// whether the run succeeds, fails on credentials, or meets faults.
func TestNoSecretsInLogsOrManifests(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "secsrc"), s3test.Bucket(t, "secdst")
	uploadNAIP(t, s3Store(t, srcLoc), 3, func(i int) string { return fmt.Sprintf("p/m_%d.tif", i) })
	secret, access := os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_ACCESS_KEY_ID")
	var out strings.Builder
	collect := func(r result) { out.WriteString(r.stdout + r.stderr) }
	args := []string{"run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc, "--log-format", "json", "--verbose"}
	collect(runBin(t, nil, args...))
	collect(runBin(t, []string{"AWS_SECRET_ACCESS_KEY=wrong-" + secret}, args...))
	var n int
	var mu sync.Mutex
	s3test.NewProxyWith(t, s3proxy.Options{Fault: func(r *http.Request) s3proxy.Fault {
		mu.Lock()
		defer mu.Unlock()
		if n++; n%2 == 0 && r.Method == http.MethodGet {
			return s3proxy.Fault{Status: 403, Code: "AccessDenied"}
		}
		return s3proxy.Fault{}
	}})
	collect(runBin(t, []string{"AWS_MAX_ATTEMPTS=1"}, append(args, "--max-failure-rate", "1")...))
	dst := s3Store(t, dstLoc)
	dst.List(context.Background(), layout.Dir, "", func(e storage.Entry) error {
		rc, err := dst.Get(context.Background(), e.Key)
		if err == nil {
			b := make([]byte, 1<<20)
			k, _ := rc.Read(b)
			out.Write(b[:k])
			rc.Close()
		}
		return nil
	})
	all := out.String()
	if len(all) < 1000 {
		t.Fatalf("only %d bytes of logs and manifests collected", len(all))
	}
	for _, s := range []string{secret, access, "X-Amz-Signature", "X-Amz-Credential", "AWS4-HMAC-SHA256", "Authorization", "x-amz-security-token"} {
		if s != "" && strings.Contains(strings.ToLower(all), strings.ToLower(s)) {
			t.Errorf("%q appears in logs or manifests", s)
		}
	}
}

// SIGTERM and SIGKILL at random points of a run of a few hundred objects:
// after a last run, every object is done exactly once in its manifest and
// every thumbnail opens with GDAL.
func TestInterruptedRunsLoseNothing(t *testing.T) {
	gdalinfo := testenv.Tool(t, "gdalinfo")
	dir := sampleFolder(t, 300)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "thumbs")
	args := []string{"run", "--source", src, "--dest", dst, "--concurrency", "2", "--log-format", "json"}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := map[string]int{}
	for i := 0; i < 6; i++ {
		cmd := exec.Command(jobBin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		sig := syscall.SIGTERM
		if i%2 == 1 {
			sig = syscall.SIGKILL
		}
		cmd.Process.Signal(sig)
		cmd.Wait()
		kills[sig.String()]++
	}
	r := runBin(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("last run exit %d:\n%s", r.code, r.stdout)
	}
	st, _ := storage.OpenLocal(dst, false)
	last, key, err := manifest.Last(context.Background(), st, layout.JobName(""))
	if err != nil || len(last) != 300 {
		t.Fatalf("last manifest %s lists %d objects: %v", key, len(last), err)
	}
	for k, rec := range last {
		if rec.Status != manifest.Created && rec.Status != manifest.Updated && rec.Status != manifest.Skipped {
			t.Fatalf("%s is %s in the last manifest", k, rec.Status)
		}
	}
	thumbs, _ := filepath.Glob(filepath.Join(dst, "al", "2013", "*", "*.thumb.jpg"))
	if len(thumbs) != 300 {
		t.Fatalf("%d thumbnails for 300 sources", len(thumbs))
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(thumbs))
	sem := make(chan struct{}, 4)
	for _, th := range thumbs {
		wg.Add(1)
		sem <- struct{}{}
		go func(th string) {
			defer wg.Done()
			defer func() { <-sem }()
			if out, err := exec.Command(gdalinfo, "-checksum", th).CombinedOutput(); err != nil || strings.Contains(string(out), "ERROR") {
				errs <- fmt.Sprintf("%s: %v %s", th, err, out)
			}
		}(th)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("corrupt thumbnail:", e)
	}
	t.Logf("%v interruptions, then 300 objects done, 300 thumbnails open with GDAL", kills)
}

// Render processes killed in the middle of a run (as a decoder crash would
// end them) cost nothing: each image they held is rendered again in a fresh
// process, and the run finishes with every object done.
func TestKilledRenderProcessesLoseNothing(t *testing.T) {
	dir := sampleFolder(t, 200)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "thumbs")
	cmd := exec.Command(jobBin, "run", "--source", src, "--dest", dst, "--concurrency", "2", "--log-format", "json")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed, written := 0, 0
	for deadline := time.Now().Add(20 * time.Second); killed < 3 && time.Now().Before(deadline); {
		// Kill once images are being written, not while the first process
		// starts, and each time after more were written since the last
		// kill: an image whose two render processes are killed is rightly
		// recorded crashed, which is not what this test is about.
		thumbs, _ := filepath.Glob(filepath.Join(dst, "al", "2013", "*", "*.thumb.jpg"))
		if kids := proctree.Children()[cmd.Process.Pid]; len(kids) > 0 && len(thumbs) > written+2 {
			// The oldest render process (lowest pid): never the one that
			// just replaced a killed one and may still be on its image.
			oldest := kids[0]
			for _, k := range kids {
				oldest = min(oldest, k)
			}
			syscall.Kill(oldest, syscall.SIGKILL)
			killed++
			written = len(thumbs)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := cmd.Wait()
	if err != nil || killed < 3 {
		t.Fatalf("run: %v after %d kills\n%s", err, killed, stdout.String())
	}
	var died int
	for _, line := range strings.Split(stdout.String(), "\n") {
		var ev struct {
			Msg  string `json:"msg"`
			Died int    `json:"died"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "render processes" {
			died = ev.Died
		}
	}
	if died != killed {
		t.Errorf("the job counted %d render processes dead, %d were killed", died, killed)
	}
	st, _ := storage.OpenLocal(dst, false)
	last, _, err := manifest.Last(context.Background(), st, layout.JobName(""))
	if err != nil || len(last) != 200 {
		t.Fatalf("last manifest lists %d objects: %v", len(last), err)
	}
	for k, rec := range last {
		if rec.Status != manifest.Created {
			t.Errorf("%s is %s (%s) after its render process was killed", k, rec.Status, rec.Error)
		}
	}
	t.Logf("%d render processes killed mid-run; 200 of 200 objects created", killed)
}
