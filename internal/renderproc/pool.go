package renderproc

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"quicklook/internal/render"
)

// Options configure a Pool.
type Options struct {
	// Command runs a child: a program that calls ServeChild.
	Command []string
	// Env is added to this process's environment for the children.
	Env   []string
	Setup Setup
	// Output receives the children's stdout and stderr (default os.Stderr).
	Output io.Writer
	Log    *slog.Logger
	// Grace is how long past an item's Timeout the child may take to report
	// it before it is killed (default 5s).
	Grace time.Duration
}

// Stats count what happened to the children.
type Stats struct {
	Started int // processes started
	Died    int // died while rendering
	Killed  int // killed: past the deadline, or the run stopped
}

// Pool renders each item in a child process that renders one item at a
// time; callers bound the concurrency. A child that dies is replaced and the
// item tried once more in the new one, so an innocent image whose render
// process was corrupted by an earlier one still succeeds, and an image that
// kills two processes is recorded as ClassCrashed.
type Pool struct {
	opt Options

	mu     sync.Mutex
	idle   []*child
	live   map[*child]bool
	closed bool
	stats  Stats
}

var errDied = errors.New("the render process died")

// Start starts the first child and waits until it is ready, so that a
// child that cannot start (bad setup, missing program) fails here, once.
func Start(o Options) (*Pool, error) {
	if len(o.Command) == 0 {
		return nil, errors.New("no render process command")
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	p := &Pool{opt: o, live: map[*child]bool{}}
	c, err := p.get()
	if err != nil {
		return nil, err
	}
	p.put(c)
	return p, nil
}

// Render renders it in a child process.
func (p *Pool) Render(ctx context.Context, it Item) (*render.Result, Cost, error) {
	for attempt := 1; ; attempt++ {
		c, err := p.get()
		if err != nil {
			return nil, Cost{}, err
		}
		r, err := c.do(ctx, it, it.Timeout+p.opt.Grace)
		switch {
		case err == nil:
			err = r.Err.err()
			if errors.Is(err, context.DeadlineExceeded) {
				// The child gave up waiting, but a decoder it abandoned may
				// still be running in it: retire it.
				c.kill()
				p.drop(c, func(s *Stats) { s.Killed++ })
			} else {
				p.put(c)
			}
			return r.Result, r.Cost, err
		case errors.Is(err, errDied):
			why := c.death()
			p.drop(c, func(s *Stats) { s.Died++ })
			p.opt.Log.Warn("render process died", "key", it.Key, "attempt", attempt, "exit", why)
			if attempt == 2 {
				return nil, Cost{}, &render.Error{Class: ClassCrashed, Msg: "the render process died on this image twice: " + why}
			}
		default: // the run stopped, or the item overran: the child is killed
			c.kill()
			p.drop(c, func(s *Stats) { s.Killed++ })
			return nil, Cost{}, err
		}
	}
}

// Stats reports what happened to the children so far.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close ends every child: idle ones read the end of their input and exit.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var all []*child
	for c := range p.live {
		all = append(all, c)
	}
	p.live, p.idle = map[*child]bool{}, nil
	p.mu.Unlock()
	for _, c := range all {
		c.reqW.Close()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			c.kill()
		}
	}
	return nil
}

func (p *Pool) get() (*child, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("render processes are closed")
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := p.start()
	if errors.Is(err, errDied) {
		// Killed while starting (the kernel's OOM killer, an operator): that
		// says nothing of its set-up, which the first child passed. Once more.
		p.mu.Lock()
		p.stats.Died++
		p.mu.Unlock()
		p.opt.Log.Warn("render process died while starting", "error", err.Error())
		c, err = p.start()
	}
	if err != nil {
		return nil, fmt.Errorf("starting a render process: %w", err)
	}
	p.mu.Lock()
	p.live[c] = true
	p.stats.Started++
	p.mu.Unlock()
	return c, nil
}

func (p *Pool) put(c *child) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.reqW.Close() // it reads the end of its input and exits
		return
	}
	p.idle = append(p.idle, c)
}

func (p *Pool) drop(c *child, count func(*Stats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, c)
	count(&p.stats)
	c.reqW.Close()
}

// child is one render process.
type child struct {
	cmd     *exec.Cmd
	reqW    *os.File
	enc     *gob.Encoder
	resp    chan response // closed when the child's output ends
	exited  chan struct{} // closed once the process is reaped; then waitErr is set
	waitErr error
	out     *itemOutput
}

func (p *Pool) start() (*child, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	c := &child{reqW: reqW, enc: gob.NewEncoder(reqW), resp: make(chan response, 1), exited: make(chan struct{}), out: &itemOutput{w: p.opt.Output}}
	c.cmd = exec.Command(p.opt.Command[0], p.opt.Command[1:]...)
	c.cmd.Env = append(os.Environ(), p.opt.Env...)
	c.cmd.ExtraFiles = []*os.File{reqR, respW} // descriptors 3 and 4
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	// Its own process group: a terminal's Ctrl-C is the job's to handle (it
	// drains), not the children's.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = c.cmd.Start()
	reqR.Close()
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		return nil, err
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	readyc := make(chan ready, 1)
	go c.read(respR, readyc)
	if err := c.enc.Encode(p.opt.Setup); err != nil {
		return nil, c.abandon(fmt.Errorf("sending setup: %w (%s)", err, c.death()))
	}
	select {
	case r, ok := <-readyc:
		if !ok {
			return nil, c.abandon(fmt.Errorf("it exited before it was ready (%s): %w", c.death(), errDied))
		}
		if r.Err != "" {
			return nil, c.abandon(errors.New(r.Err))
		}
	case <-time.After(time.Minute):
		return nil, c.abandon(errors.New("not ready after a minute"))
	}
	return c, nil
}

// abandon ends a child that did not become ready and returns err.
func (c *child) abandon(err error) error {
	c.reqW.Close()
	c.kill()
	return err
}

// read decodes the ready message, then responses, until the child's
// output ends.
func (c *child) read(r io.ReadCloser, readyc chan<- ready) {
	defer r.Close()
	defer close(c.resp)
	dec := gob.NewDecoder(r)
	var rd ready
	err := dec.Decode(&rd)
	if err == nil {
		readyc <- rd
	}
	close(readyc)
	for err == nil {
		var resp response
		if err = dec.Decode(&resp); err == nil {
			c.resp <- resp
		}
	}
}

// do sends one item and waits for its response, the child's death, ctx, or
// the hard deadline.
func (c *child) do(ctx context.Context, it Item, hard time.Duration) (response, error) {
	c.out.reset()
	if err := c.enc.Encode(it); err != nil {
		return response{}, errDied
	}
	timer := time.NewTimer(hard)
	defer timer.Stop()
	select {
	case r, ok := <-c.resp:
		if !ok {
			return response{}, errDied
		}
		return r, nil
	case <-ctx.Done():
		return response{}, ctx.Err()
	case <-timer.C:
		return response{}, &remoteError{fmt.Sprintf("rendering did not finish within %s; its process was stopped", hard), context.DeadlineExceeded}
	}
}

func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.exited
}

// death waits for a dying child and says how it ended, with its last output.
func (c *child) death() string {
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.kill()
	}
	why := "exit status 0"
	if c.waitErr != nil {
		why = c.waitErr.Error()
	}
	if line := c.out.crashLine(); line != "" {
		why += ": " + line
	}
	return why
}

// itemOutput forwards a child's output and keeps the start of what it
// wrote during the current item: where a crash says what it was.
type itemOutput struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

const itemOutputKept = 8192

func (t *itemOutput) Write(p []byte) (int, error) {
	t.mu.Lock()
	if room := itemOutputKept - len(t.buf); room > 0 {
		t.buf = append(t.buf, p[:min(room, len(p))]...)
	}
	t.mu.Unlock()
	return t.w.Write(p)
}

func (t *itemOutput) reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

// crashLine is the line of the child's output that names its fault: a Go
// panic or fatal error, a signal, or glibc's heap check; else the first.
func (t *itemOutput) crashLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first string
	for _, l := range strings.Split(string(t.buf), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if first == "" {
			first = l
		}
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "SIG") ||
			strings.Contains(l, "malloc") || strings.Contains(l, "free()") || strings.Contains(l, "corrupted") {
			first = l
			break
		}
	}
	if len(first) > 300 {
		first = first[:300] + "..."
	}
	return first
}
