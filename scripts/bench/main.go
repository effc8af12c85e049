// Command bench measures quicklook's job against the methods users run
// today, on the same files in one run, and writes BENCHMARKS.md and a chart.
//
//	go run ./scripts/bench            (make bench: also installs tools and starts the S3 server)
//
// Peers: (1) download the whole object, gdal_translate -outsize 270 270,
// upload, one image at a time (production today); (2) gdal_translate
// -outsize 256 0 -b 1 -b 2 -b 3 on /vsis3/ per image; (3) vipsthumbnail on
// local files; (4) bin/job, on 1 vCPU (taskset) and 2 vCPUs. S3 runs go
// through a proxy adding first-byte latency and a per-connection bandwidth
// cap, which also counts the bytes read.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	qllayout "quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/pricing"
	"quicklook/internal/s3proxy"
	"quicklook/internal/storage"
)

type layout struct {
	name, desc string
	dir        string   // the layout's folder (files, and replicas below it)
	reps       int      // each image appears this many times
	files      []string // local paths
	keys       []string // keys in the bench bucket
}

// run is one peer on one layout.
type run struct {
	peer, where, layout string
	images              int
	wall, cpu           time.Duration
	rssKB, pssKB        int64 // peaks of the sums over the run's processes
	bytesRead           int64 // -1: not measured
	needed              int64 // bytes of the resolution needed (+ headers)
	vcpus               int
	note                string
	// requests are the storage requests the run made, counted by the proxy
	// (S3 runs); uploads says whether the peer PUT its thumbnails, else a
	// PUT per thumbnail is priced in (every method must store its output).
	requests storage.Requests
	uploads  bool
	// objects are the job's requests its manifest attributes to the images
	// (reads, thumbnail writes): without its own listings and writes, which
	// a prefix of thousands of images spreads thin.
	objects *storage.Requests
}

func (r run) perSecond() float64 { return float64(r.images) / r.wall.Seconds() }

// requestsPerThumbnail counts the PUTs priced in.
func (r run) requestsPerThumbnail() float64 {
	n := r.requests.Total()
	if !r.uploads {
		n += int64(r.images)
	}
	return float64(n) / float64(r.images)
}

// costPerThousand is the dollars per 1,000 thumbnails at list prices: the
// requests (and a PUT per thumbnail for peers that write locally), and the
// vCPUs held for the run's wall time.
func (r run) costPerThousand() float64 {
	req := r.requests
	if !r.uploads {
		req.PUT += int64(r.images)
	}
	c := prices.Price(req, r.wall.Seconds()*float64(r.vcpus), r.images)
	return c.PerThousand
}

// objectsCostPerThousand is costPerThousand with only the objects' requests.
func (r run) objectsCostPerThousand() float64 {
	return prices.Price(*r.objects, r.wall.Seconds()*float64(r.vcpus), r.images).PerThousand
}

var prices = pricing.Default()

func main() {
	corpus := flag.String("corpus", ".tools/bench-corpus", "where the generated corpus is kept between runs")
	real := flag.String("real", "../shared/testdata/real", "real test imagery (NAIP crops, photos) to build the corpus from")
	perLayout := flag.Int("n", 6, "images per layout")
	latency := flag.Duration("latency", 30*time.Millisecond, "first-byte latency the proxy adds to every S3 request")
	bandwidth := flag.Int64("bandwidth", 100<<20, "per-connection bandwidth cap, bytes per second")
	out := flag.String("out", "BENCHMARKS.md", "report to write")
	jobBin := flag.String("job", "bin/job", "the job binary")
	only := flag.String("only", "", "comma-separated layouts to measure (default: all; the report then covers only these)")
	flag.Parse()
	if os.Getenv("AWS_ENDPOINT_URL_S3") == "" {
		log.Fatal("AWS_ENDPOINT_URL_S3 is not set: start the S3 server (make bench does)")
	}
	ctx := context.Background()
	pinned := pinServerSide()

	layouts := makeCorpus(*corpus, *real, *perLayout)
	if *only != "" {
		var keep []layout
		for _, l := range layouts {
			if slices.Contains(strings.Split(*only, ","), l.name) {
				keep = append(keep, l)
			}
		}
		layouts = keep
	}
	bucket := fmt.Sprintf("bench-%d", time.Now().Unix())
	upload(ctx, bucket, layouts)

	// The proxy: S3 as seen from EC2, roughly.
	p, err := s3proxy.New(os.Getenv("AWS_ENDPOINT_URL_S3"), s3proxy.Options{Latency: *latency, BytesPerSecond: *bandwidth})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, p)
	proxyURL := "http://" + ln.Addr().String()
	log.Printf("S3 through %s (+%s to first byte, %d MB/s per connection)", proxyURL, *latency, *bandwidth>>20)

	var runs []run
	tmp, _ := os.MkdirTemp("", "quicklook-bench-")
	defer os.RemoveAll(tmp)
	for _, l := range layouts {
		needed := neededBytes(l)
		measure := func(r run, cmd *exec.Cmd, viaProxy bool) {
			p.Reset()
			r.layout, r.images, r.needed = l.name, len(l.files), needed
			if viaProxy {
				cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL_S3="+proxyURL, "AWS_S3_ENDPOINT="+ln.Addr().String())
			}
			log.Printf("%s / %s / %s ...", l.name, r.peer, r.where)
			before := coreTimes()
			r.wall, r.cpu, r.rssKB, r.pssKB = timeCmd(cmd)
			log.Printf("  cores busy: %s", busySince(before))
			r.bytesRead = -1
			if viaProxy {
				r.bytesRead, _ = p.BytesServed("/" + bucket + "/")
				r.requests = countRequests(p.Requests())
			}
			log.Printf("  %.2f images/s, %.2f CPU-s each, peak memory %d MiB PSS (%d MiB RSS summed), %s read, %.1f requests each, $%.4f per 1,000",
				r.perSecond(), r.cpu.Seconds()/float64(r.images), r.pssKB>>10, r.rssKB>>10, mb(r.bytesRead), r.requestsPerThumbnail(), r.costPerThousand())
			runs = append(runs, r)
		}
		self, _ := os.Executable()
		keys := strings.Join(l.keys, ",")
		// One-vCPU peers run on core 0; with the server side pinned to core 1
		// they do not compete with it.
		one := func(args ...string) *exec.Cmd { return envCmd("taskset", append([]string{"-c", "0"}, args...)...) }
		measure(run{peer: "1 download + gdal_translate (production today)", where: "S3", vcpus: 1, uploads: true},
			one(self, "-worker", "peer1", "-bucket", bucket, "-keys", keys, "-tmp", tmp), true)
		measure(run{peer: "1b the same, ten parts at once (aws s3 cp)", where: "S3", vcpus: 1, uploads: true},
			one(self, "-worker", "peer1b", "-bucket", bucket, "-keys", keys, "-tmp", tmp), true)
		measure(run{peer: "2 gdal_translate /vsis3/", where: "S3", vcpus: 1, note: "thumbnail written locally"},
			one(self, "-worker", "peer2", "-bucket", bucket, "-keys", keys, "-tmp", tmp), true)
		for _, v := range []int{1, 2} {
			// As a job of a submitted run: its contact-sheet page only (the
			// submitter rebuilds the index once the run is over).
			args := []string{*jobBin, "run", "--source", "s3://" + bucket, "--prefix", l.name + "/", "--dest", "s3://" + bucket + "-out" + fmt.Sprint(v) + "/",
				"--log-format", "json", "--contact-sheet", "page", "--vcpus", fmt.Sprint(v)}
			if v == 1 {
				args = append([]string{"taskset", "-c", "0"}, args...)
			} else {
				args = append([]string{"taskset", "-c", "0,1"}, args...)
			}
			out := bucket + "-out" + fmt.Sprint(v)
			makeBucket(ctx, out)
			clearPrefix(ctx, out, l.name+"/")
			measure(run{peer: fmt.Sprintf("4 quicklook job, %d vCPU", v), where: "S3", vcpus: v, uploads: true}, envCmd(args[0], args[1:]...), true)
			objs := objectRequests(ctx, out)
			runs[len(runs)-1].objects = &objs
		}
		// Local disk.
		measure(run{peer: "1 gdal_translate -outsize 270 270", where: "disk", vcpus: 1},
			one(self, "-worker", "peer1-local", "-files", strings.Join(l.files, ","), "-tmp", tmp), false)
		measure(run{peer: "2 gdal_translate -outsize 256 0", where: "disk", vcpus: 1},
			one(self, "-worker", "peer2-local", "-files", strings.Join(l.files, ","), "-tmp", tmp), false)
		vips := append([]string{"vipsthumbnail", "--size", "256", "-o", filepath.Join(tmp, "%s.vips.jpg")}, l.files...)
		measure(run{peer: "3 vipsthumbnail", where: "disk", vcpus: 1, note: "one process for all files"}, one(vips...), false)
		for _, v := range []int{1, 2} {
			dst := filepath.Join(tmp, fmt.Sprintf("local-out-%d", v))
			os.RemoveAll(dst)
			args := []string{*jobBin, "run", "--source", l.dir, "--dest", dst, "--log-format", "json"}
			if v == 1 {
				args = append([]string{"taskset", "-c", "0"}, args...)
			} else {
				args = append([]string{"taskset", "-c", "0,1"}, args...)
			}
			measure(run{peer: fmt.Sprintf("4 quicklook job, %d vCPU", v), where: "disk", vcpus: v}, envCmd(args[0], args[1:]...), false)
		}
	}
	if err := report(*out, runs, layouts, *latency, *bandwidth, pinned); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s and %s", *out, chartPath(*out))
}

// pinServerSide moves the S3 server and this process (the proxy) to the
// last core, so that peers pinned to core 0 measure one whole vCPU.
func pinServerSide() bool {
	last := fmt.Sprint(runtime.NumCPU() - 1)
	if runtime.NumCPU() < 2 {
		return false
	}
	ok := exec.Command("taskset", "-a", "-p", "-c", last, fmt.Sprint(os.Getpid())).Run() == nil
	if out, err := exec.Command("pgrep", "-f", "versitygw").Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			ok = exec.Command("taskset", "-a", "-p", "-c", last, pid).Run() == nil && ok
		}
	} else {
		ok = false
	}
	return ok
}

// objectRequests adds up the requests the job's manifests attribute to objects.
func objectRequests(ctx context.Context, bucket string) storage.Requests {
	st, _ := storage.OpenS3(ctx, "s3://"+bucket, storage.OpenOptions{})
	var total storage.Requests
	st.List(ctx, qllayout.ManifestsDir, "", func(e storage.Entry) error {
		if !strings.HasSuffix(e.Key, ".jsonl") {
			return nil
		}
		rc, err := st.Get(ctx, e.Key)
		if err != nil {
			log.Fatal(err)
		}
		recs, _, _ := manifest.Parse(rc)
		rc.Close()
		for _, r := range recs {
			total.Add(r.Requests)
		}
		return nil
	})
	return total
}

// countRequests sorts what the proxy saw into the kinds S3 bills.
func countRequests(reqs []s3proxy.Request) storage.Requests {
	var out storage.Requests
	for _, r := range reqs {
		q, _ := url.ParseQuery(r.RawQuery)
		out.Add(storage.BilledAs(r.Method, q, r.Header))
	}
	return out
}

func envCmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = os.Environ()
	c.Stdout, c.Stderr = nil, os.Stderr
	return c
}

// timeCmd runs the command under /usr/bin/time and returns its wall time,
// CPU time (with its children) and the peaks of its processes' summed RSS
// and PSS. time, small, starts the command: a child started from this
// (large) process would inherit its high-water mark.
func timeCmd(c *exec.Cmd) (wall, cpu time.Duration, rssKB, pssKB int64) {
	stats, err := os.CreateTemp("", "bench-time-")
	if err != nil {
		log.Fatal(err)
	}
	stats.Close()
	defer os.Remove(stats.Name())
	c.Args = append([]string{"/usr/bin/time", "-f", "%e %U %S", "-o", stats.Name()}, c.Args...)
	c.Path = "/usr/bin/time"
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	c.Stdout, c.Stderr = devnull, devnull
	if err := c.Start(); err != nil {
		log.Fatalf("%s: %v", strings.Join(c.Args, " "), err)
	}
	stop := make(chan struct{})
	type peaks struct{ rss, pss int64 }
	sampled := make(chan peaks)
	go func() {
		r, p := peakMemory(c.Process.Pid, 100*time.Millisecond, stop)
		sampled <- peaks{r, p}
	}()
	err = c.Wait()
	close(stop)
	pk := <-sampled
	if err != nil {
		log.Fatalf("%s: %v", strings.Join(c.Args, " "), err)
	}
	b, _ := os.ReadFile(stats.Name())
	var w, user, sys float64
	if _, err := fmt.Sscanf(strings.TrimSpace(lastLine(string(b))), "%f %f %f", &w, &user, &sys); err != nil {
		log.Fatalf("reading %q: %v", b, err)
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	return sec(w), sec(user + sys), pk.rss, pk.pss
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func mb(b int64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}

func chartPath(out string) string { return strings.TrimSuffix(out, ".md") + "-chart.svg" }

func init() {
	// The peers run as children of this same binary: see worker.go.
	for i, a := range os.Args {
		if a == "-worker" && i+1 < len(os.Args) {
			os.Exit(worker(os.Args[i+1], os.Args[i+2:]))
		}
	}
}

func makeBucket(ctx context.Context, name string) {
	st, err := storage.OpenS3(ctx, "s3://"+name, storage.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := st.CreateBucket(ctx); err != nil {
		log.Fatal(err)
	}
}

func clearPrefix(ctx context.Context, bucket, prefix string) {
	st, _ := storage.OpenS3(ctx, "s3://"+bucket, storage.OpenOptions{})
	var keys []string
	st.List(ctx, "", "", func(e storage.Entry) error { keys = append(keys, e.Key); return nil })
	if len(keys) > 0 {
		st.Delete(ctx, keys...)
	}
}

func upload(ctx context.Context, bucket string, layouts []layout) {
	makeBucket(ctx, bucket)
	st, _ := storage.OpenS3(ctx, "s3://"+bucket, storage.OpenOptions{})
	for li := range layouts {
		l := &layouts[li]
		for _, f := range l.files {
			b, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			rel, _ := filepath.Rel(l.dir, f)
			key := l.name + "/" + filepath.ToSlash(rel)
			if err := st.Put(ctx, key, b, storage.PutOptions{}); err != nil {
				log.Fatal(err)
			}
			l.keys = append(l.keys, key)
		}
	}
	log.Printf("corpus uploaded to s3://%s", bucket)
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %d GiB RAM", kb>>20)
	}
	gdal, _ := exec.Command("gdalinfo", "--version").Output()
	vips, _ := exec.Command("vipsthumbnail", "--vips-version").Output()
	return fmt.Sprintf("%d vCPUs (%s)%s, %s; %s; Go %s", runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(gdal)),
		strings.TrimSpace(strings.SplitN(string(vips), "\n", 2)[0]), runtime.Version())
}
