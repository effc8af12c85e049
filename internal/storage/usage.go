package storage

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Requests counts storage requests by the kind S3 bills them as. JSON keeps
// the kinds that occurred: {"GET": 2, "PUT": 1}.
type Requests struct {
	GET    int64 `json:"GET,omitempty"`
	HEAD   int64 `json:"HEAD,omitempty"`
	PUT    int64 `json:"PUT,omitempty"`
	LIST   int64 `json:"LIST,omitempty"`
	DELETE int64 `json:"DELETE,omitempty"`
	COPY   int64 `json:"COPY,omitempty"`
}

// Total is every request of every kind.
func (r Requests) Total() int64 { return r.GET + r.HEAD + r.PUT + r.LIST + r.DELETE + r.COPY }

// Add adds o to r.
func (r *Requests) Add(o Requests) {
	r.GET += o.GET
	r.HEAD += o.HEAD
	r.PUT += o.PUT
	r.LIST += o.LIST
	r.DELETE += o.DELETE
	r.COPY += o.COPY
}

// Counts is what storage calls cost: requests, and bytes each way.
type Counts struct {
	Requests     Requests
	BytesRead    int64
	BytesWritten int64
}

// Usage counts the storage calls made with a context that carries it (see
// WithUsage), and passes every count on to its parent: an item's usage adds
// up into its job's. On S3 each HTTP request is counted, retries included,
// since each is billed; a local folder counts the requests S3 would bill
// for the same calls.
type Usage struct {
	parent                          *Usage
	get, head, put, list, del, copy atomic.Int64
	read, written                   atomic.Int64
}

type usageKey struct{}

// NewUsage makes a usage whose counts also go to parent (which may be nil).
func NewUsage(parent *Usage) *Usage { return &Usage{parent: parent} }

// WithUsage returns a context whose storage calls u (and its parents) count,
// in place of any usage ctx carried.
func WithUsage(ctx context.Context, u *Usage) context.Context {
	return context.WithValue(ctx, usageKey{}, u)
}

// UsageOf is the usage ctx carries, or nil.
func UsageOf(ctx context.Context) *Usage {
	u, _ := ctx.Value(usageKey{}).(*Usage)
	return u
}

// Counts reads the counters.
func (u *Usage) Counts() Counts {
	if u == nil {
		return Counts{}
	}
	return Counts{
		Requests: Requests{GET: u.get.Load(), HEAD: u.head.Load(), PUT: u.put.Load(), LIST: u.list.Load(),
			DELETE: u.del.Load(), COPY: u.copy.Load()},
		BytesRead: u.read.Load(), BytesWritten: u.written.Load(),
	}
}

// Add counts calls made elsewhere (a render process) as made here.
func (u *Usage) Add(c Counts) {
	for ; u != nil; u = u.parent {
		u.get.Add(c.Requests.GET)
		u.head.Add(c.Requests.HEAD)
		u.put.Add(c.Requests.PUT)
		u.list.Add(c.Requests.LIST)
		u.del.Add(c.Requests.DELETE)
		u.copy.Add(c.Requests.COPY)
		u.read.Add(c.BytesRead)
		u.written.Add(c.BytesWritten)
	}
}

// Request kinds.
const (
	kindGET = iota
	kindHEAD
	kindPUT
	kindLIST
	kindDELETE
	kindCOPY
)

func count(ctx context.Context, kind int, n int64) {
	var c Counts
	switch kind {
	case kindGET:
		c.Requests.GET = n
	case kindHEAD:
		c.Requests.HEAD = n
	case kindPUT:
		c.Requests.PUT = n
	case kindLIST:
		c.Requests.LIST = n
	case kindDELETE:
		c.Requests.DELETE = n
	case kindCOPY:
		c.Requests.COPY = n
	}
	UsageOf(ctx).Add(c)
}

func countBytes(ctx context.Context, read, written int64) {
	UsageOf(ctx).Add(Counts{BytesRead: read, BytesWritten: written})
}

// requestKind is how S3 bills an HTTP request.
func requestKind(r *http.Request) int {
	q := r.URL.Query()
	switch r.Method {
	case http.MethodHead:
		return kindHEAD
	case http.MethodGet:
		if q.Has("list-type") {
			return kindLIST
		}
		return kindGET
	case http.MethodPut:
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return kindCOPY
		}
		return kindPUT
	case http.MethodDelete:
		return kindDELETE
	case http.MethodPost:
		if q.Has("delete") {
			return kindDELETE
		}
		return kindPUT
	}
	return kindGET
}

// countingClient counts each HTTP request the SDK sends (every attempt: each
// is billed) against the usage its context carries.
type countingClient struct{ next s3.HTTPClient }

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	count(r.Context(), requestKind(r), 1)
	return c.next.Do(r)
}
