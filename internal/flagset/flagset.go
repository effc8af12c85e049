// Package flagset holds the command-line flags both programs take, so that
// the job and the submitter spell, default and read them the same way.
package flagset

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"quicklook/internal/pricing"
)

func env(name string) []string { return []string{"QUICKLOOK_" + name} }

// Prices are the price model's flags: a JSON file, then one flag (and
// QUICKLOOK_PRICE_* variable) per price over it.
func Prices() []cli.Flag {
	d := pricing.Default()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "prices", EnvVars: env("PRICES"), Usage: "JSON file of prices (get_per_1000, put_per_1000, list_per_1000, head_per_1000, delete_per_1000, copy_per_1000, vcpu_hour, latency_ms, bandwidth_mbps); flags below override it", Category: "Prices"},
	}
	for _, pf := range priceFlags {
		flags = append(flags, &cli.Float64Flag{Name: pf.name, Aliases: pf.aliases, EnvVars: env(pf.env), Value: *pf.field(&d), Usage: pf.usage, Category: "Prices"})
	}
	return flags
}

// priceFlags are the flags of each price, in the order --help lists them.
var priceFlags = []struct {
	name, env, usage string
	field            func(*pricing.Prices) *float64
	aliases          []string
}{
	{"price-get", "PRICE_GET", "USD per 1,000 GET requests", func(p *pricing.Prices) *float64 { return &p.GET }, nil},
	{"price-head", "PRICE_HEAD", "USD per 1,000 HEAD requests", func(p *pricing.Prices) *float64 { return &p.HEAD }, nil},
	{"price-put", "PRICE_PUT", "USD per 1,000 PUT (and POST) requests", func(p *pricing.Prices) *float64 { return &p.PUT }, nil},
	{"price-list", "PRICE_LIST", "USD per 1,000 LIST requests", func(p *pricing.Prices) *float64 { return &p.LIST }, nil},
	{"price-delete", "PRICE_DELETE", "USD per 1,000 DELETE requests", func(p *pricing.Prices) *float64 { return &p.DELETE }, nil},
	{"price-copy", "PRICE_COPY", "USD per 1,000 COPY requests", func(p *pricing.Prices) *float64 { return &p.COPY }, nil},
	{"price-vcpu-hour", "PRICE_VCPU_HOUR", "USD per vCPU-hour (Spot; on-demand is about three times more)", func(p *pricing.Prices) *float64 { return &p.VCPUHour }, []string{"vcpu-hour-price"}},
	{"latency-ms", "LATENCY_MS", "a storage request's time to first byte, for pricing the time a read plan waits", func(p *pricing.Prices) *float64 { return &p.LatencyMS }, nil},
	{"bandwidth-mbps", "BANDWIDTH_MBPS", "MB/s one job's reads draw in all, for pricing the time a read plan waits", func(p *pricing.Prices) *float64 { return &p.BandwidthMBps }, nil},
}

// PricesFrom reads the price flags: defaults, then the file, then each flag
// set on the command line or in the environment.
func PricesFrom(c *cli.Context) (pricing.Prices, error) {
	p := pricing.Default()
	if f := c.String("prices"); f != "" {
		var err error
		if p, err = pricing.Load(f, p); err != nil {
			return p, fmt.Errorf("--prices: %w", err)
		}
	}
	for _, pf := range priceFlags {
		if c.IsSet(pf.name) {
			*pf.field(&p) = c.Float64(pf.name)
		}
	}
	return p, p.Check()
}

// VCPUs is the vCPUs flag: what the job holds, for pricing its wall time.
func VCPUs() cli.Flag {
	return &cli.Float64Flag{Name: "vcpus", EnvVars: env("VCPUS"), Value: DetectVCPUs(),
		Usage: "vCPUs this job holds, priced for its whole wall time (default: the container's CPU quota, else the CPUs)", Category: "Prices"}
}

// DetectVCPUs is the container's CPU quota (cgroup v2 cpu.max), else the
// machine's CPUs.
func DetectVCPUs() float64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/cpu.max"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[0] != "max" {
			quota, err1 := strconv.ParseFloat(f[0], 64)
			period, err2 := strconv.ParseFloat(f[1], 64)
			if err1 == nil && err2 == nil && period > 0 && quota > 0 {
				return quota / period
			}
		}
	}
	return float64(runtime.NumCPU())
}
