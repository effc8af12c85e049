// Package listingtest is a stand-in for an S3 bucket's listing at archive
// scale: it answers ListObjectsV2 (prefix, delimiter, continuation token,
// start-after, max-keys, as S3 answers them) over a key space it
// synthesises from a seed, shaped like NAIP on AWS
// (<state>/<year>/<res>/rgbir/<quad>/m_<quad><nn>_<quarter>_<zone>_<res>_<date>.tif),
// without storing an object. The real SDK reaches it over HTTP; it serves
// no object bytes (the real S3 server serves every test that reads them).
package listingtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Shape is a key space: blocks of keys under state/year prefixes.
type Shape struct {
	Blocks []Block
}

// Block is one state/year prefix and how many images it holds.
type Block struct {
	Prefix      string // "tx/2016/"
	Keys        int
	res         string
	first, last string // its first and last keys
}

// Total is the number of keys.
func (s Shape) Total() int {
	n := 0
	for _, b := range s.Blocks {
		n += b.Keys
	}
	return n
}

var states = strings.Fields("al ar az ca co ct de fl ga ia id il in ks ky la ma md me mi mn mo ms mt nc nd ne nh nj nm nv ny oh ok or pa ri sc sd tn tx ut va vt wa wi wv wy")

// NAIP is a NAIP-shaped key space of about total keys over 117 state/year
// prefixes (48 states, 2 or 3 years each), Texas the largest, drawn from seed.
func NAIP(seed int64, total int) Shape {
	rng := rand.New(rand.NewSource(seed))
	var blocks []Block
	weights := 0.0
	var w []float64
	for i, st := range states {
		years := 2
		if i%2 == 0 && len(blocks) < 117-(len(states)-i)*2 {
			years = 3
		}
		for y := 0; y < years && len(blocks) < 117; y++ {
			weight := 0.5 + rng.Float64()
			if st == "tx" {
				weight *= 5 // Texas: over 17,000 images a year
			}
			blocks = append(blocks, Block{Prefix: fmt.Sprintf("%s/%d/", st, 2011+2*y+i%2), res: []string{"100cm", "60cm"}[y%2]})
			w = append(w, weight)
			weights += weight
		}
	}
	left := total
	for i := range blocks {
		blocks[i].Keys = int(float64(total) * w[i] / weights)
		left -= blocks[i].Keys
	}
	blocks[0].Keys += left
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].Prefix < blocks[j].Prefix })
	for i := range blocks {
		blocks[i].first, blocks[i].last = blocks[i].key(0), blocks[i].key(blocks[i].Keys-1)
	}
	return Shape{Blocks: blocks}
}

// key is the i-th key of block b: monotonic in i, so keys sort as indexes do.
func (b Block) key(i int) string {
	quad := 30000 + i/256
	return fmt.Sprintf("%s%s/rgbir/%05d/m_%05d%02d_%s_16_1_%s0901.tif", b.Prefix, b.res, quad, quad, (i%256)/4,
		[]string{"ne", "nw", "se", "sw"}[i%4], b.Prefix[len(b.Prefix)-5:len(b.Prefix)-1])
}

// Keys lists every key, in order (for small shapes).
func (s Shape) Keys() []string {
	var out []string
	for _, b := range s.Blocks {
		for i := 0; i < b.Keys; i++ {
			out = append(out, b.key(i))
		}
	}
	return out
}

// Size is a key's object size: NAIP-like, 150 to 200 MB, fixed by the key.
func Size(key string) int64 {
	h := sha256.Sum256([]byte(key))
	return 150_000_000 + int64(h[0])<<16 + int64(h[1])<<8
}

// cursor is a place in the key space: block bi, index i.
type cursor struct{ bi, i int }

// seek is the first key at or past x (past it, unless inclusive).
func (s Shape) seek(x string, inclusive bool) cursor {
	for bi, b := range s.Blocks {
		if b.Keys == 0 || b.last < x || (b.last == x && !inclusive) {
			continue
		}
		i := sort.Search(b.Keys, func(i int) bool {
			k := b.key(i)
			return k > x || (inclusive && k == x)
		})
		return cursor{bi, i}
	}
	return cursor{len(s.Blocks), 0}
}

// at is the key under the cursor, if any.
func (s Shape) at(c cursor) (string, bool) {
	if c.bi >= len(s.Blocks) {
		return "", false
	}
	return s.Blocks[c.bi].key(c.i), true
}

// next moves the cursor one key on.
func (s Shape) next(c cursor) cursor {
	c.i++
	for c.bi < len(s.Blocks) && c.i >= s.Blocks[c.bi].Keys {
		c.bi, c.i = c.bi+1, 0
	}
	return c
}

// Server is a running stand-in.
type Server struct {
	URL      string
	Shape    Shape
	Latency  time.Duration
	requests atomic.Int64
}

// Requests is how many listings it answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// New starts a stand-in for bucket over shape and points the SDK at it for
// the rest of the test (AWS_ENDPOINT_URL_S3, path-style).
func New(t testing.TB, shape Shape, latency time.Duration) *Server {
	t.Helper()
	s := &Server{Shape: shape, Latency: latency}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "listing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "listing")
	return s
}

type object struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

type commonPrefix struct{ Prefix string }

type listResult struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []object       `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	bucket := strings.Trim(r.URL.Path, "/")
	q := r.URL.Query()
	if r.Method != http.MethodGet || strings.Contains(bucket, "/") || q.Get("list-type") != "2" {
		w.WriteHeader(http.StatusNotImplemented)
		fmt.Fprint(w, `<Error><Code>NotImplemented</Code><Message>this stand-in answers ListObjectsV2 only</Message></Error>`)
		return
	}
	res, err := s.list(bucket, q.Get("prefix"), q.Get("delimiter"), q.Get("start-after"), q.Get("continuation-token"), q.Get("max-keys"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<Error><Code>InvalidArgument</Code><Message>%s</Message></Error>`, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(res)
}

// list answers one ListObjectsV2 request as S3 does: keys in byte order
// after start-after (or the continuation token), those holding the
// delimiter after the prefix rolled into one common prefix each, up to
// max-keys entries (1,000 at most) with a token to go on.
func (s *Server) list(bucket, prefix, delim, startAfter, token, maxKeys string) (*listResult, error) {
	max := 1000
	if maxKeys != "" {
		n, err := strconv.Atoi(maxKeys)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("max-keys %q", maxKeys)
		}
		max = min(n, 1000)
	}
	res := &listResult{Name: bucket, Prefix: prefix, Delimiter: delim, StartAfter: startAfter, ContinuationToken: token, MaxKeys: max}
	// The token is where to go on from: past a key, or past a whole common prefix.
	from, inclusive := startAfter, false
	if token != "" {
		b, err := base64.StdEncoding.DecodeString(token)
		if err != nil {
			return nil, fmt.Errorf("the continuation token is not valid")
		}
		from = string(b)
	}
	marker := from // a common prefix at or before it was listed already: S3 skips it
	if from < prefix {
		from, inclusive = prefix, true
	}
	c := s.Shape.seek(from, inclusive)
	for res.KeyCount < max {
		key, ok := s.Shape.at(c)
		if !ok || !strings.HasPrefix(key, prefix) {
			return res, nil
		}
		if delim != "" {
			if i := strings.Index(key[len(prefix):], delim); i >= 0 {
				cp := key[:len(prefix)+i+len(delim)]
				if cp > marker {
					res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{cp})
					res.KeyCount++
				}
				from = cp + "\xff" // past every key under it
				c = s.Shape.seek(from, false)
				continue
			}
		}
		h := sha256.Sum256([]byte(key))
		res.Contents = append(res.Contents, object{Key: key, LastModified: "2024-01-02T03:04:05.000Z",
			ETag: `"` + hex.EncodeToString(h[:16]) + `"`, Size: Size(key), StorageClass: "STANDARD"})
		res.KeyCount++
		from = key
		c = s.Shape.next(c)
	}
	if key, ok := s.Shape.at(c); ok && strings.HasPrefix(key, prefix) {
		res.IsTruncated = true
		res.NextContinuationToken = base64.StdEncoding.EncodeToString([]byte(from))
	}
	return res, nil
}
