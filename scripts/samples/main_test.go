package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/testenv"
)

// Both sources of pixels make the promised layout: 3 states x 2 years,
// 4-band GeoTIFFs, half striped and half COG with overviews.
func TestGenerateCollection(t *testing.T) {
	gdalinfo := testenv.Tool(t, "gdalinfo")
	testenv.Tool(t, "gdal_translate")
	for name, real := range map[string]string{"synthesised": t.TempDir(), "from real crops": ""} {
		t.Run(name, func(t *testing.T) {
			if real == "" {
				real = testenv.RealData(t)
			}
			out := t.TempDir()
			n, err := generate(out, real, 600, 750)
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(out, "*", "*", "1m", "*", "m_*.tif"))
			if n != 24 || len(files) != 24 {
				t.Fatalf("%d images reported, %d on disk", n, len(files))
			}
			states, years := map[string]bool{}, map[string]bool{}
			cogs := 0
			for _, f := range files {
				rel, _ := filepath.Rel(out, f)
				parts := strings.Split(rel, string(filepath.Separator))
				states[parts[0]], years[parts[1]] = true, true
				info, err := exec.Command(gdalinfo, f).CombinedOutput()
				if err != nil {
					t.Fatalf("gdalinfo %s: %v", rel, err)
				}
				if !strings.Contains(string(info), "Band 4 ") || strings.Contains(string(info), "Band 5 ") {
					t.Fatalf("%s is not 4-band", rel)
				}
				if strings.Contains(string(info), "LAYOUT=COG") {
					if !strings.Contains(string(info), "Overviews:") {
						t.Fatalf("%s is a COG without overviews", rel)
					}
					cogs++
				}
			}
			if len(states) != 3 || len(years) != 2 || cogs == 0 || cogs == len(files) {
				t.Fatalf("states %v, years %v, %d of %d COGs", states, years, cogs, len(files))
			}
			// A second call keeps what is there.
			if n, err := generate(out, real, 600, 750); err != nil || n != 24 {
				t.Fatalf("second call: %d, %v", n, err)
			}
		})
	}
}
