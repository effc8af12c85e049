package batchtest

import (
	"container/heap"
	"math/rand"
	"sort"
	"time"
)

// Simulation runs submitted jobs without running anything: each job (each
// child of an array job) waits for one of Slots, starts (Startup), works
// for Duration in a virtual time that passes Speed times faster than the
// real one, and ends as the job definition's retry strategy would have it:
// an attempt is interrupted with probability Interrupt (a Spot reclaim:
// exit 75 after SIGTERM) at a random moment and tried again, up to
// Attempts, the next attempt doing only the work left (the job skips what
// is up to date); Outcome may fail a child for good (exit 3: too many
// broken images).
type Simulation struct {
	Slots     int
	Speed     float64
	Interrupt float64
	Attempts  int
	Seed      int64
	Startup   time.Duration
	// Duration is how long child index of job j works (index -1: a plain job).
	Duration func(j Job, index int) time.Duration
	// Outcome, when set, decides a finished attempt's exit code (0 or 3).
	Outcome func(j Job, index int) int
	// OnEnd, when set, is told of every attempt's end (as the job's
	// summary would tell it).
	OnEnd func(AttemptEnd)
}

// AttemptEnd is how one attempt of a child ended, in virtual time from the
// first submission.
type AttemptEnd struct {
	Job         Job
	Index       int // -1: a plain job
	Attempt     int
	Start, End  time.Duration
	Interrupted bool
	// Did is the part of the child's whole work this attempt did (0-1).
	Did      float64
	ExitCode int
}

// SimStats counts what the simulation did.
type SimStats struct {
	Attempts, Interrupted, Retried, FailedForGood int
	Makespan                                      time.Duration // virtual: from the first submission to the last end
}

// child is one child of an array job (or a plain job's only run).
type child struct {
	Status   string
	Attempts int
	ExitCode *int
	Reason   string
	left     float64 // part of its work still to do
}

type task struct {
	job   *Job
	index int
}

type running struct {
	task
	start, end  time.Duration
	work        time.Duration // the child's whole work
	interrupted bool
}

type runHeap []running

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(running)) }
func (h *runHeap) Pop() any          { old := *h; r := old[len(old)-1]; *h = old[:len(old)-1]; return r }

type simulator struct {
	Simulation
	rng     *rand.Rand
	started time.Time     // real time the simulation began
	clock   time.Duration // virtual time simulated up to
	first   time.Duration // virtual time of the first submission
	last    time.Duration // virtual time of the last end
	waiting []task
	running runHeap
	stats   SimStats
}

// Simulate makes the fake run what is submitted from now on.
func (f *Fake) Simulate(s Simulation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Attempts < 1 {
		s.Attempts = 3
	}
	f.sim = &simulator{Simulation: s, rng: rand.New(rand.NewSource(s.Seed)), started: time.Now(), first: -1}
}

// SimStats reports the simulation so far.
func (f *Fake) SimStats() SimStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	st := f.sim.stats
	st.Makespan = f.sim.last - f.sim.first
	return st
}

// now is the virtual time.
func (s *simulator) now() time.Duration {
	return time.Duration(float64(time.Since(s.started)) * s.Speed)
}

// enqueue puts a newly submitted job's children in line (caller holds mu).
func (f *Fake) enqueue(j *Job) {
	s := f.sim
	f.advance()
	if s.first < 0 {
		s.first = s.clock
	}
	n := max(j.ArraySize, 1)
	j.children = make([]child, n)
	for i := range j.children {
		j.children[i].Status = "RUNNABLE"
		j.children[i].left = 1
		idx := i
		if j.ArraySize == 0 {
			idx = -1
		}
		s.waiting = append(s.waiting, task{j, idx})
	}
	j.Status = "RUNNABLE"
	s.start(s.clock)
}

// start runs waiting tasks on free slots at virtual time at.
func (s *simulator) start(at time.Duration) {
	for len(s.waiting) > 0 && len(s.running) < s.Slots {
		t := s.waiting[0]
		s.waiting = s.waiting[1:]
		c := t.child()
		work := s.Duration(*t.job, t.index)
		d := s.Startup + time.Duration(c.left*float64(work))
		r := running{task: t, start: at, end: at + d, work: work}
		if s.rng.Float64() < s.Interrupt {
			r.interrupted = true
			r.end = at + time.Duration(s.rng.Float64()*float64(d))
		}
		c.Status = "RUNNING"
		c.Attempts++
		s.stats.Attempts++
		heap.Push(&s.running, r)
		t.job.update()
	}
}

func (t task) child() *child {
	if t.index < 0 {
		return &t.job.children[0]
	}
	return &t.job.children[t.index]
}

// advance plays the simulation forward to the present (caller holds mu).
func (f *Fake) advance() {
	s := f.sim
	if s == nil {
		return
	}
	now := s.now()
	for len(s.running) > 0 && s.running[0].end <= now {
		r := heap.Pop(&s.running).(running)
		c := r.child()
		did := c.left
		if r.interrupted {
			did = min(c.left, max(0, float64(r.end-r.start-s.Startup)/float64(max(r.work, 1))))
		}
		c.left -= did
		switch {
		case r.interrupted && c.Attempts < s.Attempts:
			s.stats.Interrupted++
			s.stats.Retried++
			c.Status = "RUNNABLE"
			s.waiting = append(s.waiting, r.task)
		case r.interrupted:
			s.stats.Interrupted++
			s.stats.FailedForGood++
			code := 75
			c.Status, c.ExitCode, c.Reason = "FAILED", &code, "Essential container in task exited"
		default:
			code := 0
			if s.Outcome != nil {
				code = s.Outcome(*r.job, r.index)
			}
			c.ExitCode = &code
			if code == 0 {
				c.Status = "SUCCEEDED"
			} else {
				c.Status, c.Reason = "FAILED", "Essential container in task exited"
				s.stats.FailedForGood++
			}
		}
		s.last = max(s.last, r.end)
		if s.OnEnd != nil {
			code := -1
			if c.ExitCode != nil {
				code = *c.ExitCode
			} else if r.interrupted {
				code = 75
			}
			s.OnEnd(AttemptEnd{Job: *r.job, Index: r.index, Attempt: c.Attempts, Start: r.start - s.first, End: r.end - s.first,
				Interrupted: r.interrupted, Did: did, ExitCode: code})
		}
		r.job.update()
		s.start(r.end)
	}
	s.clock = max(s.clock, now)
}

// update derives a simulated job's status from its children's.
func (j *Job) update() {
	counts := map[string]int{}
	for _, c := range j.children {
		counts[c.Status]++
	}
	j.Summary = counts
	done := counts["SUCCEEDED"] + counts["FAILED"]
	switch {
	case done == len(j.children) && counts["FAILED"] > 0:
		j.Status = "FAILED"
		j.Reason = "Array Child Job failed"
		if j.ArraySize == 0 {
			j.ExitCode, j.Reason = j.children[0].ExitCode, j.children[0].Reason
		}
	case done == len(j.children):
		j.Status, j.Reason = "SUCCEEDED", ""
		code := 0
		j.ExitCode = &code
	case counts["RUNNING"] > 0:
		j.Status = "RUNNING"
	default:
		j.Status = "RUNNABLE"
	}
	if j.Status == "RUNNING" || done > 0 {
		j.LogStream = "quicklook/default/" + j.ID
	}
}

// childIndexes are the indexes of a job's children in a state, in order.
func (j *Job) childIndexes(status string) []int {
	var out []int
	for i, c := range j.children {
		if c.Status == status {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}
