// Package runreport is what 'submit status' shows of a run: its jobs and
// array children by state (from the executor) and what the jobs did and
// spent (from the summaries they copied under the run), against what the
// plan predicted, on one screen.
package runreport

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"quicklook/internal/layout"
	"quicklook/internal/manifest"
	"quicklook/internal/storage"
)

// Account adds up the summaries of a run's job attempts.
type Account struct {
	Attempts int // summaries read
	// Objects accounted for by each job's latest attempt: rendered by this
	// run (made), found up to date, failed (not counting objects an
	// interrupted attempt left for the next).
	Done, Made, UpToDate, Failed int
	Interrupted                  int // attempts stopped by SIGTERM (Spot reclaim, termination)
	Requests, Compute, Total     float64
	First, Last                  time.Time // earliest start, latest finish
}

// Reader reads a run's summaries, each once: a refresh lists the run's
// summaries and fetches only the new ones.
type Reader struct {
	store storage.Store
	runID string
	mu    sync.Mutex
	seen  map[string]manifest.Summary
}

// NewReader reads the summaries of run runID under dest.
func NewReader(ctx context.Context, dest, runID string) (*Reader, error) {
	st, err := storage.Open(ctx, dest, storage.OpenOptions{})
	if err != nil {
		return nil, err
	}
	return &Reader{store: st, runID: runID, seen: map[string]manifest.Summary{}}, nil
}

// Read lists the run's summaries, fetches the new ones (16 at once) and
// adds them all up.
func (r *Reader) Read(ctx context.Context) (Account, error) {
	var fresh []string
	err := r.store.List(ctx, layout.RunSummariesDir(r.runID), "", func(e storage.Entry) error {
		if _, ok := r.seen[e.Key]; !ok && strings.HasSuffix(e.Key, ".json") {
			fresh = append(fresh, e.Key)
		}
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("listing the run's summaries: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, key := range fresh {
		g.Go(func() error {
			rc, err := r.store.Get(gctx, key)
			if err != nil {
				return fmt.Errorf("reading summary %s: %w", key, err)
			}
			defer rc.Close()
			var s manifest.Summary
			if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&s); err != nil {
				return fmt.Errorf("summary %s: %w", key, err)
			}
			r.mu.Lock()
			r.seen[key] = s
			r.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Account{}, err
	}
	return tally(r.seen), nil
}

// tally adds up the summaries: costs over every attempt, objects from each
// job's latest attempt (which counts what earlier ones did as up to date).
func tally(sums map[string]manifest.Summary) Account {
	var a Account
	latest := map[string]manifest.Summary{}
	for _, s := range sums {
		a.Attempts++
		a.Requests += s.Cost.Requests
		a.Compute += s.Cost.Compute
		a.Total += s.Cost.Total
		a.Made += s.Created + s.Updated
		if s.Interrupted {
			a.Interrupted++
		}
		if a.First.IsZero() || s.Started.Before(a.First) {
			a.First = s.Started
		}
		if s.Finished.After(a.Last) {
			a.Last = s.Finished
		}
		if l, ok := latest[s.Job]; !ok || s.Started.After(l.Started) {
			latest[s.Job] = s
		}
	}
	for _, s := range latest {
		left := s.FailuresByClass[manifest.ClassInterrupted]
		a.Done += s.Sources - left
		a.Failed += s.Failed - left
	}
	a.UpToDate = max(0, a.Done-a.Failed-a.Made)
	return a
}
