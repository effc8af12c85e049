package storage

import (
	"context"
	"net/http"
	"net/url"
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

func count(ctx context.Context, r Requests) { UsageOf(ctx).Add(Counts{Requests: r}) }

func countBytes(ctx context.Context, read, written int64) {
	UsageOf(ctx).Add(Counts{BytesRead: read, BytesWritten: written})
}

// BilledAs is how S3 bills one HTTP request: as a GET (and every other
// kind it does not name), HEAD, PUT (and POST), LIST, DELETE or COPY.
func BilledAs(method string, query url.Values, header http.Header) Requests {
	switch method {
	case http.MethodHead:
		return Requests{HEAD: 1}
	case http.MethodGet:
		if query.Has("list-type") {
			return Requests{LIST: 1}
		}
	case http.MethodPut:
		if header.Get("X-Amz-Copy-Source") != "" {
			return Requests{COPY: 1}
		}
		return Requests{PUT: 1}
	case http.MethodDelete:
		return Requests{DELETE: 1}
	case http.MethodPost:
		if query.Has("delete") {
			return Requests{DELETE: 1}
		}
		return Requests{PUT: 1}
	}
	return Requests{GET: 1}
}

// countingClient counts each HTTP request the SDK sends (every attempt: each
// is billed) against the usage its context carries.
type countingClient struct{ next s3.HTTPClient }

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	count(r.Context(), BilledAs(r.Method, r.URL.Query(), r.Header))
	return c.next.Do(r)
}
