package planner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quicklook/internal/planner"
	"quicklook/internal/pricing"
	"quicklook/internal/s3test"
	"quicklook/internal/sources"
	"quicklook/internal/storage"
)

var tifs = sources.Filter{Extensions: []string{"tif"}}

// tree writes keys (with sizes) into a fresh local folder store.
func tree(t *testing.T, keys map[string]int64) *storage.Local {
	t.Helper()
	root := t.TempDir()
	for k, size := range keys {
		p := filepath.Join(root, k)
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(size) // sparse: logical size without the disk
		f.Close()
	}
	st, _ := storage.OpenLocal(root, false)
	return st
}

func naipLike() map[string]int64 {
	return map[string]int64{
		"al/2013/1m/30085/a.tif": 100, "al/2013/1m/30086/b.tif": 100, "al/2015/1m/30085/c.tif": 100,
		"ga/2013/1m/30083/d.tif": 100, "tx/2016/60cm/29097/e.tif": 100, "tx/2016/60cm/29097/e.txt": 5,
		".misc/2013/x.tif": 1, "_quicklook/runs/x.tif": 1, "al/.hidden/1m/z.tif": 1, "readme.txt": 1,
	}
}

func enumerate(t *testing.T, st storage.Store, o planner.EnumerateOptions) []string {
	t.Helper()
	got, err := planner.Enumerate(context.Background(), st, o)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testDepthsAndGlobs(t *testing.T, st storage.Store) {
	cases := []struct {
		o    planner.EnumerateOptions
		want string
	}{
		{planner.EnumerateOptions{Depth: 1}, "al/,ga/,tx/"},
		{planner.EnumerateOptions{Depth: 2}, "al/2013/,al/2015/,ga/2013/,tx/2016/"},
		{planner.EnumerateOptions{Depth: 3}, "al/2013/1m/,al/2015/1m/,ga/2013/1m/,tx/2016/60cm/"},
		{planner.EnumerateOptions{Depth: 2, Include: []string{"al/*", "tx/*"}}, "al/2013/,al/2015/,tx/2016/"},
		{planner.EnumerateOptions{Depth: 2, Exclude: []string{"*/2013"}}, "al/2015/,tx/2016/"},
		{planner.EnumerateOptions{Depth: 1, Root: "al/"}, "al/2013/,al/2015/"},
	}
	for _, c := range cases {
		if got := strings.Join(enumerate(t, st, c.o), ","); got != c.want {
			t.Errorf("%+v: %s, want %s", c.o, got, c.want)
		}
	}
	if _, err := planner.Enumerate(context.Background(), st, planner.EnumerateOptions{Depth: 1, Include: []string{"["}}); err == nil {
		t.Error("a malformed glob was accepted")
	}
}

func TestEnumerateLocal(t *testing.T) { testDepthsAndGlobs(t, tree(t, naipLike())) }

func TestEnumerateS3(t *testing.T) {
	st, err := storage.OpenS3(context.Background(), s3test.Bucket(t, "enum"), storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{}
	for k, n := range naipLike() {
		objs[k] = make([]byte, n)
	}
	s3test.PutAll(t, st, objs)
	testDepthsAndGlobs(t, st)
}

func TestEnumerateS3PastAThousandPrefixesWithRequesterPays(t *testing.T) {
	loc := s3test.Bucket(t, "manyprefixes")
	st, _ := storage.OpenS3(context.Background(), loc, storage.OpenOptions{})
	objs := map[string][]byte{}
	for i := 0; i < 1100; i++ {
		objs[fmt.Sprintf("s/%04d/x.tif", i)] = []byte("x")
	}
	s3test.PutAll(t, st, objs)
	proxy := s3test.NewProxy(t)
	payer, _ := storage.OpenS3(context.Background(), loc, storage.OpenOptions{RequesterPays: true})
	got := enumerate(t, payer, planner.EnumerateOptions{Depth: 2})
	if len(got) != 1100 {
		t.Fatalf("%d prefixes, want 1100", len(got))
	}
	pages := 0
	for _, r := range proxy.Requests() {
		if r.Header.Get("X-Amz-Request-Payer") != "requester" {
			t.Fatalf("listing without x-amz-request-payer: %s?%s", r.Path, r.RawQuery)
		}
		if strings.Contains(r.RawQuery, "continuation-token") {
			pages++
		}
	}
	if pages == 0 {
		t.Fatal("no continuation page was requested: pagination untested")
	}
	counted, err := planner.Count(context.Background(), payer, got[:5], tifs, 4)
	if err != nil || len(counted) != 5 || counted[0].Objects != 1 || counted[0].Bytes != 1 {
		t.Fatalf("count: %+v, %v", counted, err)
	}
}

func TestPackByCostCoversEveryKeyOnceAndBalancesChildren(t *testing.T) {
	const mb = 1 << 20
	keys := map[string]int64{}
	// One state/year the size of NAIP's largest: 17,000 files of 180 MB.
	for i := 0; i < 17000; i++ {
		keys[fmt.Sprintf("tx/2016/q%03d/m_%05d.tif", i%300, i)] = 180 * mb
	}
	for i := 0; i < 40; i++ {
		keys[fmt.Sprintf("s%02d/2015/m_0.tif", i)] = int64(1+i%7) * 1000 * mb
	}
	st := tree(t, keys)
	ctx := context.Background()
	cfg := planner.Config{Filter: tifs, Prices: pricing.Default(), SecondsPerImage: 1}
	prefixes := enumerate(t, st, planner.EnumerateOptions{Depth: 2})
	sized, err := planner.Count(ctx, st, prefixes, tifs, 8)
	if err != nil {
		t.Fatal(err)
	}
	inv := &planner.Inventory{Prefixes: sized, Counted: true}
	for _, s := range sized {
		inv.Objects += s.Objects
		inv.Bytes += s.Bytes
	}
	// Striped NAIP measured: 2.4 vCPU-s an image of 180 MB.
	samples := map[string][]planner.Sample{"": {{Layout: "striped", Size: 180 * mb, CPUSeconds: 0.3, WallSeconds: 9.6, Requests: storage.Requests{GET: 6, PUT: 1}}}}
	planner.EstimateAll(inv, samples, cfg.Prices, cfg.SecondsPerImage, 1, "test")
	pack := func() *planner.Packing {
		p, err := planner.PackByCost(ctx, inv, st, cfg, 20, 1, 256)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := pack()
	objects := 0
	seen := map[string]int{}
	for _, sh := range p.Shards {
		objects += sh.Objects
		for k := range keys {
			for _, r := range sh.Ranges {
				if r.Contains(k) {
					seen[k]++
				}
			}
		}
	}
	if objects != len(keys) {
		t.Fatalf("shards hold %d objects, the bucket %d", objects, len(keys))
	}
	for k := range keys {
		if seen[k] != 1 {
			t.Fatalf("%s is in %d shards", k, seen[k])
		}
	}
	if float64(p.Longest) > 1.5*float64(p.Median) || p.Longest > 30*time.Minute {
		t.Fatalf("children: median %s, longest %s (target 20m)", p.Median, p.Longest)
	}
	if again := pack(); fmt.Sprint(again.Shards) != fmt.Sprint(p.Shards) {
		t.Fatal("packing is not deterministic")
	}
	t.Logf("%d prefixes -> %d children, median %s, longest %s, makespan at 256 vCPUs %s", len(sized), len(p.Shards), p.Median, p.Longest, p.Makespan)
}

// An MRF is one image, as large as its parts: its 1 KB header says nothing
// of the gigabytes a child will read.
func TestCountSizesAnMRFByItsParts(t *testing.T) {
	st := tree(t, map[string]int64{
		"al/2013/m_1.mrf": 1000, "al/2013/m_1.idx": 2000, "al/2013/m_1.lrc": 300 << 20,
		"al/2013/m_2.tif": 100 << 20, "al/2013/m_2.tif.ovr": 10 << 20, "al/2013/readme.txt": 10,
	})
	filter, _ := sources.New("", nil)
	got, err := planner.Count(context.Background(), st, []string{"al/2013/"}, filter, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1000 + 2000 + 300<<20 + 100<<20 + 10<<20); got[0].Objects != 2 || got[0].Bytes != want {
		t.Fatalf("counted %d images, %d bytes; want 2 and %d", got[0].Objects, got[0].Bytes, want)
	}
	pieces, err := planner.Split(context.Background(), st, "al/2013/", 200<<20, filter)
	if err != nil || len(pieces) != 2 || pieces[0].Bytes != 1000+2000+300<<20 || pieces[0].Objects != 1 {
		t.Fatalf("split by parts: %+v, %v", pieces, err)
	}
}
