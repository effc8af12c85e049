package localexec

import (
	"context"
	"testing"

	"quicklook/internal/runspec"
)

// Progress is reported one call at a time, each with counts no older than
// the last (run with -race: the callback keeps unguarded state).
func TestProgressIsReportedInOrder(t *testing.T) {
	var jobs []runspec.Job
	for i := range 12 {
		jobs = append(jobs, runspec.Job{Name: "j" + string(rune('a'+i))})
	}
	var calls, lastDone int
	results := Run(context.Background(), Tasks(jobs), Options{JobBin: "/bin/true", Parallel: 4, LogDir: t.TempDir(),
		Progress: func(c Counts) {
			calls++ // a data race under -race if two calls overlap
			if done := c.Succeeded + c.Failed; done < lastDone {
				t.Errorf("counts went back: %d done after %d", done, lastDone)
			} else {
				lastDone = done
			}
		}})
	if len(results) != 12 || lastDone != 12 || calls < 25 {
		t.Fatalf("%d results, %d done at the end, %d reports", len(results), lastDone, calls)
	}
	for _, r := range results {
		if r.Status != runspec.Succeeded {
			t.Fatalf("%s: %s %s", r.Job.Name, r.Status, r.Reason)
		}
	}
}
