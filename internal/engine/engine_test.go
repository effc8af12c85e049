package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/render"
	"quicklook/internal/runspec"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

func TestMain(m *testing.M) {
	if err := render.Init(render.Config{}); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// collection copies real NAIP crops into a NAIP-like layout under a temp folder.
func collection(t *testing.T) (src, dst *storage.Local, keys []string) {
	t.Helper()
	real := testenv.RealData(t)
	naip, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	if len(naip) < 4 {
		t.Fatalf("only %d NAIP crops", len(naip))
	}
	root := t.TempDir()
	for i, f := range naip {
		key := fmt.Sprintf("al/2013/1m/3008%d/%s", i%2, filepath.Base(f))
		copyFile(t, f, filepath.Join(root, "src", key))
		keys = append(keys, key)
	}
	// Something that is not an image, and another year that must not be touched.
	os.WriteFile(filepath.Join(root, "src", "al/2013/manifest.txt"), []byte("x"), 0o644)
	copyFile(t, naip[0], filepath.Join(root, "src", "al/2014/1m/1/other.tif"))
	src, _ = storage.OpenLocal(filepath.Join(root, "src"), false)
	dst, _ = storage.OpenLocal(filepath.Join(root, "dst"), true)
	return src, dst, keys
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runJob(t *testing.T, cfg Config) *Result {
	t.Helper()
	return runJobCtx(t, context.Background(), cfg)
}

func runJobCtx(t *testing.T, ctx context.Context, cfg Config) *Result {
	t.Helper()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	s := res.Summary
	if s.Created+s.Updated+s.Skipped+s.Failed != s.Sources {
		t.Fatalf("counts do not add up: %+v", s)
	}
	recs := readManifest(t, cfg.Dest, s.Manifest)
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Status == manifest.Pruned {
			continue
		}
		if seen[r.Key] {
			t.Fatalf("%s appears twice in the manifest", r.Key)
		}
		seen[r.Key] = true
	}
	if len(seen) != s.Sources {
		t.Fatalf("manifest lists %d sources, summary says %d", len(seen), s.Sources)
	}
	return res
}

func readManifest(t *testing.T, st storage.Store, key string) []manifest.Record {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	recs, bad, err := manifest.Parse(rc)
	if err != nil || bad != 0 {
		t.Fatalf("manifest: %v, %d bad lines", err, bad)
	}
	return recs
}

func byKey(recs []manifest.Record) map[string]manifest.Record {
	m := map[string]manifest.Record{}
	for _, r := range recs {
		m[r.Key] = r
	}
	return m
}

func TestRunRerunChangePrune(t *testing.T) {
	src, dst, keys := collection(t)
	cfg := Config{Source: src, Dest: dst, Prefix: "al/2013/", Concurrency: 2}

	res := runJob(t, cfg)
	if s := res.Summary; s.Created != len(keys) || s.Failed != 0 || s.Ignored != 1 || res.ExitCode != runspec.ExitOK {
		t.Fatalf("first run: %+v exit %d", s, res.ExitCode)
	}
	for _, k := range keys {
		out := naming.OutputKey("", k, naming.DefaultProfile)
		st, err := dst.Stat(context.Background(), out)
		if err != nil {
			t.Fatalf("thumbnail %s: %v", out, err)
		}
		if st.ContentType != "image/jpeg" || st.Metadata[MetaSourceKey] != k || st.Metadata[MetaSourceETag] == "" {
			t.Fatalf("thumbnail attributes: %+v", st)
		}
	}
	if _, err := dst.Stat(context.Background(), "al/2014/1m/1/other.thumb.jpg"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal("a key outside the prefix was rendered")
	}
	recs := byKey(readManifest(t, dst, res.Summary.Manifest))
	for _, k := range keys {
		r := recs[k]
		if r.Status != manifest.Created || r.BytesRead == 0 || r.Level == nil || len(r.Outputs) != 1 || r.Outputs[0].Width == 0 {
			t.Fatalf("record %+v", r)
		}
	}

	// A rerun renders nothing.
	res = runJob(t, cfg)
	if s := res.Summary; s.Skipped != len(keys) || s.Created+s.Updated != 0 || s.BytesRead != 0 {
		t.Fatalf("rerun: %+v", s)
	}

	// One changed source is re-rendered, and only it.
	changed := keys[0]
	other, _ := os.ReadFile(filepath.Join(src.Root(), keys[1]))
	os.WriteFile(filepath.Join(src.Root(), changed), other, 0o644)
	res = runJob(t, cfg)
	if s := res.Summary; s.Updated != 1 || s.Skipped != len(keys)-1 {
		t.Fatalf("after one change: %+v", s)
	}
	if r := byKey(readManifest(t, dst, res.Summary.Manifest))[changed]; r.Status != manifest.Updated {
		t.Fatalf("changed source recorded as %s", r.Status)
	}

	// A deleted source's thumbnail goes with --prune, and only with it.
	gone := keys[2]
	os.Remove(filepath.Join(src.Root(), gone))
	res = runJob(t, cfg)
	goneThumb := naming.OutputKey("", gone, naming.DefaultProfile)
	if _, err := dst.Stat(context.Background(), goneThumb); err != nil {
		t.Fatal("thumbnail removed without --prune")
	}
	cfg.Prune = true
	res = runJob(t, cfg)
	if res.Summary.Pruned != 1 || res.Summary.Sources != len(keys)-1 {
		t.Fatalf("prune: %+v", res.Summary)
	}
	if _, err := dst.Stat(context.Background(), goneThumb); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("pruned thumbnail still there: %v", err)
	}
	if r := byKey(readManifest(t, dst, res.Summary.Manifest))[gone]; r.Status != manifest.Pruned || len(r.Outputs) != 1 {
		t.Fatalf("prune record %+v", r)
	}
}

func TestLostManifestFallsBackToThumbnailMetadata(t *testing.T) {
	src, dst, keys := collection(t)
	cfg := Config{Source: src, Dest: dst, Prefix: "al/2013/", Concurrency: 2}
	runJob(t, cfg)
	os.RemoveAll(filepath.Join(dst.Root(), "_quicklook"))
	res := runJob(t, cfg)
	if s := res.Summary; s.Skipped != len(keys) {
		t.Fatalf("without a manifest: %+v", s)
	}
	// Other settings make every thumbnail outdated.
	cfg.Render.Quality = 60
	res = runJob(t, cfg)
	if s := res.Summary; s.Updated != len(keys) {
		t.Fatalf("after a settings change: %+v", s)
	}
}

func TestHostileFilesAreRecordedAndTheRunGoesOn(t *testing.T) {
	real := testenv.RealData(t)
	root := t.TempDir()
	n := 0
	filepath.WalkDir(filepath.Join(real, "hostile"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(real, p)
			copyFile(t, p, filepath.Join(root, "src", rel))
			n++
		}
		return nil
	})
	os.WriteFile(filepath.Join(root, "src", "hostile", "empty.tif"), nil, 0o644)
	n++
	naip, _ := filepath.Glob(filepath.Join(real, "geotiff/naip/*.tif"))
	copyFile(t, naip[0], filepath.Join(root, "src", "hostile", "fine.tif"))
	n++
	src, _ := storage.OpenLocal(filepath.Join(root, "src"), false)
	dst, _ := storage.OpenLocal(filepath.Join(root, "dst"), true)
	cfg := Config{Source: src, Dest: dst, Prefix: "hostile/", Concurrency: 2, ItemTimeout: 30 * time.Second}
	res := runJob(t, cfg)
	s := res.Summary
	if s.Sources != n {
		t.Fatalf("%d sources, %d files", s.Sources, n)
	}
	if s.Failed < n/2 || s.Created < 2 {
		t.Fatalf("hostile run: %+v", s)
	}
	if res.ExitCode != runspec.ExitData {
		t.Fatalf("exit %d with %d of %d broken, want %d", res.ExitCode, s.Failed, s.Sources, runspec.ExitData)
	}
	recs := byKey(readManifest(t, dst, s.Manifest))
	if r := recs["hostile/empty.tif"]; r.ErrorClass != render.ClassEmpty {
		t.Fatalf("zero-byte object: %+v", r)
	}
	if r := recs["hostile/fine.tif"]; r.Status != manifest.Created {
		t.Fatalf("the good file among hostile ones: %+v", r)
	}
	for _, r := range recs {
		if r.Status == manifest.Failed && (r.ErrorClass == "" || r.Error == "") {
			t.Fatalf("failure without class or message: %+v", r)
		}
	}
	// A tolerant failure rate makes the same run a success; known failures
	// are carried forward, not decoded again.
	cfg.MaxFailureRate = 1
	res = runJob(t, cfg)
	if res.ExitCode != runspec.ExitOK || res.Summary.Failed != s.Failed || res.Summary.BytesRead != 0 {
		t.Fatalf("rerun: exit %d, %+v", res.ExitCode, res.Summary)
	}
}

// faultStore wraps a store to slow down or fail source reads.
type faultStore struct {
	storage.Store
	delay   time.Duration
	failOn  string // keys containing this fail to read
	reads   atomic.Int64
	started chan struct{}
}

func (f *faultStore) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	if f.reads.Add(1) == 1 && f.started != nil {
		close(f.started)
	}
	if f.failOn != "" && strings.Contains(key, f.failOn) {
		return 0, &storage.OpError{Op: "read", Key: key, Kind: storage.ErrTransient, Err: errors.New("connection reset by peer")}
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return f.Store.ReadAt(ctx, key, p, off)
}

func TestStopWritesManifestAndRerunFinishes(t *testing.T) {
	src, dst, keys := collection(t)
	// More items than workers, each slow: the stop lands mid-run.
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("al/2013/extra/e%02d.tif", i)
		b, _ := os.ReadFile(filepath.Join(src.Root(), keys[i%len(keys)]))
		os.MkdirAll(filepath.Join(src.Root(), "al/2013/extra"), 0o755)
		os.WriteFile(filepath.Join(src.Root(), k), b, 0o644)
		keys = append(keys, k)
	}
	slow := &faultStore{Store: src, delay: 30 * time.Millisecond, started: make(chan struct{})}
	cfg := Config{Source: slow, Dest: dst, Prefix: "al/2013/", Concurrency: 2, DrainTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-slow.started
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	res := runJobCtx(t, ctx, cfg)
	s := res.Summary
	if res.ExitCode != runspec.ExitTransient || !s.Interrupted {
		t.Fatalf("stopped run: exit %d, %+v", res.ExitCode, s)
	}
	if s.Created == 0 || s.Created == len(keys) || s.FailuresByClass[ClassInterrupted] == 0 {
		t.Fatalf("stop did not land mid-run: %+v", s)
	}
	first := byKey(readManifest(t, dst, s.Manifest))

	cfg.Source = src
	res = runJob(t, cfg)
	if res.ExitCode != runspec.ExitOK || res.Summary.Failed != 0 {
		t.Fatalf("second run: exit %d, %+v", res.ExitCode, res.Summary)
	}
	second := byKey(readManifest(t, dst, res.Summary.Manifest))
	for _, k := range keys {
		done := 0
		for _, m := range []map[string]manifest.Record{first, second} {
			if st := m[k].Status; st == manifest.Created || st == manifest.Updated {
				done++
			}
		}
		if done != 1 {
			t.Fatalf("%s rendered %d times across the two runs (%s, %s)", k, done, first[k].Status, second[k].Status)
		}
	}
}

func TestTimeoutsAndStorageFaults(t *testing.T) {
	src, dst, keys := collection(t)
	slow := &faultStore{Store: src, delay: 300 * time.Millisecond}
	cfg := Config{Source: slow, Dest: dst, Prefix: "al/2013/", Concurrency: 2, ItemTimeout: 200 * time.Millisecond, MaxFailureRate: 1}
	res := runJob(t, cfg)
	if n := res.Summary.FailuresByClass[ClassTimeout]; n != len(keys) {
		t.Fatalf("timeouts: %+v", res.Summary)
	}
	// Timeouts are retried by the next run, not carried forward.
	broken := &faultStore{Store: src, failOn: "30081"}
	cfg = Config{Source: broken, Dest: dst, Prefix: "al/2013/", Concurrency: 2}
	res = runJob(t, cfg)
	if res.Summary.FailuresByClass[ClassIO] == 0 || res.Summary.Created == 0 || res.ExitCode != runspec.ExitTransient {
		t.Fatalf("storage faults: exit %d, %+v", res.ExitCode, res.Summary)
	}
	cfg.Source = src
	res = runJob(t, cfg)
	if res.ExitCode != runspec.ExitOK || res.Summary.Failed != 0 || res.Summary.Created == 0 {
		t.Fatalf("after the fault cleared: exit %d, %+v", res.ExitCode, res.Summary)
	}
}

func TestSidecarOverviewsFromTheListing(t *testing.T) {
	real := testenv.RealData(t)
	root := t.TempDir()
	copyFile(t, filepath.Join(real, "cog/odd/image_external.tif"), filepath.Join(root, "src/x/image_external.tif"))
	copyFile(t, filepath.Join(real, "cog/odd/image_external.tif.ovr"), filepath.Join(root, "src/x/image_external.tif.ovr"))
	src, _ := storage.OpenLocal(filepath.Join(root, "src"), false)
	dst, _ := storage.OpenLocal(filepath.Join(root, "dst"), true)
	res := runJob(t, Config{Source: src, Dest: dst, Prefix: "x/", Concurrency: 1})
	if res.Summary.Sources != 1 || res.Summary.Parts != 1 || res.Summary.Ignored != 0 {
		t.Fatalf("the .ovr sidecar is not a source but a part: %+v", res.Summary)
	}
	r := byKey(readManifest(t, dst, res.Summary.Manifest))["x/image_external.tif"]
	if len(r.Parts) != 1 || r.Parts[0] != "x/image_external.tif.ovr" {
		t.Errorf("parts %v, want the .ovr", r.Parts)
	}
	if r.Level == nil || *r.Level == 0 {
		t.Fatalf("sidecar overviews not used: %+v", r)
	}
}

func TestMissingSourceFolderIsAConfigError(t *testing.T) {
	dst, _ := storage.OpenLocal(t.TempDir(), true)
	_, err := Run(context.Background(), Config{Source: &faultStore{Store: missingStore{}}, Dest: dst})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a ConfigError", err)
	}
}

type missingStore struct{ storage.Store }

func (missingStore) List(context.Context, string, string, func(storage.Entry) error) error {
	return &storage.OpError{Op: "list", Store: "s3://nope", Kind: storage.ErrNoBucket, Err: errors.New("NoSuchBucket")}
}
func (missingStore) URL() string { return "s3://nope/" }
