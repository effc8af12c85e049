// Package testenv finds what tests need outside the module (the shared real
// imagery, GDAL's command-line tools) and decides what happens when it is
// missing: a skip on a developer's clone, a failure under CI=true, where a
// skipped test would be a hidden hole.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// InCI reports whether missing prerequisites must fail the run.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips or fails the test for a missing prerequisite.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing and CI=true: this test must run in CI", what)
	}
	t.Skipf("%s is missing; skipping (it is required when CI=true)", what)
}

// Shared is a path in the shared test data: $QUICKLOOK_SHARED, or the
// shared folder beside the checkout (as CI lays them out).
func Shared(t testing.TB, rel ...string) string {
	t.Helper()
	base := os.Getenv("QUICKLOOK_SHARED")
	if base == "" {
		base = filepath.Join(ModuleRoot(t), "..", "shared")
	}
	return filepath.Join(append([]string{base}, rel...)...)
}

// RealData returns the folder of real-world test imagery: $QUICKLOOK_TESTDATA,
// or testdata/real of the shared test data.
func RealData(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("QUICKLOOK_TESTDATA"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "manifest.json")); err == nil {
			return d
		}
	}
	d := Shared(t, "testdata", "real")
	if _, err := os.Stat(filepath.Join(d, "manifest.json")); err != nil {
		Missing(t, d+" (the real test imagery: the shared folder beside the checkout, or set QUICKLOOK_SHARED)")
	}
	return d
}

// ModuleRoot is the folder holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

// Tool returns the path of a command-line tool (gdal_translate, ...).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" (install with scripts/setup.sh)")
	}
	return p
}

// RunTool runs a command-line tool and fails the test, with its output, when
// it fails.
func RunTool(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(Tool(t, name), args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// NAIPCrop is a real 2022 NAIP crop of the test data (262x340, 4 bands,
// striped), the source tests scale up to NAIP's sizes and layouts.
func NAIPCrop(t testing.TB) string {
	return filepath.Join(RealData(t), "geotiff/naip/m_4112001_sw_10_060_20220716.tif")
}

// Build compiles the package at pkg (a path, e.g. "." or "../job") into dir
// and returns the binary's path; for TestMain, so it panics on failure.
func Build(dir, name, pkg string) string {
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		panic(fmt.Sprintf("building %s: %v\n%s", pkg, err, out))
	}
	return bin
}

// Result is how a command ended.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs bin with args and extra environment and returns its exit code
// and output.
func Run(t testing.TB, env []string, bin string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return Result{code, out.String(), errb.String()}
}

// RenderSeeds are small real images, good and hostile, that seed the
// renderer's fuzz targets; files missing from the shared data are left out.
func RenderSeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	for _, s := range []string{
		"geotiff/naip/m_3907864_sw_17_060_20210912_downsampled.tif",
		"geotiff/float/float_nan_3x2.tif",
		"geotiff/odd/rotated.tif",
		"cog/odd/cog_no_offset.tif",
		"hostile/corrupt/its_jpeg_357B.jpg",
		"hostile/png/its_png_width_zero.png",
		"hostile/bomb/goximage_tiff_0x0.tiff",
	} {
		if b, err := os.ReadFile(Shared(t, "testdata", "real", s)); err == nil && len(b) < 100_000 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// MRF writes a LERC MRF with overviews (header, index, data) of a real
// NAIP crop, upscaled to size, as dir/name.mrf; it returns the data file's size.
func MRF(t *testing.T, dir, name string, size int) int64 {
	t.Helper()
	crop := filepath.Join(RealData(t), "geotiff/naip/m_3008501_ne_16_1_20110815.tif")
	big := filepath.Join(t.TempDir(), "big.tif")
	mrf := filepath.Join(dir, name+".mrf")
	RunTool(t, "gdal_translate", "-q", "-outsize", strconv.Itoa(size), strconv.Itoa(size), "-r", "bilinear", crop, big)
	RunTool(t, "gdal_translate", "-q", "-of", "MRF", "-co", "COMPRESS=LERC", "-co", "BLOCKSIZE=512", big, mrf)
	RunTool(t, "gdaladdo", "-q", "-r", "average", mrf, "2", "4", "8", "16")
	os.Remove(mrf + ".aux.xml")
	st, err := os.Stat(filepath.Join(dir, name+".lrc"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
