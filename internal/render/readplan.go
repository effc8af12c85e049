package render

import (
	"fmt"
	"math"
	"time"

	"quicklook/internal/pricing"
)

// ReadPolicy decides how the bytes an image needs are fetched, by price:
// in-region bytes are free, requests are not, and the vCPU is billed while
// a read waits. A sparse plan fetches only the needed byte ranges (near
// neighbours joined), one request each; a bulk plan fetches the whole span
// from the first needed byte to the last in a few large streamed requests,
// keeping only the needed bytes as they stream past.
type ReadPolicy struct {
	Plan          string        // auto (the cheaper), sparse or bulk
	RequestUSD    float64       // one GET
	VCPUSecondUSD float64       // one vCPU held for a second
	Latency       time.Duration // a request's time to first byte
	BandwidthBps  float64       // bytes per second one job's reads draw in all
}

// Read plan names.
const (
	PlanAuto   = "auto"
	PlanSparse = "sparse"
	PlanBulk   = "bulk"
)

// PolicyFrom is the read plan (auto, sparse or bulk) priced at p: a GET,
// and a vCPU held for the time a read waits.
func PolicyFrom(plan string, p pricing.Prices) ReadPolicy {
	return ReadPolicy{Plan: plan, RequestUSD: p.GET / 1000, VCPUSecondUSD: p.VCPUSecond(),
		Latency: time.Duration(p.LatencyMS * float64(time.Millisecond)), BandwidthBps: p.BandwidthMBps * 1e6}
}

// DefaultReadPolicy prices requests and time at S3 and Spot list prices.
func DefaultReadPolicy() ReadPolicy { return PolicyFrom(PlanAuto, pricing.Default()) }

// breakEven is how many bytes of waiting one request costs as much as.
func (pol ReadPolicy) breakEven() float64 {
	return pol.RequestUSD / pol.VCPUSecondUSD * pol.BandwidthBps
}

// Sizes of the two plans' requests.
const (
	sparseGap     = 16 << 10 // join needed ranges this close: fewer requests for a few wasted bytes
	sparseChunk   = 2 << 20  // at most this much a request, many at once
	bulkMinChunk  = 4 << 20
	bulkMaxKept   = 16 << 20 // a bulk request keeps at most this much (memory), however long its span
	bulkStreams   = 4        // bulk requests under way at once
	keepPiece     = 1 << 20  // a read waits for kept bytes this much at a time, not a whole request
	sparseStreams = 32
)

// fetchChunk is one request: the byte range [r[0], r[1]) and, for a bulk
// request, the pieces of it to keep (nil: all of it).
type fetchChunk struct {
	r    [2]int64
	keep [][2]int64
}

// keptAfter is how many of the bytes the request keeps lie past off.
func (ch fetchChunk) keptAfter(off int64) int64 {
	keep := ch.keep
	if keep == nil {
		keep = [][2]int64{ch.r}
	}
	var n int64
	for _, k := range keep {
		if k[1] > off {
			n += k[1] - max(k[0], off)
		}
	}
	return n
}

// readPlan is a decided plan: its requests, and what it was chosen over.
type readPlan struct {
	name     string
	chunks   []fetchChunk
	requests int
	bytes    int64
	cost     float64
	why      string
}

// planReads decides how to fetch the needed [start, end) ranges of an object.
func planReads(needed [][2]int64, pol ReadPolicy) readPlan {
	sparse := sparsePlan(needed, pol)
	if len(needed) == 0 {
		return sparse
	}
	bulk := bulkPlan(needed, pol)
	chosen, other := sparse, bulk
	switch pol.Plan {
	case PlanBulk:
		chosen, other = bulk, sparse
	case PlanSparse:
	default:
		if bulk.cost < sparse.cost {
			chosen, other = bulk, sparse
		}
	}
	how := "cheaper"
	if pol.Plan == PlanBulk || pol.Plan == PlanSparse {
		how = "--read-plan " + pol.Plan
	}
	chosen.why = fmt.Sprintf("%s (%s): %d requests for %s, est. $%.7f; %s: %d requests for %s, est. $%.7f",
		chosen.name, how, chosen.requests, megabytes(chosen.bytes), chosen.cost, other.name, other.requests, megabytes(other.bytes), other.cost)
	return chosen
}

func sparsePlan(needed [][2]int64, pol ReadPolicy) readPlan {
	p := readPlan{name: PlanSparse}
	for _, r := range coalesce(append([][2]int64(nil), needed...), sparseGap) {
		for s := r[0]; s < r[1]; s += sparseChunk {
			p.chunks = append(p.chunks, fetchChunk{r: [2]int64{s, min(s+sparseChunk, r[1])}})
		}
		p.bytes += r[1] - r[0]
	}
	p.requests = len(p.chunks)
	p.cost = pol.estimate(p.requests, p.bytes, sparseStreams)
	return p
}

func bulkPlan(needed [][2]int64, pol ReadPolicy) readPlan {
	p := readPlan{name: PlanBulk}
	parts := coalesce(append([][2]int64(nil), needed...), 0)
	lo, hi := parts[0][0], parts[len(parts)-1][1]
	var kept int64
	for _, r := range parts {
		kept += r[1] - r[0]
	}
	// One request for a span up to bulkMaxKept; a longer one in
	// bulkStreams requests at once, each keeping at most bulkMaxKept: the
	// bytes streaming past are free, only the kept ones take memory (a
	// striped file keeps a fourteenth of its span: four requests; a tiled
	// one all of it: 16 MiB a request).
	chunk := hi - lo
	if chunk > bulkMaxKept {
		keptShare := float64(kept) / float64(hi-lo)
		chunk = max((hi-lo+bulkStreams-1)/bulkStreams, bulkMinChunk)
		chunk = min(chunk, int64(bulkMaxKept/keptShare))
	}
	for s := lo; s < hi; s += chunk {
		ch := fetchChunk{r: [2]int64{s, min(s+chunk, hi)}}
		for _, r := range parts {
			a, b := max(r[0], ch.r[0]), min(r[1], ch.r[1])
			for ; a < b; a += keepPiece {
				ch.keep = append(ch.keep, [2]int64{a, min(a+keepPiece, b)})
			}
		}
		if len(ch.keep) > 0 {
			p.chunks = append(p.chunks, ch)
		}
	}
	p.requests, p.bytes = len(p.chunks), hi-lo
	p.cost = pol.estimate(p.requests, p.bytes, bulkStreams)
	return p
}

// firstRead is how much the first read of an object fetches: where a
// request costs as much as many megabytes of waiting, a few megabytes more
// of the header's neighbourhood cost less than the request they spare (a
// COG puts its small overviews right after its header).
func (pol ReadPolicy) firstRead() int64 {
	if pol.Plan == PlanSparse || pol.VCPUSecondUSD <= 0 {
		return 0
	}
	return min(int64(pol.breakEven()/4), 2<<20)
}

// estimate prices a plan: its requests, and the vCPU held while it waits
// (a round of latency per wave of concurrent requests, then the bytes at
// the job's bandwidth).
func (pol ReadPolicy) estimate(requests int, bytes int64, streams int) float64 {
	waves := math.Ceil(float64(requests) / float64(max(1, min(streams, requests))))
	seconds := waves*pol.Latency.Seconds() + float64(bytes)/pol.BandwidthBps
	return float64(requests)*pol.RequestUSD + seconds*pol.VCPUSecondUSD
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
