package renderproc

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"quicklook/internal/render"
	"quicklook/internal/storage"
)

// Setup is the first message to a child: where to read and how GDAL is set up.
type Setup struct {
	Source        string // storage location of the sources
	RequesterPays bool
	Render        render.Config
}

type ready struct{ Err string }

type response struct {
	Result *render.Result
	Cost   Cost
	Err    *wireError
}

// Child descriptors: requests come in on 3, responses go out on 4, so that
// whatever a C library prints on stdout cannot garble the protocol.
const (
	childIn  = 3
	childOut = 4
)

// ServeChild is the child's main loop: it renders the items its parent sends
// until the parent closes the pipe (or dies).
func ServeChild() error {
	for _, fd := range []int{childIn, childOut} {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
			return errors.New("render-worker is started by job run for each worker; it is not run by hand")
		}
	}
	return serve(os.NewFile(childIn, "requests"), os.NewFile(childOut, "responses"), openInProcess)
}

func openInProcess(s Setup) (Renderer, error) {
	if err := render.Init(s.Render); err != nil {
		return nil, err
	}
	store, err := storage.Open(context.Background(), s.Source, storage.OpenOptions{RequesterPays: s.RequesterPays})
	if err != nil {
		return nil, err
	}
	return InProcess{Store: store}, nil
}

func serve(in io.Reader, out io.Writer, open func(Setup) (Renderer, error)) error {
	dec, enc := gob.NewDecoder(in), gob.NewEncoder(out)
	var s Setup
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("reading setup: %w", err)
	}
	r, err := open(s)
	if err != nil {
		// The parent reports it: Start fails with this message.
		return enc.Encode(ready{Err: err.Error()})
	}
	defer r.Close()
	if err := enc.Encode(ready{}); err != nil {
		return err
	}
	for {
		var it Item
		if err := dec.Decode(&it); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the parent is done
			}
			return fmt.Errorf("reading a request: %w", err)
		}
		// The process renders one item at a time: all its CPU time is the
		// item's (prefetches and garbage collection on other threads too).
		t0 := processCPU()
		res, cost, err := r.Render(context.Background(), it)
		cost.CPU = processCPU() - t0
		if err := enc.Encode(response{Result: res, Cost: cost, Err: toWire(err)}); err != nil {
			return fmt.Errorf("writing a response: %w", err)
		}
	}
}
