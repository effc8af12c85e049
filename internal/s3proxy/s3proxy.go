// Package s3proxy puts a controllable HTTP proxy in front of an
// S3-compatible server: it records every exchange and counts the bytes
// served, adds S3-like latency and a per-connection bandwidth cap (for
// benchmarks), and injects faults (for reliability tests). Requests keep the
// Host they were signed for.
package s3proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Request is one exchange seen by the proxy.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Status                 int
	BodyBytes              int64 // response body bytes sent to the client
}

// Fault is what to do to one request instead of (or while) forwarding it.
type Fault struct {
	Status    int           // answer with this status (and S3 error Code) without forwarding
	Code      string        // S3 error code for Status, e.g. SlowDown
	ResetAt   int64         // forward, then cut the connection after this many body bytes (>0)
	Delay     time.Duration // wait this long before forwarding
	Throttled bool          // informational
}

// Options shape the proxy's behaviour.
type Options struct {
	Latency        time.Duration // added before each response's first byte
	BytesPerSecond int64         // per-connection cap on response bodies (0: none)
	// Fault, when set, is asked for each request; a zero Fault forwards it.
	Fault func(r *http.Request) Fault
}

// Proxy forwards to an S3 server.
type Proxy struct {
	opts   Options
	target *url.URL
	rp     *httputil.ReverseProxy

	mu   sync.Mutex
	reqs []Request
}

// New builds a proxy to target (the server's base URL).
func New(target string, o Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{opts: o, target: u}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the request was signed for this host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Status: 200}
	defer func() {
		p.mu.Lock()
		p.reqs = append(p.reqs, rec)
		p.mu.Unlock()
	}()
	var f Fault
	if p.opts.Fault != nil {
		f = p.opts.Fault(r)
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Status != 0 {
		rec.Status = f.Status
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.Status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+f.Code+`</Code><Message>injected by s3proxy</Message></Error>`)
		return
	}
	cw := &shapedWriter{ResponseWriter: w, status: 200, latency: p.opts.Latency, rate: p.opts.BytesPerSecond, resetAt: f.ResetAt}
	p.rp.ServeHTTP(cw, r)
	rec.Status, rec.BodyBytes = cw.status, cw.n
}

// Requests returns what was seen so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Reset forgets what was seen.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.reqs = nil
	p.mu.Unlock()
}

// BytesServed sums response body bytes of object GETs whose path contains
// substr (listings excluded), and counts those GETs.
func (p *Proxy) BytesServed(substr string) (bytes int64, gets int) {
	for _, r := range p.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, substr) && !strings.Contains(r.RawQuery, "list-type") {
			bytes += r.BodyBytes
			gets++
		}
	}
	return bytes, gets
}

// shapedWriter delays the first byte, paces the body and can cut it short.
type shapedWriter struct {
	http.ResponseWriter
	status  int
	n       int64
	latency time.Duration
	rate    int64
	resetAt int64
	started time.Time
	waited  bool
}

func (s *shapedWriter) firstByte() {
	if !s.waited {
		s.waited = true
		if s.latency > 0 {
			time.Sleep(s.latency)
		}
		s.started = time.Now()
	}
}

func (s *shapedWriter) WriteHeader(code int) {
	s.firstByte()
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *shapedWriter) Write(b []byte) (int, error) {
	s.firstByte()
	if s.resetAt > 0 && s.n+int64(len(b)) > s.resetAt {
		keep := s.resetAt - s.n
		n, _ := s.ResponseWriter.Write(b[:max(keep, 0)])
		s.n += int64(n)
		s.cut()
		return n, io.ErrUnexpectedEOF
	}
	n, err := s.ResponseWriter.Write(b)
	s.n += int64(n)
	if s.rate > 0 {
		// Pace: the body so far should have taken n/rate seconds.
		due := s.started.Add(time.Duration(float64(s.n) / float64(s.rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
	return n, err
}

// cut closes the client connection mid-body, as a network reset would.
func (s *shapedWriter) cut() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := s.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	}
}

// Flush passes flushes through.
func (s *shapedWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
