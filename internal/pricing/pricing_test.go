package pricing

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"quicklook/internal/storage"
)

func TestPriceAtListPrices(t *testing.T) {
	p := Default()
	// A thousand thumbnails of NAIP's striped layout read the sparse way:
	// 517 requests each (516 GETs and a PUT), 0.2 vCPU-seconds each.
	c := p.Price(storage.Requests{GET: 516_000, PUT: 1000}, 200, 1000)
	want := 516*0.0004 + 0.005 + 200*0.015/3600
	if math.Abs(c.Total-want) > 1e-12 || math.Abs(c.PerThousand-want) > 1e-12 {
		t.Fatalf("cost %+v, want %g", c, want)
	}
	if c.Requests < 40*c.Compute {
		t.Fatalf("requests %g should dwarf compute %g here", c.Requests, c.Compute)
	}
}

func TestLoadKeepsWhatTheFileLeavesOut(t *testing.T) {
	f := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(f, []byte(`{"get_per_1000": 0.00044, "vcpu_hour": 0.0425}`), 0o644)
	p, err := Load(f, Default())
	if err != nil || p.GET != 0.00044 || p.VCPUHour != 0.0425 || p.PUT != 0.005 {
		t.Fatalf("%+v, %v", p, err)
	}
	for _, bad := range []string{`{"get_per_1000": -1}`, `{"bandwidth_mbps": 0}`, `{"gets": 1}`, `{`} {
		os.WriteFile(f, []byte(bad), 0o644)
		if _, err := Load(f, Default()); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
