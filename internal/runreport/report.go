package runreport

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"quicklook/internal/progress"
	"quicklook/internal/runspec"
)

// Report is one look at a run.
type Report struct {
	Record  *runspec.Record
	States  []runspec.State
	Account Account
	Now     time.Time
}

// Active counts the jobs still waiting or running.
func (r Report) Active() int {
	n := 0
	for _, s := range r.States {
		if runspec.Active(s.Status) {
			n++
		}
	}
	return n
}

// Failed counts the failures no retry job has taken over: failed plain
// jobs and failed array children.
func (r Report) Failed() int { return runspec.Tally(r.Record, r.States)[runspec.Failed] }

// stateOrder is the order states are shown in: the way a job goes.
var stateOrder = []string{runspec.Submitted, "PENDING", "RUNNABLE", "STARTING", "RUNNING", runspec.Succeeded, runspec.Failed, runspec.Retried, runspec.Unknown}

func counts(tally map[string]int) (parts []string, total, ended int) {
	for _, st := range stateOrder {
		if n := tally[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", Thousands(n), strings.ToLower(st)))
			total += n
			if !runspec.Active(st) {
				ended += n
			}
		}
	}
	return parts, total, ended
}

// elapsed is the run's wall time so far: to now while jobs are active,
// else to the last summary's end.
func (r Report) elapsed() time.Duration {
	start := r.Record.Started
	if start.IsZero() || (!r.Account.First.IsZero() && r.Account.First.Before(start)) {
		start = r.Account.First
	}
	if start.IsZero() {
		return 0
	}
	end := r.Now
	if r.Active() == 0 && !r.Account.Last.IsZero() {
		end = r.Account.Last
	}
	return max(0, end.Sub(start))
}

// rate is images a second, over the span of the jobs' own summaries (their
// first start to their last end), or else the run's elapsed time.
func (r Report) rate() float64 {
	a := r.Account
	span := a.Last.Sub(a.First).Seconds()
	if span <= 0 {
		span = r.elapsed().Seconds()
	}
	if span <= 0 {
		return 0
	}
	return float64(a.Done) / span
}

// left predicts the time left: the planned images still to do at the rate
// so far, or (an uncounted run) the children still to end at theirs.
func (r Report) left(ended, total int) (time.Duration, bool) {
	if r.Active() == 0 {
		return 0, false
	}
	p := r.Record.Planned
	if p != nil && p.MakespanSeconds > 0 && ended*20 < total {
		// Too few children have ended to measure a rate: the plan's.
		return max(0, time.Duration(p.MakespanSeconds*float64(time.Second))-r.elapsed()), true
	}
	if p != nil && p.Objects > 0 && r.Account.Done > 0 && r.rate() > 0 {
		return time.Duration(float64(max(0, p.Objects-r.Account.Done)) / r.rate() * float64(time.Second)), true
	}
	if el := r.elapsed().Seconds(); ended > 0 && el > 0 {
		return time.Duration(el * float64(total-ended) / float64(ended) * float64(time.Second)), true
	}
	return 0, false
}

// Write prints the run on one screen; at most maxFailures failures are
// listed (0: all).
func (r Report) Write(w io.Writer, maxFailures int) {
	rec, a := r.Record, r.Account
	tally := runspec.Tally(rec, r.States)
	parts, total, ended := counts(tally)
	arrays := 0
	for _, j := range rec.Jobs {
		if j.ArraySize > 0 {
			arrays++
		}
	}
	fmt.Fprintf(w, "run %s · %s · %s\n", rec.RunID, rec.Executor, rec.Dest)
	what := fmt.Sprintf("%d jobs", len(rec.Jobs))
	if arrays > 0 {
		what = fmt.Sprintf("%d jobs (%d array jobs): %s runs", len(rec.Jobs), arrays, Thousands(total))
	}
	fmt.Fprintf(w, "jobs     %s: %s\n", what, strings.Join(parts, ", "))
	fmt.Fprintf(w, "         %s %s of %s ended\n", progress.Text(ended, total, 30), Thousands(ended), Thousands(total))

	el := r.elapsed()
	images := fmt.Sprintf("%s done", Thousands(a.Done))
	if p := rec.Planned; p != nil && p.Objects > 0 {
		images = fmt.Sprintf("%s of %s planned (%.0f%%)", Thousands(a.Done), Thousands(p.Objects), 100*float64(a.Done)/float64(p.Objects))
	}
	rate := ""
	if v := r.rate(); v > 0 {
		rate = fmt.Sprintf(" · %.1f/s", v)
	}
	fmt.Fprintf(w, "images   %s: %s made, %s up to date, %s failed%s\n", images, Thousands(a.Made), Thousands(a.UpToDate), Thousands(a.Failed), rate)

	cost := fmt.Sprintf("%s spent (%s requests, %s vCPU) in %d job attempts", usd(a.Total), usd(a.Requests), usd(a.Compute), a.Attempts)
	if a.Interrupted > 0 {
		cost += fmt.Sprintf(", %d interrupted", a.Interrupted)
	}
	if p := rec.Planned; p != nil && p.CostUSD > 0 {
		cost += " · " + usd(p.CostUSD) + " predicted"
		if a.Done > 0 && p.Objects > 0 {
			cost += fmt.Sprintf(", %s at the cost so far", usd(a.Total/float64(a.Done)*float64(p.Objects)))
		}
	}
	fmt.Fprintf(w, "cost     %s\n", cost)

	times := fmt.Sprintf("%s elapsed", dur(el))
	if left, ok := r.left(ended, total); ok {
		times += fmt.Sprintf(" · about %s left", dur(left))
	} else if r.Active() == 0 {
		times += " · over"
	}
	if p := rec.Planned; p != nil && p.MakespanSeconds > 0 {
		times += fmt.Sprintf(" · %s predicted", dur(time.Duration(p.MakespanSeconds*float64(time.Second))))
	}
	fmt.Fprintf(w, "time     %s\n", times)
	r.writeFailures(w, maxFailures)
}

// Line is the run in one line, for a log or a pipe.
func (r Report) Line() string {
	parts, total, ended := counts(runspec.Tally(r.Record, r.States))
	line := fmt.Sprintf("run %s: %s of %s runs ended (%s); %s images done; %s spent", r.Record.RunID, Thousands(ended), Thousands(total),
		strings.Join(parts, ", "), Thousands(r.Account.Done), usd(r.Account.Total))
	if left, ok := r.left(ended, total); ok {
		line += "; about " + dur(left) + " left"
	}
	return line
}

// writeFailures lists failed jobs and children that no retry job covers.
func (r Report) writeFailures(w io.Writer, limit int) {
	covered := r.Record.Rerun()
	var lines []string
	for _, s := range r.States {
		if s.Status != runspec.Failed {
			continue
		}
		if len(s.FailedChildren) == 0 {
			lines = append(lines, fmt.Sprintf("%s%s: %s%s", s.Name, prefixNote(s.Prefix), exitNote(s.ExitCode, s.Reason), logNote(s.LogStream)))
			continue
		}
		fc := append([]runspec.ChildFailure(nil), s.FailedChildren...)
		sort.Slice(fc, func(i, j int) bool { return fc[i].Index < fc[j].Index })
		for _, f := range fc {
			if !covered[s.Name][f.Index] {
				lines = append(lines, fmt.Sprintf("%s child %d: %s", s.Name, f.Index, exitNote(f.ExitCode, f.Reason)))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	shown := lines
	if limit > 0 && len(lines) > limit {
		shown = lines[:limit]
	}
	fmt.Fprintf(w, "failed   %s (submit retry reruns them)\n", Thousands(len(lines)))
	for _, l := range shown {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if len(shown) < len(lines) {
		fmt.Fprintf(w, "  ... and %s more (--failures 0 lists all)\n", Thousands(len(lines)-len(shown)))
	}
}

func prefixNote(p string) string {
	if p == "" {
		return ""
	}
	return fmt.Sprintf(" (prefix %q)", p)
}

func exitNote(code *int, reason string) string {
	if code == nil {
		return reason
	}
	if m := runspec.ExitMeaning(*code); m != "" && *code != 0 {
		return fmt.Sprintf("exit %d, %s: %s", *code, m, reason)
	}
	return fmt.Sprintf("exit %d: %s", *code, reason)
}

func logNote(stream string) string {
	if stream == "" {
		return ""
	}
	return " (log: " + stream + ")"
}

// usd shows dollars with cents, or the digits a small sum needs.
func usd(v float64) string {
	if v >= 1 || v == 0 {
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

// dur shows a duration to the second, or to the minute past an hour.
func dur(d time.Duration) string {
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// Thousands writes n with thousands separators.
func Thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
