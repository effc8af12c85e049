// Package renderproc runs renders where a fault in GDAL's C decoders cannot
// take the run down: each worker renders in a child process of its own,
// killed when an image runs past its deadline and restarted when it dies.
// InProcess renders in the calling process, as the child itself does.
package renderproc

import (
	"context"
	"errors"
	"io/fs"
	"runtime"
	"syscall"
	"time"

	"quicklook/internal/render"
	"quicklook/internal/storage"
)

// ClassCrashed is recorded for an image whose render process died twice,
// each time in a fresh process: a decoder fault that retrying cannot fix.
const ClassCrashed = "crashed"

// Item is one image to render.
type Item struct {
	Key      string
	Siblings []string         // sidecars GDAL may open with it (.ovr, .msk)
	Sizes    map[string]int64 // of the key and its siblings, from the listing
	Options  render.Options
	Timeout  time.Duration // the whole render, reads included
}

// Renderer renders items. Errors are *render.Error for data errors, wrap
// context.DeadlineExceeded when the item ran out of time, the context's
// error when ctx ended, storage errors (storage.ErrNotFound among them)
// for the source. The storage calls of a render are counted in its Cost
// only, never in the usage ctx carries.
type Renderer interface {
	Render(ctx context.Context, it Item) (res *render.Result, cost Cost, err error)
	Close() error
}

// Cost is what one render took: its storage calls (requests, bytes read)
// and the CPU time of the process or thread that rendered it.
type Cost struct {
	Storage storage.Counts
	CPU     time.Duration
}

// InProcess renders in this process, reading from Store.
type InProcess struct{ Store storage.Store }

func (p InProcess) Close() error { return nil }

func (p InProcess) Render(ctx context.Context, it Item) (*render.Result, Cost, error) {
	if it.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, it.Timeout)
		defer cancel()
	}
	usage := storage.NewUsage(nil) // counted in the Cost, not in ctx's usage
	src := &itemSource{ctx: storage.WithUsage(ctx, usage), store: p.Store, sizes: it.Sizes}
	type outcome struct {
		res *render.Result
		err error
		cpu time.Duration
	}
	ch := make(chan outcome, 1)
	go func() {
		// GDAL decodes on this goroutine's thread: its CPU time is the render's.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		t0 := threadCPU()
		res, err := render.Render(ctx, src, it.Key, it.Siblings, it.Options)
		ch <- outcome{res, err, threadCPU() - t0}
	}()
	var out outcome
	select {
	case out = <-ch:
	case <-ctx.Done():
		// GDAL cannot be interrupted mid-decode: reads fail from now on, and
		// if it still does not return, the render is abandoned to finish
		// alone (a Pool kills the process instead).
		select {
		case out = <-ch:
		case <-time.After(2 * time.Second):
			out.err = ctx.Err()
		}
	}
	return out.res, Cost{Storage: usage.Counts(), CPU: out.cpu}, out.err
}

// threadCPU and processCPU are the CPU time (user and system) used so far by
// the calling thread and by the whole process.
func threadCPU() time.Duration  { return rusage(1) } // RUSAGE_THREAD
func processCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// itemSource serves one item's object and sidecars (and nothing else of
// the source) to the renderer and applies the item's deadline (and usage)
// to every read. Sizes come from the listing, so GDAL's probes for sidecars
// cost no request.
type itemSource struct {
	ctx   context.Context
	store storage.Store
	sizes map[string]int64 // read-only after construction
}

func (s *itemSource) Size(key string) (int64, error) {
	if n, ok := s.sizes[key]; ok {
		return n, nil
	}
	return -1, fs.ErrNotExist
}

func (s *itemSource) Stream(key string, off, n int64, fn func([]byte) error) error {
	if _, listed := s.sizes[key]; !listed {
		return fs.ErrNotExist
	}
	return s.store.Stream(s.ctx, key, off, n, fn)
}

func (s *itemSource) ReadAt(key string, p []byte, off int64) (int, error) {
	if _, listed := s.sizes[key]; !listed {
		// Only the item and its listed parts: no other object of the source.
		return 0, fs.ErrNotExist
	}
	return s.store.ReadAt(s.ctx, key, p, off)
}

// wireError carries an error across the process boundary with what the job
// decides on: data error class, deadline, cancellation, object gone.
type wireError struct {
	Kind  string // data, deadline, canceled, gone, other
	Class string // data errors
	Msg   string
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	var de *render.Error
	switch {
	case errors.As(err, &de):
		return &wireError{Kind: "data", Class: de.Class, Msg: de.Msg}
	case errors.Is(err, context.DeadlineExceeded):
		return &wireError{Kind: "deadline", Msg: err.Error()}
	case errors.Is(err, context.Canceled):
		return &wireError{Kind: "canceled", Msg: err.Error()}
	case errors.Is(err, storage.ErrNotFound):
		return &wireError{Kind: "gone", Msg: err.Error()}
	}
	return &wireError{Kind: "other", Msg: err.Error()}
}

func (w *wireError) err() error {
	if w == nil {
		return nil
	}
	switch w.Kind {
	case "data":
		return &render.Error{Class: w.Class, Msg: w.Msg}
	case "deadline":
		return &remoteError{w.Msg, context.DeadlineExceeded}
	case "canceled":
		return &remoteError{w.Msg, context.Canceled}
	case "gone":
		return &remoteError{w.Msg, storage.ErrNotFound}
	}
	return errors.New(w.Msg)
}

// remoteError is the child's error message with the sentinel it matched.
type remoteError struct {
	msg string
	is  error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.is }
