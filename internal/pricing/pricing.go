// Package pricing turns what a run used into dollars: storage requests by
// kind, and the vCPU-seconds a job holds whether it computes or waits on a
// read. In-region bytes are free, so they are not priced. Defaults are S3
// Standard and Spot list prices; a JSON file, flags or QUICKLOOK_PRICE_*
// variables set others (another region, storage class, on-demand capacity).
package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"quicklook/internal/storage"
)

// Prices in US dollars: per 1,000 requests of each kind, and per vCPU-hour.
// The read planner also needs the network's pace: a request's latency and a
// read's bandwidth, to price the vCPU-seconds a plan holds while it waits.
type Prices struct {
	GET      float64 `json:"get_per_1000"`
	HEAD     float64 `json:"head_per_1000"`
	PUT      float64 `json:"put_per_1000"`
	LIST     float64 `json:"list_per_1000"`
	DELETE   float64 `json:"delete_per_1000"`
	COPY     float64 `json:"copy_per_1000"`
	VCPUHour float64 `json:"vcpu_hour"`
	// LatencyMS is a request's time to first byte; BandwidthMBps what one
	// job's reads can draw in all (in-region S3 gives a single stream about
	// 90 MB/s; an instance's network share per vCPU is of that order).
	LatencyMS     float64 `json:"latency_ms"`
	BandwidthMBps float64 `json:"bandwidth_mbps"`
}

// Default is S3 Standard in us-east-1/us-west-2 (GET and HEAD $0.0004,
// PUT, COPY, POST and LIST $0.005 per 1,000; DELETE free) and a Spot vCPU at
// about $0.015 an hour.
func Default() Prices {
	return Prices{GET: 0.0004, HEAD: 0.0004, PUT: 0.005, LIST: 0.005, DELETE: 0, COPY: 0.005, VCPUHour: 0.015,
		LatencyMS: 30, BandwidthMBps: 100}
}

// Load reads a JSON prices file; fields it leaves out keep base's values.
func Load(path string, base Prices) (Prices, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return base, err
	}
	p := base
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return base, fmt.Errorf("prices file %s: %w", path, err)
	}
	return p, p.Check()
}

// Check refuses prices no provider charges: negative, NaN, or a network
// without pace.
func (p Prices) Check() error {
	for name, v := range map[string]float64{"get": p.GET, "head": p.HEAD, "put": p.PUT, "list": p.LIST, "delete": p.DELETE,
		"copy": p.COPY, "vcpu-hour": p.VCPUHour, "latency": p.LatencyMS} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("price %s %v: want a number at or above 0", name, v)
		}
	}
	if !(p.BandwidthMBps > 0) || math.IsInf(p.BandwidthMBps, 0) {
		return fmt.Errorf("bandwidth %v MB/s: want a positive number", p.BandwidthMBps)
	}
	return nil
}

// Requests is what the requests cost.
func (p Prices) Requests(r storage.Requests) float64 {
	return (float64(r.GET)*p.GET + float64(r.HEAD)*p.HEAD + float64(r.PUT)*p.PUT + float64(r.LIST)*p.LIST +
		float64(r.DELETE)*p.DELETE + float64(r.COPY)*p.COPY) / 1000
}

// VCPUSecond is the price of holding one vCPU for a second.
func (p Prices) VCPUSecond() float64 { return p.VCPUHour / 3600 }

// Cost is a priced account.
type Cost struct {
	Requests float64 `json:"requests"`
	Compute  float64 `json:"compute"`
	Total    float64 `json:"total"`
	// PerThousand is the total per 1,000 thumbnails written (0 when none was).
	PerThousand float64 `json:"per_1000_thumbnails,omitempty"`
}

// Price prices requests and vCPU-seconds held; thumbnails, when positive,
// gives the price per 1,000 of them.
func (p Prices) Price(r storage.Requests, vcpuSeconds float64, thumbnails int) Cost {
	c := Cost{Requests: p.Requests(r), Compute: vcpuSeconds * p.VCPUSecond()}
	c.Total = c.Requests + c.Compute
	if thumbnails > 0 {
		c.PerThousand = c.Total / float64(thumbnails) * 1000
	}
	return c
}
