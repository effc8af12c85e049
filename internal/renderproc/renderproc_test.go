package renderproc

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"quicklook/internal/render"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// The test binary is also the child: with this variable set it serves
// renders on descriptors 3 and 4, with faults that tests name by key.
const childEnv = "QUICKLOOK_RENDERPROC_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		in, out := os.NewFile(childIn, "requests"), os.NewFile(childOut, "responses")
		if err := serve(in, out, openFaulty); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := render.Init(render.Config{}); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// faulty behaves as a GDAL decoder fault would on keys named for it.
type faulty struct {
	Renderer
	root string
}

func openFaulty(s Setup) (Renderer, error) {
	r, err := openInProcess(s)
	return faulty{r, s.Source}, err
}

func (f faulty) Render(ctx context.Context, it Item) (*render.Result, Cost, error) {
	switch path.Base(it.Key) {
	case "crash.tif":
		abort()
	case "crash-once.tif":
		// Dies in the first process that meets it, as a process whose heap an
		// earlier image corrupted would.
		marker := filepath.Join(f.root, it.Key+".crashed")
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			abort()
		}
	case "hang.tif":
		select {}
	case "overrun.tif":
		// Gives up at the deadline, as InProcess does when it abandons a
		// decoder that does not return.
		time.Sleep(it.Timeout)
		return nil, Cost{}, context.DeadlineExceeded
	}
	return f.Renderer.Render(ctx, it)
}

// abort dies as glibc does when it finds the heap corrupted.
func abort() {
	os.Stderr.WriteString("malloc(): corrupted top size\n")
	syscall.Kill(os.Getpid(), syscall.SIGABRT)
	select {}
}

// folder is a source folder with a real NAIP GeoTIFF, a hostile file and
// the fault-named keys.
func folder(t *testing.T) string {
	t.Helper()
	real := testenv.RealData(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(real, "geotiff/naip/m_3907864_sw_17_060_20210912_downsampled.tif"), filepath.Join(dir, "naip.tif"))
	copyFile(t, filepath.Join(real, "hostile/png/its_png_width_zero.png"), filepath.Join(dir, "bad.png"))
	for _, k := range []string{"crash.tif", "crash-once.tif", "hang.tif", "overrun.tif"} {
		copyFile(t, filepath.Join(dir, "naip.tif"), filepath.Join(dir, k))
	}
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func startPool(t *testing.T, dir string, opt Options) (*Pool, *syncWriter) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncWriter{w: &bytes.Buffer{}}
	opt.Command = []string{exe}
	opt.Env = append(opt.Env, childEnv+"=1")
	opt.Setup.Source = dir
	opt.Output = out
	p, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, out
}

func item(dir, key string) Item {
	st, err := os.Stat(filepath.Join(dir, key))
	size := int64(-1)
	if err == nil {
		size = st.Size()
	}
	return Item{Key: key, Sizes: map[string]int64{key: size}, Options: render.Options{}.Defaults(), Timeout: 30 * time.Second}
}

func TestPoolRendersLikeInProcess(t *testing.T) {
	dir := folder(t)
	p, _ := startPool(t, dir, Options{})
	store, err := storage.OpenLocal(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"naip.tif", "bad.png"} {
		res, cost, err := p.Render(context.Background(), item(dir, key))
		want, wantCost, wantErr := InProcess{Store: store}.Render(context.Background(), item(dir, key))
		if cost.Storage != wantCost.Storage || cost.Storage.BytesRead == 0 || cost.Storage.Requests.GET == 0 {
			t.Errorf("%s: %+v read in a child, %+v in process", key, cost.Storage, wantCost.Storage)
		}
		if cost.CPU <= 0 || wantCost.CPU <= 0 {
			t.Errorf("%s: CPU time %s in a child, %s in process", key, cost.CPU, wantCost.CPU)
		}
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%s: error %v in a child, %v in process", key, err, wantErr)
		}
		var de *render.Error
		if key == "bad.png" && !errors.As(err, &de) {
			t.Errorf("bad.png: want a data error across the process boundary, got %T %v", err, err)
		}
		if err != nil || wantErr != nil {
			continue
		}
		if !bytes.Equal(res.Outputs[0].Data, want.Outputs[0].Data) || res.Level != want.Level {
			t.Errorf("%s: a child's thumbnail differs from the in-process one", key)
		}
		if _, err := jpeg.Decode(bytes.NewReader(res.Outputs[0].Data)); err != nil {
			t.Errorf("%s: thumbnail does not decode: %v", key, err)
		}
	}
	gone := item(dir, "vanished.tif")
	gone.Sizes["vanished.tif"] = 1000 // listed, then deleted
	_, _, err = p.Render(context.Background(), gone)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a vanished object: want storage.ErrNotFound across the boundary, got %v", err)
	}
	if s := p.Stats(); s.Started != 1 || s.Died != 0 || s.Killed != 0 {
		t.Errorf("one child should have done it all: %+v", s)
	}
}

func TestAnImageThatKillsTwoProcessesIsRecordedCrashed(t *testing.T) {
	dir := folder(t)
	p, out := startPool(t, dir, Options{})
	_, _, err := p.Render(context.Background(), item(dir, "crash.tif"))
	var de *render.Error
	if !errors.As(err, &de) || de.Class != ClassCrashed {
		t.Fatalf("want a %s data error, got %v", ClassCrashed, err)
	}
	for _, want := range []string{"twice", "malloc(): corrupted top size"} {
		if !strings.Contains(de.Msg, want) {
			t.Errorf("crash record %q does not say %q", de.Msg, want)
		}
	}
	if !strings.Contains(out.String(), "malloc(): corrupted") {
		t.Errorf("the child's output was not passed on: %q", out.String())
	}
	// The pool goes on with a fresh process.
	if _, _, err := p.Render(context.Background(), item(dir, "naip.tif")); err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	if s := p.Stats(); s.Died != 2 || s.Started != 3 {
		t.Errorf("stats %+v: want 2 died, 3 started", s)
	}
}

func TestAnInnocentImageInACorruptedProcessIsRetried(t *testing.T) {
	dir := folder(t)
	p, _ := startPool(t, dir, Options{})
	res, _, err := p.Render(context.Background(), item(dir, "crash-once.tif"))
	if err != nil || len(res.Outputs) != 1 {
		t.Fatalf("want the retry in a fresh process to succeed, got %v", err)
	}
	if s := p.Stats(); s.Died != 1 {
		t.Errorf("stats %+v: want 1 died", s)
	}
}

func TestAHangIsKilledAtTheDeadline(t *testing.T) {
	dir := folder(t)
	p, _ := startPool(t, dir, Options{Grace: 500 * time.Millisecond})
	it := item(dir, "hang.tif")
	it.Timeout = time.Second
	t0 := time.Now()
	_, _, err := p.Render(context.Background(), it)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("took %s to give up on a 1s item", d)
	}
	if s := p.Stats(); s.Killed != 1 {
		t.Errorf("stats %+v: want 1 killed", s)
	}
	assertLive(t, p, 0)
}

// A child that reports a timeout itself may still hold an abandoned
// decoder: it is not given another image.
func TestAChildThatTimedOutIsRetired(t *testing.T) {
	dir := folder(t)
	p, _ := startPool(t, dir, Options{Grace: time.Minute})
	it := item(dir, "overrun.tif")
	it.Timeout = 200 * time.Millisecond
	if _, _, err := p.Render(context.Background(), it); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if s := p.Stats(); s.Killed != 1 {
		t.Errorf("stats %+v: want the child killed", s)
	}
	assertLive(t, p, 0)
	if _, _, err := p.Render(context.Background(), item(dir, "naip.tif")); err != nil {
		t.Fatalf("the next image, in a fresh child: %v", err)
	}
}

func TestStoppingTheRunKillsTheRender(t *testing.T) {
	dir := folder(t)
	p, _ := startPool(t, dir, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := p.Render(ctx, item(dir, "hang.tif"))
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil {
		t.Fatalf("want the caller's context error, got %v", err)
	}
	assertLive(t, p, 0)
}

func TestCloseEndsEveryChild(t *testing.T) {
	dir := folder(t)
	p, _ := startPool(t, dir, Options{})
	done := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, _, err := p.Render(context.Background(), item(dir, "naip.tif"))
			done <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	pids := p.pids()
	if len(pids) < 1 {
		t.Fatal("no children alive before Close")
	}
	p.Close()
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("child %d still alive after Close", pid)
		}
	}
	if _, _, err := p.Render(context.Background(), item(dir, "naip.tif")); err == nil {
		t.Error("rendering after Close should fail")
	}
}

func TestAChildThatCannotStartFailsStart(t *testing.T) {
	exe, _ := os.Executable()
	_, err := Start(Options{Command: []string{exe}, Env: []string{childEnv + "=1"}, Output: &bytes.Buffer{},
		Setup: Setup{Source: t.TempDir(), Render: render.Config{Extensions: []string{"nosuchformat"}}}})
	if err == nil || !strings.Contains(err.Error(), ".nosuchformat") {
		t.Fatalf("want the child's setup error, got %v", err)
	}
	_, err = Start(Options{Command: []string{filepath.Join(t.TempDir(), "missing")}})
	if err == nil {
		t.Fatal("a missing program started")
	}
}

// assertLive checks how many children the pool holds.
func assertLive(t *testing.T, p *Pool, want int) {
	t.Helper()
	if got := len(p.pids()); got != want {
		t.Errorf("%d children alive, want %d", got, want)
	}
}

func (p *Pool) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for c := range p.live {
		pids = append(pids, c.cmd.Process.Pid)
	}
	return pids
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
