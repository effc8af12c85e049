package render

import (
	"errors"
	"io"
	"slices"
	"sort"
	"sync"

	"quicklook/internal/parallel"
)

// readCache sits between GDAL and a Source for the length of one render.
// GDAL reads in small pieces (IFD entries, one strip at a time) and may open
// the same file through several handles; the cache serves them all from the
// byte extents fetched so far. Small reads fetch at least readAhead bytes;
// Prefetch fetches the exact ranges a read will need, concurrently. It lives
// only as long as the render, so it never serves bytes of an older object.
type readCache struct {
	src       Source
	readAhead int64
	maxBytes  int64 // beyond this, extents are dropped (bounded memory)
	parallel  int
	policy    ReadPolicy

	mu       sync.Mutex
	files    map[string][]extent // sorted by offset; may overlap
	sizes    map[string]int64
	held     int64
	plans    map[string]*prefetchPlan
	inflight map[string][]*pending // prefetches under way
	fetching sync.WaitGroup
	slots    chan struct{} // bounds prefetches under way
}

// pending is a prefetch under way; done is closed when it has landed (or
// failed: then the read that wanted it fetches it again itself).
type pending struct {
	r    [2]int64
	done chan struct{}
}

// prefetchPlan is the requests a read will need, in file order, started a
// window ahead of where GDAL is reading: memory stays bounded however much
// the whole read needs (a tiled level without overviews is the whole file).
type prefetchPlan struct {
	chunks []fetchChunk // sorted
	next   int          // first chunk not fetched yet
	window int64        // how far ahead of GDAL requests may start
}

// prefetchWindow keeps sparse requests (2 MiB at most) busy many at once; a
// bulk plan's window holds bulkStreams of its requests.
const prefetchWindow = 16 << 20

type extent struct {
	off  int64
	data []byte
}

func (e extent) end() int64 { return e.off + int64(len(e.data)) }

func newReadCache(src Source, readAhead, maxBytes int64, parallel int, policy ReadPolicy) *readCache {
	return &readCache{src: src, readAhead: readAhead, maxBytes: maxBytes, parallel: parallel, policy: policy,
		files: map[string][]extent{}, sizes: map[string]int64{}, plans: map[string]*prefetchPlan{},
		inflight: map[string][]*pending{}, slots: make(chan struct{}, parallel)}
}

func (c *readCache) Size(key string) (int64, error) {
	c.mu.Lock()
	n, ok := c.sizes[key]
	c.mu.Unlock()
	if ok {
		return n, nil
	}
	n, err := c.src.Size(key)
	if err == nil {
		c.mu.Lock()
		c.sizes[key] = n
		c.mu.Unlock()
	}
	return n, err
}

// gaps returns the parts of [off, end) that no extent covers.
func (c *readCache) gaps(key string, off, end int64) [][2]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][2]int64
	pos := off
	for _, e := range c.files[key] {
		if e.end() <= pos {
			continue
		}
		if e.off >= end {
			break
		}
		if e.off > pos {
			out = append(out, [2]int64{pos, e.off})
		}
		pos = max(pos, e.end())
		if pos >= end {
			return out
		}
	}
	if pos < end {
		out = append(out, [2]int64{pos, end})
	}
	return out
}

// fetch reads [r[0], r[1]) with one ranged read and keeps it.
func (c *readCache) fetch(key string, r [2]int64) error {
	buf := make([]byte, r[1]-r[0])
	n, err := c.src.ReadAt(key, buf, r[0])
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	c.keep(key, r[0], buf[:n])
	return nil
}

// keep adds an extent.
func (c *readCache) keep(key string, off int64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held+int64(len(data)) > c.maxBytes {
		c.files = map[string][]extent{}
		c.held = 0
	}
	exts := append(c.files[key], extent{off, data})
	sort.Slice(exts, func(i, j int) bool { return exts[i].off < exts[j].off })
	c.files[key] = exts
	c.held += int64(len(data))
}

func (c *readCache) fetchAll(key string, ranges [][2]int64) error {
	if len(ranges) == 1 {
		return c.fetch(key, ranges[0])
	}
	return parallel.EachErr(len(ranges), c.parallel, func(i int) error { return c.fetch(key, ranges[i]) })
}

// copyOut copies cached bytes of [off, off+len(p)) into p and returns how
// many contiguous bytes from off it found.
func (c *readCache) copyOut(key string, p []byte, off int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	exts := c.files[key]
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		i := sort.Search(len(exts), func(i int) bool { return exts[i].off > pos })
		copied := 0
		// Extents may overlap: any one starting at or before pos may cover it.
		for j := i - 1; j >= 0 && copied == 0; j-- {
			if e := exts[j]; e.end() > pos {
				copied = copy(p[n:], e.data[pos-e.off:])
			}
		}
		if copied == 0 {
			break
		}
		n += copied
	}
	return n
}

func (c *readCache) ReadAt(key string, p []byte, off int64) (int, error) {
	size, err := c.Size(key)
	if err != nil {
		return 0, err
	}
	if off >= size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), size-off)
	c.advance(key, off)
	c.await(key, off, off+want)
	for attempt := 0; attempt < 2; attempt++ {
		var todo [][2]int64
		for _, g := range c.gaps(key, off, off+want) {
			// Read ahead on small reads: GDAL parses headers a few bytes at a time.
			ahead := c.readAhead
			if g[0] == 0 {
				ahead = max(ahead, c.policy.firstRead())
			}
			if g[1]-g[0] < ahead {
				g[1] = min(g[0]+ahead, size)
			}
			todo = append(todo, g)
		}
		if len(todo) > 0 {
			if err := c.fetchAll(key, todo); err != nil {
				return 0, err
			}
		}
		// A full cache may have dropped extents between fetch and copy: retry once.
		if n := c.copyOut(key, p[:want], off); int64(n) == want {
			if want < int64(len(p)) {
				return n, io.EOF
			}
			return n, nil
		}
	}
	return 0, errors.New("read cache too small for one read: raise the read cache size")
}

// Prefetch plans the given byte ranges ([offset, length] pairs) by the
// cache's read policy (see planReads) and starts the first window of its
// requests in the background; the rest follow as GDAL reads (see advance),
// so its one-by-one reads are served from memory and decoding overlaps
// fetching. It returns the plan, to be recorded.
func (c *readCache) Prefetch(key string, ranges [][2]int64) (readPlan, error) {
	size, err := c.Size(key)
	if err != nil || len(ranges) == 0 {
		return readPlan{}, err
	}
	var want [][2]int64
	for _, r := range ranges {
		if r[0] < size && r[1] > 0 {
			want = append(want, c.gaps(key, r[0], min(r[0]+r[1], size))...)
		}
	}
	if len(want) == 0 {
		// GDAL's own reads (its headers, the first block) already hold it all.
		return readPlan{name: PlanSparse, why: "sparse (on demand): what was needed came with the first reads"}, nil
	}
	plan := planReads(want, c.policy)
	window := int64(prefetchWindow)
	if plan.name == PlanBulk {
		window = bulkStreams * bulkMaxKept
	}
	c.mu.Lock()
	c.plans[key] = &prefetchPlan{chunks: plan.chunks, window: min(window, c.maxBytes/2)}
	c.mu.Unlock()
	c.advance(key, 0)
	return plan, nil
}

// advance starts the planned requests up to a window past off without
// waiting for them, and lets go of extents that GDAL has read past when the
// cache is full.
func (c *readCache) advance(key string, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pl := c.plans[key]
	if pl == nil {
		return
	}
	// The window counts the bytes requests keep ahead of GDAL, not those
	// that stream past.
	var ahead int64
	for i := 0; i < pl.next; i++ {
		ahead += pl.chunks[i].keptAfter(off)
	}
	var batch []fetchChunk
	for pl.next < len(pl.chunks) {
		ch := pl.chunks[pl.next]
		if ch.r[1] <= off { // GDAL is already past it: never needed after all
			pl.next++
			continue
		}
		k := ch.keptAfter(off)
		if ahead > 0 && ahead+k > pl.window {
			break
		}
		batch = append(batch, ch)
		ahead += k
		pl.next++
	}
	if c.held > pl.window {
		c.evictBefore(key, off)
	}
	for _, ch := range batch {
		pieces := ch.keep
		if pieces == nil {
			pieces = [][2]int64{ch.r}
		}
		var waits []*pending
		for _, r := range pieces {
			p := &pending{r: r, done: make(chan struct{})}
			c.inflight[key] = append(c.inflight[key], p)
			waits = append(waits, p)
		}
		c.fetching.Add(1)
		go func() {
			defer c.fetching.Done()
			c.slots <- struct{}{}
			// A failure shows when the read that needs the bytes fetches them again.
			c.fetchChunk(key, ch, waits)
			<-c.slots
			c.mu.Lock()
			c.inflight[key] = slices.DeleteFunc(c.inflight[key], func(q *pending) bool { return slices.Contains(waits, q) })
			c.mu.Unlock()
			for _, p := range waits {
				select {
				case <-p.done:
				default:
					close(p.done)
				}
			}
		}()
	}
}

// fetchChunk makes one planned request. A sparse request keeps all it
// reads; a bulk one streams its range and keeps only the pieces planned,
// each landing (and waking the reads waiting on it) as soon as it is whole.
func (c *readCache) fetchChunk(key string, ch fetchChunk, waits []*pending) {
	if ch.keep == nil {
		c.fetch(key, ch.r)
		return
	}
	pos, i := ch.r[0], 0
	var piece []byte
	stream(c.src, key, ch.r[0], ch.r[1]-ch.r[0], func(p []byte) error {
		for len(p) > 0 && i < len(ch.keep) {
			k := ch.keep[i]
			if pos < k[0] { // bytes between the pieces: let them pass
				skip := min(int64(len(p)), k[0]-pos)
				p, pos = p[skip:], pos+skip
				continue
			}
			take := min(int64(len(p)), k[1]-pos)
			piece = append(piece, p[:take]...)
			p, pos = p[take:], pos+take
			if pos == k[1] {
				c.keep(key, k[0], piece)
				close(waits[i].done)
				piece, i = nil, i+1
			}
		}
		if i == len(ch.keep) {
			return errEnough
		}
		return nil
	})
}

// errEnough stops a stream once every piece it was read for has landed.
var errEnough = errors.New("read enough")

// await waits for the prefetches under way that overlap [off, end).
func (c *readCache) await(key string, off, end int64) {
	c.mu.Lock()
	var waits []chan struct{}
	for _, p := range c.inflight[key] {
		if p.r[0] < end && p.r[1] > off {
			waits = append(waits, p.done)
		}
	}
	c.mu.Unlock()
	for _, w := range waits {
		<-w
	}
}

// wait waits for every prefetch under way: a render's bytes are all
// counted when it returns.
func (c *readCache) wait() { c.fetching.Wait() }

// evictBefore drops extents that end before off (caller holds mu).
func (c *readCache) evictBefore(key string, off int64) {
	exts := c.files[key][:0]
	for _, e := range c.files[key] {
		if e.end() <= off && e.off > 0 {
			c.held -= int64(len(e.data))
			continue
		}
		exts = append(exts, e)
	}
	c.files[key] = exts
}

// coalesce sorts [start, end) ranges and joins those closer than gap.
func coalesce(rs [][2]int64, gap int64) [][2]int64 {
	if len(rs) < 2 {
		return rs
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r[0] <= last[1]+gap {
			last[1] = max(last[1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}
