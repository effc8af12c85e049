package planner

import (
	"fmt"
	"math"
	"strings"

	"quicklook/internal/manifest"
	"quicklook/internal/pricing"
	"quicklook/internal/storage"
)

// Sample is what rendering one image cost, from a calibration run or the
// manifests of an earlier run.
type Sample struct {
	Prefix      string // the run prefix it belongs to
	Layout      string // cog, tiled, striped, mrf, photo, other
	Size        int64
	Requests    storage.Requests
	CPUSeconds  float64
	WallSeconds float64
}

// SampleOf reads a rendered manifest record.
func SampleOf(prefix string, r manifest.Record) Sample {
	return Sample{Prefix: prefix, Layout: r.Layout, Size: r.Size, Requests: r.Requests, CPUSeconds: r.CPUSeconds,
		WallSeconds: float64(r.Millis) / 1000}
}

// Estimate is what a prefix, or a whole run, is predicted to cost.
type Estimate struct {
	Requests storage.Requests `json:"requests"`
	// CPUSeconds the renders use; VCPUHours the jobs hold (computing or
	// waiting on reads, with WorkersPerVCPU images in flight a vCPU).
	CPUSeconds float64      `json:"cpu_seconds"`
	VCPUHours  float64      `json:"vcpu_hours"`
	Cost       pricing.Cost `json:"cost_usd"`
	// Basis says what the prediction rests on: measured samples, or a guess.
	Basis string `json:"basis"`
}

// Add adds o to e (its basis is kept).
func (e *Estimate) Add(o Estimate) {
	e.Requests.Add(o.Requests)
	e.CPUSeconds += o.CPUSeconds
	e.VCPUHours += o.VCPUHours
	e.Cost.Requests += o.Cost.Requests
	e.Cost.Compute += o.Cost.Compute
	e.Cost.Total += o.Cost.Total
}

// WorkersPerVCPU is the job's default concurrency: four images in flight a
// vCPU, so a vCPU is held for at least a quarter of an image's wall time.
const WorkersPerVCPU = 4

// perByte layouts cost in proportion to their bytes (a bulk read of the whole
// span, a decode of every pixel); the others per image (a COG's overview
// tile, an MRF's).
func perByte(layout string) bool { return layout != "cog" && layout != "mrf" }

// Predict extrapolates samples to a counted prefix, by layout: the prefix's
// images are taken to be in the samples' mix (by count and by bytes), and
// each layout's requests and time scale with its images or its bytes.
// A job's own listings and writes are added. With no samples, the guess
// is secondsPerImage of one vCPU an image, two reads and a write of each
// of its outputs.
func Predict(s Sized, samples []Sample, prices pricing.Prices, secondsPerImage float64, outputs int, basis string) Estimate {
	var e Estimate
	if len(samples) == 0 {
		e.CPUSeconds = float64(s.Objects) * secondsPerImage
		e.VCPUHours = e.CPUSeconds / 3600
		outputs = max(outputs, 1)
		e.Requests = storage.Requests{GET: 2 * int64(s.Objects), PUT: int64(outputs) * int64(s.Objects)}
		e.Basis = fmt.Sprintf("a guess: %.2f vCPU-s and %d requests an image (calibrate for a measure)", secondsPerImage, 2+outputs)
	} else {
		type group struct {
			req              [6]float64 // GET, HEAD, PUT, LIST, DELETE, COPY
			cpu, held        float64
			byteWise         bool
			sampleN, sampleB float64
		}
		groups := map[string]*group{}
		var allN, allB float64
		for _, x := range samples {
			g := groups[x.Layout]
			if g == nil {
				g = &group{byteWise: perByte(x.Layout)}
				groups[x.Layout] = g
			}
			r := x.Requests
			for i, v := range []int64{r.GET, r.HEAD, r.PUT, r.LIST, r.DELETE, r.COPY} {
				g.req[i] += float64(v)
			}
			g.cpu += x.CPUSeconds
			g.held += math.Max(x.CPUSeconds, x.WallSeconds/WorkersPerVCPU)
			g.sampleN++
			g.sampleB += float64(x.Size)
			allN++
			allB += float64(x.Size)
		}
		var req [6]float64
		for _, g := range groups {
			// The prefix's share of this layout, by count and by bytes.
			count := float64(s.Objects) * g.sampleN / allN
			scale := count / g.sampleN
			if g.byteWise && g.sampleB > 0 && allB > 0 {
				scale = float64(s.Bytes) * (g.sampleB / allB) / g.sampleB
			}
			for i := range req {
				f := count / g.sampleN // writes and checks: per image
				if i == 0 {
					f = scale // reads: as the layout reads (a bulk read by its bytes)
				}
				req[i] += g.req[i] * f
			}
			e.CPUSeconds += g.cpu * scale
			e.VCPUHours += g.held * scale / 3600
		}
		round := func(v float64) int64 { return int64(math.Round(v)) }
		e.Requests = storage.Requests{GET: round(req[0]), HEAD: round(req[1]), PUT: round(req[2]), LIST: round(req[3]),
			DELETE: round(req[4]), COPY: round(req[5])}
		e.Basis = basis
	}
	// The job's own: listings of the source (a request per 1,000 keys), of
	// the destination and of its manifests; a read of its last manifest; its
	// contact-sheet page and digest, manifest and summary.
	e.Requests.LIST += int64((s.Objects+999)/1000) + 2
	e.Requests.GET++
	e.Requests.PUT += 4
	e.Cost = prices.Price(e.Requests, e.VCPUHours*3600, 0)
	return e
}

// Layouts describes the samples' mix, for the basis: "cog 3, striped 2".
func Layouts(samples []Sample) string {
	n := map[string]int{}
	var order []string
	for _, s := range samples {
		if n[s.Layout] == 0 {
			order = append(order, s.Layout)
		}
		n[s.Layout]++
	}
	var parts []string
	for _, l := range order {
		parts = append(parts, fmt.Sprintf("%s %d", l, n[l]))
	}
	return strings.Join(parts, ", ")
}
