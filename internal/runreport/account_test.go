package runreport

import (
	"testing"
	"time"

	"quicklook/internal/manifest"
	"quicklook/internal/pricing"
)

// A job interrupted and then finished counts its objects once (from the
// latest attempt, which finds the first attempt's work up to date) and its
// dollars twice (both attempts were paid for).
func TestTallyCountsObjectsOnceAndEveryAttemptsCost(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sums := map[string]manifest.Summary{
		"a/1": {Job: "a", Started: t0, Finished: t0.Add(time.Minute), Sources: 100, Created: 40, Failed: 60, Interrupted: true,
			FailuresByClass: map[string]int{manifest.ClassInterrupted: 60}, Cost: pricing.Cost{Requests: 1, Compute: 2, Total: 3}},
		"a/2": {Job: "a", Started: t0.Add(2 * time.Minute), Finished: t0.Add(3 * time.Minute), Sources: 100, Skipped: 40, Created: 58, Failed: 2,
			FailuresByClass: map[string]int{"corrupt": 2}, Cost: pricing.Cost{Requests: 1, Compute: 1, Total: 2}},
		"b/1": {Job: "b", Started: t0.Add(time.Minute), Finished: t0.Add(4 * time.Minute), Sources: 10, Skipped: 10},
	}
	a := tally(sums)
	want := Account{Attempts: 3, Done: 110, Made: 98, UpToDate: 10, Failed: 2, Interrupted: 1, Requests: 2, Compute: 3, Total: 5,
		First: t0, Last: t0.Add(4 * time.Minute)}
	if a != want {
		t.Fatalf("tally:\n got %+v\nwant %+v", a, want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1300000: "1,300,000", -12345: "-12,345"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
