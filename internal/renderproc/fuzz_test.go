package renderproc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"quicklook/internal/naming"
	"quicklook/internal/render"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// Mutated GeoTIFF, JPEG and PNG bytes rendered as the job renders them, in a
// render process: every input gives a thumbnail or a data error (crashed
// among them, when GDAL's decoders take two processes down) within the
// item's deadline, and the pool keeps going. This is the job's promise on
// hostile input, so it is a gate in make test.
func FuzzRenderIsolated(f *testing.F) {
	fuzzRender(f, true, func(dir string) (Renderer, error) {
		exe, _ := os.Executable()
		return Start(Options{Command: []string{exe}, Env: []string{childEnv + "=1"}, Setup: Setup{Source: dir}, Grace: 2 * time.Second})
	})
}

// The same in the test's own process: GDAL's decoder faults show here as a
// crashed fuzz worker or an input that runs past its deadline, which is how
// they are found (make fuzz).
func FuzzRender(f *testing.F) {
	fuzzRender(f, false, func(dir string) (Renderer, error) {
		st, err := storage.OpenLocal(dir, false)
		return InProcess{Store: st}, err
	})
}

// fuzzRender renders every input; timeoutsAllowed says whether an input
// that runs past its deadline is the expected outcome (the job records a
// timeout and replaces the render process) or a decoder fault to report.
func fuzzRender(f *testing.F, timeoutsAllowed bool, open func(dir string) (Renderer, error)) {
	for _, b := range testenv.RenderSeeds(f) {
		f.Add(b)
	}
	var (
		once     sync.Once
		renderer Renderer
		dir      string
		err      error
	)
	opt := render.Options{Profiles: []naming.Profile{{Name: "t", Size: 64, Format: naming.PNG}}, MaxPixels: 4_000_000}.Defaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		once.Do(func() {
			// One renderer per fuzz worker process, for all its inputs: a
			// fault that corrupts a process meets the inputs after it.
			if dir, err = os.MkdirTemp("", "quicklook-fuzz-"); err == nil {
				renderer, err = open(dir)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f.tif"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		it := Item{Key: "f.tif", Sizes: map[string]int64{"f.tif": int64(len(data))}, Options: opt, Timeout: 10 * time.Second}
		t0 := time.Now()
		res, _, err := renderer.Render(context.Background(), it)
		if d := time.Since(t0); d > 25*time.Second {
			t.Fatalf("rendering %d bytes took %s", len(data), d)
		}
		var de *render.Error
		switch {
		case err == nil:
			if len(res.Outputs) != 1 || len(res.Outputs[0].Data) == 0 || res.Outputs[0].Width > 64 || res.Outputs[0].Height > 64 {
				t.Fatalf("bad output %+v", res.Outputs)
			}
		case errors.As(err, &de):
			if de.Class == "" {
				t.Fatal("data error without a class")
			}
		case errors.Is(err, context.DeadlineExceeded) && timeoutsAllowed:
			// Recorded as timeout by the job, the render process replaced.
		default:
			t.Fatalf("neither a thumbnail nor a data error: %v", err)
		}
	})
}
