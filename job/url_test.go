package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

const base = "https://d111111abcdef8.cloudfront.net"

func TestURLForKeys(t *testing.T) {
	r := runBin(t, nil, "url", "--url-base", base+"/", "al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif", "my photos/IMG #1.JPG", "café/東京")
	want := base + "/al/2013/1m/30085/m_3008501_ne_16_1_20130928.thumb.jpg\n" +
		base + "/my%20photos/IMG%20%231.thumb.jpg\n" +
		base + "/caf%C3%A9/%E6%9D%B1%E4%BA%AC.thumb.jpg\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("exit %d:\n%s\nwant\n%s", r.code, r.stdout, want)
	}
	r = runBin(t, nil, "url", "--url-base", base, "--profile", "big:1024:webp", "a/b.tif")
	if strings.TrimSpace(r.stdout) != base+"/a/b.big.webp" {
		t.Fatalf("profile URL %q", r.stdout)
	}
	if r := runBin(t, nil, "url", "a.tif"); r.code != 2 {
		t.Fatalf("no --url-base: exit %d", r.code)
	}
}

func TestURLFilterEntries(t *testing.T) {
	dir := t.TempDir()
	single := filepath.Join(dir, "entry.json")
	os.WriteFile(single, []byte(`{
  "entry": {"fields": {"fs_key": "al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif", "format": "image/tiff", "bytes": 123456789012}},
  "job": {"id": 7}
}`), 0o644)
	r := runBin(t, []string{"QUICKLOOK_URL_BASE=" + base}, "url", "--json", single)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	fields := got["entry"].(map[string]any)["fields"].(map[string]any)
	if fields["image_url"] != base+"/al/2013/1m/30085/m_3008501_ne_16_1_20130928.thumb.jpg" || fields["format"] != "image/tiff" {
		t.Fatalf("fields %v", fields)
	}
	if !strings.Contains(r.stdout, "123456789012") {
		t.Fatal("a large number was not kept exactly")
	}
	// NDJSON on stdin: odd keys, a missing field (unchanged, with a warning), other field paths.
	ndjson := `{"entry":{"fields":{"fs_key":"x y/é #?.tif"}}}
{"entry":{"fields":{"name":"no key here"}}}
{"doc":{"path":"a/b.TIF"}}
`
	cmd := exec.Command(jobBin, "url", "--json", "--url-base", base)
	cmd.Stdin = strings.NewReader(ndjson)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"image_url":"`+base+`/x%20y/%C3%A9%20%23%3F.thumb.jpg"`) ||
		lines[1] != `{"entry":{"fields":{"name":"no key here"}}}` || strings.Contains(lines[2], "image_url") {
		t.Fatalf("ndjson output:\n%s", out)
	}
	cmd = exec.Command(jobBin, "url", "--json", "--url-base", base, "--key-field", "doc.path", "--url-field", "doc.thumb.url")
	cmd.Stdin = strings.NewReader(lines[2] + "\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ = cmd.Output()
	if strings.TrimSpace(string(out)) != `{"doc":{"path":"a/b.TIF","thumb":{"url":"`+base+`/a/b.thumb.jpg"}}}` {
		t.Fatalf("custom fields: %s", out)
	}
	// Broken JSON is an error, not silence.
	cmd = exec.Command(jobBin, "url", "--json", "--url-base", base)
	cmd.Stdin = strings.NewReader(`{"entry": `)
	if err := cmd.Run(); err == nil {
		t.Fatal("truncated JSON accepted")
	}
}

func TestURLCheckAgainstARealRunOnS3(t *testing.T) {
	srcLoc, dstLoc := s3test.Bucket(t, "idxsrc"), s3test.Bucket(t, "idxthumbs")
	keys := uploadNAIP(t, s3Store(t, srcLoc), 3, func(i int) string { return fmt.Sprintf("al/2013/m_%d.tif", i) })
	if r := runBin(t, nil, "run", "--source", srcLoc, "--prefix", "al/", "--dest", dstLoc); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	var in strings.Builder
	for _, k := range append(keys, "al/2013/never_rendered.tif") {
		fmt.Fprintf(&in, `{"entry":{"fields":{"fs_key":%q}}}`+"\n", k)
	}
	for _, mode := range []string{"manifest", "head"} {
		cmd := exec.Command(jobBin, "url", "--json", "--url-base", base, "--check", mode, "--dest", dstLoc)
		cmd.Stdin = strings.NewReader(in.String())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, stderr.String())
		}
		if n := strings.Count(string(out), "image_url"); n != 3 {
			t.Fatalf("--check %s pointed %d entries, want 3:\n%s", mode, n, out)
		}
		if !strings.Contains(stderr.String(), "3 pointed at thumbnails, 0 without a source key, 1 without a thumbnail yet") {
			t.Fatalf("--check %s counts: %s", mode, stderr.String())
		}
	}
	// Deleting a thumbnail: head notices at once.
	dst, _ := storage.OpenS3(context.Background(), dstLoc, storage.OpenOptions{})
	dst.Delete(context.Background(), "al/2013/m_0.thumb.jpg")
	r := runBin(t, nil, "url", "--url-base", base, "--check", "head", "--dest", dstLoc, keys[0], keys[1])
	if r.code != 1 || r.stdout != "\n"+base+"/al/2013/m_1.thumb.jpg\n" {
		t.Fatalf("head check on keys: exit %d %q", r.code, r.stdout)
	}

	// STAC Items of the same objects: only those with a thumbnail are pointed
	// (the manifests still vouch for the deleted one; a HEAD does not).
	var items strings.Builder
	for _, k := range append(keys, "al/2013/never_rendered.tif") {
		fmt.Fprintf(&items, `{"type":"Feature","stac_version":"1.0.0","id":%q,"geometry":null,"links":[],"properties":{"datetime":"2013-09-28T00:00:00Z"},`+
			`"assets":{"image":{"href":"%s/%s","type":"image/tiff; application=geotiff"}}}`+"\n", k, srcLoc, k)
	}
	for mode, pointed := range map[string]int{"manifest": 3, "head": 2} {
		cmd := exec.Command(jobBin, "url", "--stac", "--url-base", base, "--check", mode, "--dest", dstLoc)
		cmd.Stdin = strings.NewReader(items.String())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		want := fmt.Sprintf("4 items: %d pointed at thumbnails (0 thumbnail assets replaced), 0 without a source asset, %d without a thumbnail yet", pointed, 4-pointed)
		if err != nil || strings.Count(string(out), `"roles":["thumbnail"]`) != pointed || !strings.Contains(stderr.String(), want) {
			t.Fatalf("--stac --check %s: %v\n%s\n%s", mode, err, out, stderr.String())
		}
	}
}

func TestVoyagerStepDelegatesToTheJob(t *testing.T) {
	python := testenv.Tool(t, "python3")
	entry := filepath.Join(t.TempDir(), "entry.json")
	os.WriteFile(entry, []byte(`{"entry":{"fields":{"fs_key":"ga/2015/1m/30083/m_3008301_ne_17_1_20150928.tif"}}}`), 0o644)
	cmd := exec.Command(python, filepath.Join(testenv.ModuleRoot(t), "scripts/voyager/quicklook_thumbnail.py"), entry)
	cmd.Env = append(os.Environ(), "QUICKLOOK_JOB_BIN="+jobBin, "QUICKLOOK_URL_BASE="+base)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("voyager step: %v", err)
	}
	if !strings.Contains(string(out), `"image_url":"`+base+`/ga/2015/1m/30083/m_3008301_ne_17_1_20150928.thumb.jpg"`) {
		t.Fatalf("step output %s", out)
	}
	// A run with a profiles file: the step points at the output it is configured with.
	cmd = exec.Command(python, filepath.Join(testenv.ModuleRoot(t), "scripts/voyager/quicklook_thumbnail.py"), entry)
	cmd.Env = append(os.Environ(), "QUICKLOOK_JOB_BIN="+jobBin, "QUICKLOOK_URL_BASE="+base,
		"QUICKLOOK_PROFILES="+readmeProfiles, "QUICKLOOK_URL_OUTPUT=square")
	if out, err = cmd.Output(); err != nil || !strings.Contains(string(out), `/m_3008301_ne_17_1_20150928.square.webp"`) {
		t.Fatalf("voyager step with profiles: %v: %s", err, out)
	}
	cmd = exec.Command(python, filepath.Join(testenv.ModuleRoot(t), "scripts/voyager/quicklook_thumbnail.py"), entry)
	cmd.Env = append(os.Environ(), "QUICKLOOK_JOB_BIN="+jobBin) // no URL base
	if err := cmd.Run(); err == nil {
		t.Fatal("the step succeeded without a URL base")
	}
}
