package planner

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"quicklook/internal/planfile"
	"quicklook/internal/storage"
)

// Packing is how a counted run is cut into array children: by their
// predicted vCPU-seconds, not their bytes (a COG costs a tile, a striped
// file its whole span).
type Packing struct {
	Shards []planfile.Shard
	// Seconds is each shard's predicted vCPU-seconds.
	Seconds []float64
	// Median, Longest are a child's predicted wall time; Makespan the run's,
	// at MaxVCPUs with JobVCPUs each.
	Median, Longest, Makespan time.Duration
	MaxVCPUs, JobVCPUs        int
}

// ChildStartup is a child's time before its first image, counted in its
// wall time: the container's start on a warm instance, the listing of its
// ranges and the read of their last manifests.
const ChildStartup = 15 * time.Second

// costed is a piece of a prefix with its predicted vCPU-seconds.
type costed struct {
	Sized
	seconds float64
}

// rate is a prefix's predicted vCPU-seconds a byte (and an image, where it
// has no bytes).
func rate(inv *Inventory, s Sized) (perByte, perImage float64) {
	e, ok := inv.Estimates[s.Prefix]
	if !ok || s.Objects == 0 {
		return 0, 0
	}
	secs := e.VCPUHours * 3600
	if s.Bytes > 0 {
		return secs / float64(s.Bytes), 0
	}
	return 0, secs / float64(s.Objects)
}

// PackByCost cuts the counted prefixes into array children of about
// childMinutes of one job's vCPUs each: prefixes costing more than a
// quarter of that are split by key range, and the pieces are dealt,
// dearest first, to the least loaded of as many children as the run needs
// (which keeps the longest child near the median).
func PackByCost(ctx context.Context, inv *Inventory, src storage.Store, cfg Config, childMinutes float64, jobVCPUs, maxVCPUs int) (*Packing, error) {
	if !inv.Counted || inv.Estimates == nil {
		return nil, fmt.Errorf("packing by cost needs counted prefixes and their estimates")
	}
	target := childMinutes * 60 * float64(jobVCPUs)
	counted := map[string]Sized{}
	var prefixes []string
	for _, s := range inv.Prefixes {
		if s.Objects > 0 {
			counted[s.Prefix] = s
			prefixes = append(prefixes, s.Prefix)
		}
	}
	// A prefix dearer than a quarter child is cut by listing it again: the
	// listings run side by side, as the count's did.
	pieces, err := forEach(ctx, prefixes, listParallel(cfg), func(prefix string) ([]costed, error) {
		s := counted[prefix]
		perByte, perImage := rate(inv, s)
		cost := func(p Sized) float64 { return perByte*float64(p.Bytes) + perImage*float64(p.Objects) }
		parts := []Sized{s}
		if c := cost(s); c > target/4 && perByte > 0 {
			var err error
			if parts, err = Split(ctx, src, s.Prefix, int64(target/4/perByte), cfg.Filter); err != nil {
				return nil, fmt.Errorf("splitting %s: %w", s.Prefix, err)
			}
		}
		out := make([]costed, len(parts))
		for i, p := range parts {
			out[i] = costed{p, cost(p)}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	var total float64
	for _, p := range pieces {
		total += p.seconds
	}
	if len(pieces) == 0 {
		return &Packing{JobVCPUs: jobVCPUs, MaxVCPUs: maxVCPUs}, nil
	}
	children := max(1, int(math.Ceil(total/target)))
	sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].seconds > pieces[j].seconds })
	bins := make(loads, children)
	for i := range bins {
		bins[i].index = i
	}
	h := &bins
	heap.Init(h)
	shards := make([]planfile.Shard, children)
	for _, p := range pieces {
		b := heap.Pop(h).(bin)
		sh := &shards[b.index]
		sh.Ranges = append(sh.Ranges, p.Range)
		sh.Objects += p.Objects
		sh.Bytes += p.Bytes
		b.seconds += p.seconds
		heap.Push(h, b)
	}
	seconds := make([]float64, children)
	for _, b := range bins {
		seconds[b.index] = b.seconds
	}
	// Ranges in key order within a shard, shards in order of their first key:
	// the same inputs always give the same plan (and shard names).
	order := make([]int, children)
	for i := range order {
		order[i] = i
		sort.Slice(shards[i].Ranges, func(a, b int) bool { return rangeKey(shards[i].Ranges[a]) < rangeKey(shards[i].Ranges[b]) })
	}
	sort.Slice(order, func(a, b int) bool {
		return rangeKey(shards[order[a]].Ranges[0]) < rangeKey(shards[order[b]].Ranges[0])
	})
	p := &Packing{JobVCPUs: jobVCPUs, MaxVCPUs: maxVCPUs}
	for _, i := range order {
		p.Shards = append(p.Shards, shards[i])
		p.Seconds = append(p.Seconds, seconds[i])
	}
	p.summarise()
	return p, nil
}

// summarise computes the median and longest child and the makespan: the
// children scheduled, dearest first, on maxVCPUs/jobVCPUs slots.
func (p *Packing) summarise() {
	if len(p.Seconds) == 0 {
		return
	}
	wall := func(vcpuSeconds float64) time.Duration {
		return ChildStartup + time.Duration(vcpuSeconds/float64(p.JobVCPUs)*float64(time.Second))
	}
	sorted := append([]float64(nil), p.Seconds...)
	sort.Float64s(sorted)
	p.Median, p.Longest = wall(sorted[len(sorted)/2]), wall(sorted[len(sorted)-1])
	slots := make(loads, max(1, p.MaxVCPUs/max(1, p.JobVCPUs)))
	h := &slots
	heap.Init(h)
	var end float64
	for i := len(sorted) - 1; i >= 0; i-- {
		b := heap.Pop(h).(bin)
		b.seconds += ChildStartup.Seconds() + sorted[i]/float64(p.JobVCPUs)
		end = math.Max(end, b.seconds)
		heap.Push(h, b)
	}
	p.Makespan = time.Duration(end * float64(time.Second))
}

// bin is a child (or a slot) and its load; loads is a min-heap of them.
type bin struct {
	index   int
	seconds float64
}

type loads []bin

func (l loads) Len() int { return len(l) }
func (l loads) Less(i, j int) bool {
	return l[i].seconds < l[j].seconds || l[i].seconds == l[j].seconds && l[i].index < l[j].index
}
func (l loads) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l *loads) Push(x any)   { *l = append(*l, x.(bin)) }
func (l *loads) Pop() any     { old := *l; b := old[len(old)-1]; *l = old[:len(old)-1]; return b }
