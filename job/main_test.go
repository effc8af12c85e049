package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"quicklook/internal/testenv"
)

var jobBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quicklook-job-bin-")
	if err != nil {
		panic(err)
	}
	jobBin = testenv.Build(dir, "job", ".")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := testenv.Run(t, env, jobBin, args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

func sampleFolder(t *testing.T, n int) string {
	t.Helper()
	real := testenv.RealData(t)
	crops, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		b, _ := os.ReadFile(crops[i%len(crops)])
		p := filepath.Join(dir, "src", "al", "2013", fmt.Sprintf("q%d", i%3), fmt.Sprintf("m_%04d.tif", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	return dir
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	r := runBin(t, nil, "run", "--help")
	if r.code != 0 {
		t.Fatalf("help exit %d: %s", r.code, r.stderr)
	}
	for _, flag := range []string{"source", "prefix", "dest", "profile", "bands", "scale", "percentiles", "quality",
		"background", "max-pixels", "item-timeout", "concurrency", "max-failure-rate", "prune", "cache-control",
		"ext", "requester-pays", "drain-timeout", "log-format"} {
		env := "QUICKLOOK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
		if !strings.Contains(r.stdout, "--"+flag) || !strings.Contains(r.stdout, env) {
			t.Errorf("help does not explain --%s with $%s", flag, env)
		}
	}
	if r := runBin(t, nil, "--help"); !strings.Contains(r.stdout, "75") {
		t.Error("top-level help does not list the exit codes")
	}
}

func TestRunFromEnvironmentAndRerun(t *testing.T) {
	dir := sampleFolder(t, 12)
	env := []string{"QUICKLOOK_SOURCE=" + filepath.Join(dir, "src"), "QUICKLOOK_DEST=" + filepath.Join(dir, "thumbs"), "QUICKLOOK_PREFIX=al/2013/", "QUICKLOOK_LOG_FORMAT=json"}
	r := runBin(t, env, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "12 created") {
		t.Fatalf("first run exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, env, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "0 created, 0 updated, 12 up to date") || !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("rerun exit %d:\n%s", r.code, r.stdout)
	}
	// Logs are JSON lines with a final summary record.
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
	}
	if last["msg"] != "summary" || last["skipped"] != float64(12) {
		t.Fatalf("last log line: %v", last)
	}
	// Several profiles in one run, from the environment (comma-separated).
	r = runBin(t, append(env, "QUICKLOOK_PROFILE=thumb:256:jpeg,small:64:webp,big:512:png"), "run")
	if r.code != 0 || !strings.Contains(r.stdout, "12 updated") {
		t.Fatalf("profiles run exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, ext := range []string{".thumb.jpg", ".small.webp", ".big.png"} {
		if _, err := os.Stat(filepath.Join(dir, "thumbs", "al", "2013", "q0", "m_0000"+ext)); err != nil {
			t.Errorf("missing %s output: %v", ext, err)
		}
	}
}

func TestUsageAndConfigurationErrorsExit2(t *testing.T) {
	dir := sampleFolder(t, 1)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "thumbs")
	cases := map[string][]string{
		"missing --dest":       {"run", "--source", src},
		"unknown flag":         {"run", "--source", src, "--dest", dst, "--nope"},
		"bad profile":          {"run", "--source", src, "--dest", dst, "--profile", "thumb:0:jpeg"},
		"bad bands":            {"run", "--source", src, "--dest", dst, "--bands", "1,2"},
		"bad scale":            {"run", "--source", src, "--dest", dst, "--scale", "9,1"},
		"bad background":       {"run", "--source", src, "--dest", dst, "--background", "white"},
		"escaping prefix":      {"run", "--source", src, "--dest", dst, "--prefix", "../etc/"},
		"missing source":       {"run", "--source", filepath.Join(dir, "nope"), "--dest", dst},
		"unsupported scheme":   {"run", "--source", "gs://bucket", "--dest", dst},
		"bad failure rate":     {"run", "--source", src, "--dest", dst, "--max-failure-rate", "2"},
		"zero concurrency":     {"run", "--source", src, "--dest", dst, "--concurrency", "0"},
		"unknown log format":   {"run", "--source", src, "--dest", dst, "--log-format", "xml"},
		"unknown subcommand?":  {"walk"},
		"nothing under prefix": {"run", "--source", src, "--dest", dst, "--prefix", "al/2031/"},
		"unknown extension":    {"run", "--source", src, "--dest", dst, "--ext", "tif,nosuchformat"},
		"referencing format":   {"run", "--source", src, "--dest", dst, "--ext", "tif,vrt"},
	}
	for name, args := range cases {
		r := runBin(t, nil, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", name, r.code, r.stderr)
		}
	}
	if r := runBin(t, nil, "run", "--source", filepath.Join(dir, "nope"), "--dest", dst); !strings.Contains(r.stderr, "nope") {
		t.Errorf("a missing source does not name the folder: %s", r.stderr)
	}
}

func TestSIGTERMDrainsWritesManifestAndExits75(t *testing.T) {
	dir := sampleFolder(t, 600)
	args := []string{"run", "--source", filepath.Join(dir, "src"), "--dest", filepath.Join(dir, "thumbs"), "--concurrency", "1", "--log-format", "json"}
	cmd := exec.Command(jobBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the first thumbnail, then stop.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "thumbs", "al", "2013", "*", "*.jpg")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no thumbnail within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 75 {
		t.Fatalf("after SIGTERM: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Fatalf("took %s to stop", d)
	}
	if !strings.Contains(errb.String(), "stop requested") || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("stop not reported:\n%s\n%s", out.String(), errb.String())
	}
	manifests, _ := filepath.Glob(filepath.Join(dir, "thumbs", "_quicklook", "manifests", "*", "*.jsonl"))
	if len(manifests) != 1 {
		t.Fatalf("%d manifests after the stop", len(manifests))
	}
	r := runBin(t, nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "600 images") || strings.Contains(r.stdout, "failed:") {
		t.Fatalf("second run exit %d:\n%s", r.code, r.stdout)
	}
}

func TestRenderWorkerByHandSaysWhatItIs(t *testing.T) {
	r := runBin(t, nil, "render-worker")
	if r.code == 0 || !strings.Contains(r.stderr, "started by job run") {
		t.Fatalf("render-worker by hand: exit %d, %q", r.code, r.stderr)
	}
}
