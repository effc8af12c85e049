package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"quicklook/internal/testenv"
)

// chromium runs headless Chromium as a person's browser would, without
// reaching out to the network.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=15000", "--window-size=1280,2400"}
	out, err := exec.Command(bin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

// The demo's contact sheet in a real browser: every thumbnail loads, the
// failure is listed, and a screenshot is kept in test-artifacts/.
func TestContactSheetInChromium(t *testing.T) {
	browser := testenv.Tool(t, "chromium")
	real := testenv.RealData(t)
	samples := testenv.Build(t.TempDir(), "samples", "../scripts/samples")
	data, dst := filepath.Join(t.TempDir(), "data"), t.TempDir()
	if out, err := exec.Command(samples, "-out", data, "-real", real, "-width", "400", "-height", "500").CombinedOutput(); err != nil {
		t.Fatalf("samples: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(filepath.Join(real, "hostile/corrupt/its_jpeg_357B.jpg"))
	os.WriteFile(filepath.Join(data, "al/2013/1m/broken.jpg"), b, 0o644)
	r := runSubmit(t, "run", "--executor", "local", "--source", data, "--dest", dst, "--depth", "2", "--parallel", "2",
		"--job-bin", jobBin, "--log-dir", filepath.Join(dst, "logs"), "--job-env", "QUICKLOOK_MAX_FAILURE_RATE=0.5")
	if r.code != 0 {
		t.Fatalf("local run exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	page := "file://" + filepath.Join(dst, "_quicklook", "index.html")
	dom := string(chromium(t, browser, "--dump-dom", page))
	m := regexp.MustCompile(`<body data-images="(\d+)" data-broken="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's load check did not run:\n%.2000s", dom)
	}
	images, _ := strconv.Atoi(m[1])
	broken, _ := strconv.Atoi(m[2])
	if images != 24 || broken != 0 {
		t.Fatalf("%d thumbnails on the page, %d did not load (want 24 and 0)", images, broken)
	}
	for _, want := range []string{"all 24 thumbnails loaded", "broken.jpg", "corrupt", "1 failed", "tx/2015/"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(dom) {
			t.Errorf("page lacks %q", want)
		}
	}
	artifacts := filepath.Join(testenv.ModuleRoot(t), "test-artifacts")
	os.MkdirAll(artifacts, 0o755)
	shot := filepath.Join(artifacts, "contact-sheet.png")
	chromium(t, browser, "--screenshot="+shot, page)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}
