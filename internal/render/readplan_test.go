package render

import (
	"bytes"
	"strings"
	"testing"
)

// naipStrips are the byte ranges a nearest-neighbour read at twice a 256 px
// thumbnail needs from NAIP's original layout: 6000x7500, 4 bands, one row
// per strip, uncompressed (24,000-byte strips), 512 of 7,500 sampled.
func naipStrips() [][2]int64 {
	const strip, rows, sampled = 24_000, 7500, 512
	var out [][2]int64
	for j := 0; j < sampled; j++ {
		y := int64((float64(j) + 0.5) * rows / sampled)
		out = append(out, [2]int64{8192 + y*strip, 8192 + (y+1)*strip})
	}
	return out
}

func TestAutoPlanPicksByPrice(t *testing.T) {
	pol := DefaultReadPolicy()
	striped := planReads(naipStrips(), pol)
	if striped.name != PlanBulk || striped.requests > 16 {
		t.Fatalf("striped NAIP at list prices: %s", striped.why)
	}
	free := pol
	free.RequestUSD = 0
	if p := planReads(naipStrips(), free); p.name != PlanSparse || p.requests != 512 {
		t.Fatalf("striped NAIP with free requests: %s", p.why)
	}
	// A COG's thumbnail needs one overview tile: sparse at any price.
	tile := [][2]int64{{1_000_000, 1_428_000}}
	for _, price := range []float64{0, 4e-7, 1e-3} {
		p := pol
		p.RequestUSD = price
		if got := planReads(tile, p); got.name != PlanSparse || got.requests != 1 {
			t.Fatalf("COG at $%g a request: %s", price, got.why)
		}
	}
	for _, forced := range []string{PlanSparse, PlanBulk} {
		p := pol
		p.Plan = forced
		if got := planReads(naipStrips(), p); got.name != forced || !strings.Contains(got.why, "--read-plan "+forced) {
			t.Fatalf("--read-plan %s: %s", forced, got.why)
		}
	}
	t.Log(striped.why)
}

// A bulk plan streams the whole span in a few requests and keeps only the
// needed strips: the reads get the same bytes, the cache holds little.
func TestBulkPlanStreamsAndKeepsOnlyWhatIsNeeded(t *testing.T) {
	data := make([]byte, 8192+7500*24_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := &memSource{data: data}
	pol := DefaultReadPolicy()
	pol.Plan = PlanBulk
	c := newReadCache(src, 64<<10, 64<<20, 32, pol)
	var ranges [][2]int64
	var needed int64
	for _, r := range naipStrips() {
		ranges = append(ranges, [2]int64{r[0], r[1] - r[0]})
		needed += r[1] - r[0]
	}
	plan, err := c.Prefetch("k", ranges)
	if err != nil || plan.name != PlanBulk {
		t.Fatalf("%v %s", err, plan.why)
	}
	p := make([]byte, 24_000)
	for _, r := range ranges {
		if _, err := c.ReadAt("k", p, r[0]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("strip at %d differs", r[0])
		}
	}
	c.wait()
	if len(src.reads) != plan.requests || plan.requests > 16 {
		t.Fatalf("%d reads for a plan of %d requests", len(src.reads), plan.requests)
	}
	if held := c.heldBytes(); held > needed {
		t.Fatalf("the cache keeps %d bytes, the strips are %d", held, needed)
	}
}
