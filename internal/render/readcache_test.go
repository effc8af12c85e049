package render

import (
	"bytes"
	"io"
	"io/fs"
	"sync"
	"testing"
	"time"
)

// memSource serves one in-memory object and records every read.
type memSource struct {
	data  []byte
	mu    sync.Mutex
	reads [][2]int64
}

func (m *memSource) Size(key string) (int64, error) {
	if key != "k" {
		return -1, fs.ErrNotExist
	}
	return int64(len(m.data)), nil
}

func (m *memSource) ReadAt(key string, p []byte, off int64) (int, error) {
	m.mu.Lock()
	m.reads = append(m.reads, [2]int64{off, int64(len(p))})
	m.mu.Unlock()
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestReadCacheServesRepeatsFromMemory(t *testing.T) {
	src := &memSource{data: bytes.Repeat([]byte("0123456789"), 10000)} // 100,000 bytes
	c := newReadCache(src, 4096, 1<<20, 4, sparse)
	p := make([]byte, 8)
	for i := 0; i < 3; i++ {
		if n, err := c.ReadAt("k", p, 10); n != 8 || err != nil || string(p) != "01234567" {
			t.Fatalf("ReadAt = %d %v %q", n, err, p)
		}
	}
	if len(src.reads) != 1 || src.reads[0] != [2]int64{10, 4096} {
		t.Fatalf("reads %v: want one read-ahead read", src.reads)
	}
	// A read spanning cached and missing bytes fetches only the gap.
	big := make([]byte, 6000)
	if n, err := c.ReadAt("k", big, 2000); n != 6000 || err != nil || !bytes.Equal(big, src.data[2000:8000]) {
		t.Fatalf("spanning read = %d %v", n, err)
	}
	if last := src.reads[len(src.reads)-1]; last[0] != 4106 {
		t.Fatalf("gap read started at %d, want 4106", last[0])
	}
	// At the end: short read and EOF, never past the object.
	n, err := c.ReadAt("k", big, 99_000)
	if n != 1000 || err != io.EOF || !bytes.Equal(big[:1000], src.data[99_000:]) {
		t.Fatalf("end read = %d %v", n, err)
	}
	if _, err := c.ReadAt("k", big, 100_000); err != io.EOF {
		t.Fatalf("past the end: %v", err)
	}
	if _, err := c.ReadAt("missing", big, 0); err == nil {
		t.Fatal("missing key read")
	}
}

var sparse = ReadPolicy{Plan: PlanSparse, RequestUSD: 4e-7, VCPUSecondUSD: 0.015 / 3600, Latency: 30 * time.Millisecond, BandwidthBps: 100e6}

func TestReadCachePrefetchCoalescesAndIsExact(t *testing.T) {
	src := &memSource{data: make([]byte, 1<<20)}
	c := newReadCache(src, 64<<10, 8<<20, 4, sparse)
	// Three strips close together, one far away.
	if _, err := c.Prefetch("k", [][2]int64{{1000, 2000}, {5000, 2000}, {9000, 1000}, {600_000, 24_000}}); err != nil {
		t.Fatal(err)
	}
	c.wait()
	if len(src.reads) != 2 {
		t.Fatalf("reads %v: want the near ranges joined into one", src.reads)
	}
	var total int64
	for _, r := range src.reads {
		total += r[1]
	}
	if total != (10_000-1000)+24_000 {
		t.Fatalf("prefetched %d bytes: not exact", total)
	}
	before := len(src.reads)
	p := make([]byte, 24_000)
	if _, err := c.ReadAt("k", p, 600_000); err != nil || len(src.reads) != before {
		t.Fatalf("prefetched range read again (%v)", err)
	}
}

func TestReadCacheStaysBounded(t *testing.T) {
	src := &memSource{data: make([]byte, 4<<20)}
	c := newReadCache(src, 64<<10, 256<<10, 2, sparse)
	p := make([]byte, 64<<10)
	for off := int64(0); off < 4<<20; off += 64 << 10 {
		if _, err := c.ReadAt("k", p, off); err != nil {
			t.Fatal(err)
		}
		if c.held > 256<<10 {
			t.Fatalf("cache holds %d bytes, bound is %d", c.held, 256<<10)
		}
	}
}

// A plan far larger than the cache (a tiled level without overviews is the
// whole file) is fetched a window ahead of the reads: each byte once,
// memory bounded.
func TestReadCachePrefetchWindowStreamsLargePlans(t *testing.T) {
	const mb = 1 << 20
	src := &memSource{data: make([]byte, 64*mb)}
	c := newReadCache(src, 64<<10, 16*mb, 8, sparse)
	var ranges [][2]int64
	for off := int64(0); off < 60*mb; off += mb {
		ranges = append(ranges, [2]int64{off, mb}) // adjacent tiles: joined, then cut into chunks
	}
	if _, err := c.Prefetch("k", ranges); err != nil {
		t.Fatal(err)
	}
	c.wait()
	if held := c.heldBytes(); held > 8*mb+sparseChunk {
		t.Fatalf("prefetch fetched %d bytes up front, window is %d", held, 8*mb)
	}
	p := make([]byte, mb)
	for off := int64(0); off < 60*mb; off += mb {
		if _, err := c.ReadAt("k", p, off); err != nil {
			t.Fatal(err)
		}
		if held := c.heldBytes(); held > 16*mb {
			t.Fatalf("cache holds %d bytes at %d, bound is %d", held, off, 16*mb)
		}
	}
	c.wait()
	var total int64
	for _, r := range src.reads {
		total += r[1]
	}
	if total != 60*mb {
		t.Fatalf("read %d bytes from the source for a 60 MB plan", total)
	}
}

func (c *readCache) heldBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// gatedSource holds back reads at or past gate until released.
type gatedSource struct {
	memSource
	gate    int64
	release chan struct{}
}

func (g *gatedSource) ReadAt(key string, p []byte, off int64) (int, error) {
	if off >= g.gate {
		<-g.release
	}
	return g.memSource.ReadAt(key, p, off)
}

// Reading bytes that have landed does not wait for the prefetches ahead of
// them: decoding overlaps fetching, so one image streams through many
// requests at once instead of one window at a time.
func TestReadCacheReadsDoNotWaitForPrefetchesAhead(t *testing.T) {
	const mb = 1 << 20
	src := &gatedSource{memSource: memSource{data: make([]byte, 32*mb)}, gate: sparseChunk, release: make(chan struct{})}
	c := newReadCache(src, 64<<10, 32*mb, 8, sparse)
	done := make(chan error, 1)
	go func() {
		p := make([]byte, sparseChunk)
		_, err := c.Prefetch("k", [][2]int64{{0, 32 * mb}})
		for off := int64(0); off < sparseChunk && err == nil; off += 64 << 10 {
			_, err = c.ReadAt("k", p[:64<<10], off)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(src.release)
		t.Fatal("reads of the first chunk waited for the chunks after it")
	}
	close(src.release)
	c.wait()
}
