package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/planfile"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

func s3Store(t *testing.T, loc string) *storage.S3 {
	t.Helper()
	st, err := storage.OpenS3(context.Background(), loc, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// uploadNAIP puts n copies of the real NAIP crops under keys made by keyOf.
func uploadNAIP(t *testing.T, st storage.Store, n int, keyOf func(i int) string) []string {
	t.Helper()
	crops, _ := filepath.Glob(filepath.Join(testenv.RealData(t), "geotiff/naip/*.tif"))
	var data [][]byte
	for _, c := range crops {
		b, _ := os.ReadFile(c)
		data = append(data, b)
	}
	keys := make([]string, n)
	objects := map[string][]byte{}
	for i := range keys {
		keys[i] = keyOf(i)
		objects[keys[i]] = data[i%len(data)]
	}
	s3test.PutAll(t, st, objects)
	return keys
}

func manifestsOf(t *testing.T, dest storage.Store) map[string][]manifest.Record {
	t.Helper()
	out := map[string][]manifest.Record{}
	dest.List(context.Background(), layout.ManifestsDir, "", func(e storage.Entry) error {
		if !strings.HasSuffix(e.Key, ".jsonl") {
			return nil
		}
		rc, err := dest.Get(context.Background(), e.Key)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, _ := manifest.Parse(rc)
		rc.Close()
		out[e.Key] = recs
		return nil
	})
	return out
}

func TestS3RunRerunChangePrune(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "naip"), s3test.Bucket(t, "thumbs")+"/base/"
	src, dst := s3Store(t, srcLoc), s3Store(t, dstLoc)
	keys := uploadNAIP(t, src, 12, func(i int) string { return fmt.Sprintf("al/2013/1m/3008%d/m_30085%02d_ne_16_1.tif", i%2, i) })
	uploadNAIP(t, src, 1, func(int) string { return "al/2014/1m/1/other.tif" })
	args := []string{"run", "--source", srcLoc, "--prefix", "al/2013/", "--dest", dstLoc}

	r := runBin(t, nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "12 created") {
		t.Fatalf("first run exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	thumb, err := dst.Stat(context.Background(), naming.OutputKey("", keys[0], naming.DefaultProfile))
	if err != nil || thumb.ContentType != "image/jpeg" || thumb.Metadata["quicklook-source-key"] != keys[0] {
		t.Fatalf("thumbnail on S3: %+v, %v", thumb, err)
	}
	r = runBin(t, nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "12 up to date") {
		t.Fatalf("rerun exit %d:\n%s", r.code, r.stdout)
	}
	other, _ := src.Get(context.Background(), keys[1])
	var buf strings.Builder
	bufio.NewReader(other).WriteTo(&buf)
	other.Close()
	src.Put(context.Background(), keys[0], []byte(buf.String()), storage.PutOptions{})
	r = runBin(t, nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "1 updated, 11 up to date") {
		t.Fatalf("after a change exit %d:\n%s", r.code, r.stdout)
	}
	src.Delete(context.Background(), keys[2])
	r = runBin(t, nil, append(args, "--prune")...)
	if r.code != 0 || !strings.Contains(r.stdout, "1 pruned (11 images") {
		t.Fatalf("prune exit %d:\n%s", r.code, r.stdout)
	}
	if _, err := dst.Stat(context.Background(), naming.OutputKey("", keys[2], naming.DefaultProfile)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("pruned thumbnail: %v", err)
	}
	if _, err := dst.Stat(context.Background(), "al/2014/1m/1/other.thumb.jpg"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal("a key outside the prefix was rendered")
	}
}

// makeBigCOG writes a 6000x7500 4-band COG with overviews from a real crop.
func makeBigCOG(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.tif")
	cog := filepath.Join(dir, "m_naip_sized_cog.tif")
	testenv.RunTool(t, "gdal_translate", "-q", "-outsize", "6000", "7500", "-r", "bilinear", testenv.NAIPCrop(t), big)
	testenv.RunTool(t, "gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=512", big, cog)
	return cog
}

func TestS3NAIPSizedCOGReadsInOneRequest(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "cog"), s3test.Bucket(t, "cogthumbs")
	cog := makeBigCOG(t)
	b, _ := os.ReadFile(cog)
	src := s3Store(t, srcLoc)
	if err := src.Put(context.Background(), "big/m_naip_sized_cog.tif", b, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := s3test.NewProxy(t)
	r := runBin(t, nil, "run", "--source", srcLoc, "--prefix", "big/", "--dest", dstLoc, "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wire, gets := proxy.BytesServed("m_naip_sized_cog.tif")
	frac := float64(wire) / float64(len(b))
	t.Logf("COG %d bytes; %d bytes (%.2f%%) over the wire in %d GETs", len(b), wire, 100*frac, gets)
	// One GET: the first read of a header takes the 2 MiB after it, which
	// costs less waiting than a second request and holds the small overviews.
	if frac > 0.1 || wire > 2<<20 || gets != 1 {
		t.Fatalf("read %d of %d bytes (%.1f%%) on the wire in %d GETs", wire, len(b), 100*frac, gets)
	}
	recs := manifestsOf(t, s3Store(t, dstLoc))
	for _, rs := range recs {
		if rs[0].BytesRead != wire || rs[0].Level == nil || *rs[0].Level == 0 {
			t.Fatalf("manifest: bytes_read %d (wire %d), level %v", rs[0].BytesRead, wire, rs[0].Level)
		}
	}
}

func TestS3RequesterPaysOnEverySourceCall(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "payer"), s3test.Bucket(t, "payerthumbs")
	uploadNAIP(t, s3Store(t, srcLoc), 3, func(i int) string { return fmt.Sprintf("x/m_%d.tif", i) })
	proxy := s3test.NewProxy(t)
	r := runBin(t, nil, "run", "--source", srcLoc, "--prefix", "x/", "--dest", dstLoc, "--requester-pays")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	srcBucket := "/" + strings.TrimPrefix(srcLoc, "s3://")
	n := 0
	for _, req := range proxy.Requests() {
		if strings.HasPrefix(req.Path, srcBucket) {
			n++
			if req.Header.Get("X-Amz-Request-Payer") != "requester" {
				t.Errorf("source call %s %s without x-amz-request-payer", req.Method, req.Path)
			}
		}
	}
	if n < 4 {
		t.Fatalf("only %d source calls seen", n)
	}
}

func TestS3SIGTERMThenRerunListsEveryObjectOnceAsDone(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "stop"), s3test.Bucket(t, "stopthumbs")
	keys := uploadNAIP(t, s3Store(t, srcLoc), 300, func(i int) string { return fmt.Sprintf("p/q%d/m_%04d.tif", i%4, i) })
	proxy := s3test.NewProxy(t)
	args := []string{"run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc, "--concurrency", "1", "--log-format", "json"}
	cmd := exec.Command(jobBin, args...)
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dstBucket := "/" + strings.TrimPrefix(dstLoc, "s3://") + "/p/"
	deadline := time.Now().Add(60 * time.Second)
	for {
		puts := 0
		for _, r := range proxy.Requests() {
			if r.Method == http.MethodPut && strings.HasPrefix(r.Path, dstBucket) {
				puts++
			}
		}
		if puts >= 5 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no thumbnails written within 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 75 {
		t.Fatalf("after SIGTERM: %v", err)
	}
	r := runBin(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("second run exit %d", r.code)
	}
	all := manifestsOf(t, s3Store(t, dstLoc))
	if len(all) != 2 {
		t.Fatalf("%d manifests", len(all))
	}
	done := map[string]int{}
	for _, recs := range all {
		seen := map[string]bool{}
		for _, rec := range recs {
			if seen[rec.Key] {
				t.Fatalf("%s twice in one manifest", rec.Key)
			}
			seen[rec.Key] = true
			if rec.Status == manifest.Created || rec.Status == manifest.Updated {
				done[rec.Key]++
			}
		}
		if len(seen) != len(keys) {
			t.Fatalf("a manifest lists %d of %d objects", len(seen), len(keys))
		}
	}
	for _, k := range keys {
		if done[k] != 1 {
			t.Fatalf("%s done %d times across the runs", k, done[k])
		}
	}
}

func TestS3ArrayChildRendersExactlyItsShare(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "array"), s3test.Bucket(t, "arraythumbs")
	src := s3Store(t, srcLoc)
	al := uploadNAIP(t, src, 6, func(i int) string { return fmt.Sprintf("al/2013/m_%02d.tif", i) })
	ga := uploadNAIP(t, src, 6, func(i int) string { return fmt.Sprintf("ga/2013/m_%02d.tif", i) })
	p := planfile.Plan{Version: planfile.Version, RunID: "r1", Source: srcLoc, Dest: dstLoc, Shards: []planfile.Shard{
		{Ranges: []planfile.Range{{Prefix: "al/2013/"}}},
		{Ranges: []planfile.Range{{Prefix: "ga/2013/", Until: ga[2]}}},
		{Ranges: []planfile.Range{{Prefix: "ga/2013/", StartAfter: ga[2]}}},
	}}
	b, _ := json.Marshal(p)
	planLoc := srcLoc + "/_plans/r1.json"
	if err := storage.WriteFile(context.Background(), planLoc, b, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_BATCH_JOB_ID=job-123:1", "AWS_BATCH_JOB_ATTEMPT=1", "AWS_BATCH_JQ_NAME=thumbs-q", "AWS_BATCH_JOB_ARRAY_INDEX=1", "QUICKLOOK_PLAN=" + planLoc}
	r := runBin(t, env, "run")
	if r.code != 0 {
		t.Fatalf("array child exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	dst := s3Store(t, dstLoc)
	var got []string
	dst.List(context.Background(), "", "", func(e storage.Entry) error {
		if strings.HasSuffix(e.Key, ".thumb.jpg") {
			got = append(got, e.Key)
		}
		return nil
	})
	want := []string{}
	for _, k := range ga[:3] {
		want = append(want, naming.OutputKey("", k, naming.DefaultProfile))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("shard 1 wrote %v, want %v (not %v)", got, want, al[0])
	}
	// In Batch, every stdout line is JSON with the job's identity, and the
	// run ends with a CloudWatch metrics line.
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, line := range lines[:len(lines)-1] {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if m["batch_job_id"] != "job-123:1" || m["batch_attempt"] != "1" || m["batch_queue"] != "thumbs-q" {
			t.Fatalf("log line without the Batch identity: %q", line)
		}
	}
	var emf map[string]any
	json.Unmarshal([]byte(lines[len(lines)-1]), &emf)
	if emf["_aws"] == nil || emf["ThumbnailsCreated"] != float64(3) || emf["Queue"] != "thumbs-q" || emf["RenderProcessDeaths"] != float64(0) {
		t.Fatalf("metrics line %q", lines[len(lines)-1])
	}
	// A shard beyond the plan is a configuration error.
	r = runBin(t, []string{"AWS_BATCH_JOB_ARRAY_INDEX=3", "QUICKLOOK_PLAN=" + planLoc}, "run")
	if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "shard 3") {
		t.Fatalf("shard out of range: exit %d %s", r.code, r.stderr)
	}
}

func TestS3MoreThanAThousandObjectsWithSpacesAndUnicode(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "many"), s3test.Bucket(t, "manythumbs")
	tiny, err := os.ReadFile(filepath.Join(testenv.RealData(t), "geotiff/float/float_raster_with_nodata.tif"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1050
	objects := map[string][]byte{}
	for i := 0; i < n; i++ {
		objects[fmt.Sprintf("p/Zürich %d/img é %04d.tif", i%7, i)] = tiny
	}
	s3test.PutAll(t, s3Store(t, srcLoc), objects)
	r := runBin(t, nil, "run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc, "--log-format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("%d created", n)) {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	thumbs := 0
	s3Store(t, dstLoc).List(context.Background(), "p/", "", func(e storage.Entry) error {
		if strings.HasSuffix(e.Key, ".thumb.jpg") {
			if _, ok := objects[strings.TrimSuffix(e.Key, ".thumb.jpg")+".tif"]; !ok {
				t.Errorf("thumbnail %q has no source", e.Key)
			}
			thumbs++
		}
		return nil
	})
	if thumbs != n {
		t.Fatalf("%d thumbnails for %d sources", thumbs, n)
	}
	r = runBin(t, nil, "run", "--source", srcLoc, "--prefix", "p/", "--dest", dstLoc)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("%d up to date", n)) {
		t.Fatalf("rerun exit %d:\n%s", r.code, r.stdout)
	}
}

func TestS3ConfigurationErrorsExit2AndNameTheBucket(t *testing.T) {
	dstLoc := s3test.Bucket(t, "cfg")
	r := runBin(t, nil, "run", "--source", "s3://quicklook-missing-bucket", "--prefix", "x/", "--dest", dstLoc)
	if r.code != 2 || !strings.Contains(r.stderr, "quicklook-missing-bucket") || !strings.Contains(r.stderr, "list") {
		t.Fatalf("missing bucket: exit %d\n%s", r.code, r.stderr)
	}
	r = runBin(t, []string{"AWS_SECRET_ACCESS_KEY=not-the-secret"}, "run", "--source", dstLoc, "--dest", dstLoc)
	if r.code != 2 || !strings.Contains(r.stderr, strings.TrimPrefix(dstLoc, "s3://")) {
		t.Fatalf("bad credentials: exit %d\n%s", r.code, r.stderr)
	}
}
