package layout

import (
	"strings"
	"testing"
)

func TestJobNameIsSafeAndUniquePerPrefix(t *testing.T) {
	names := map[string]string{}
	for _, p := range []string{"", "al/2013/", "al/2013", "al/20", "a b/ü/", "../x/"} {
		n := JobName(p)
		if strings.ContainsAny(n, "/ ") || n == "" {
			t.Errorf("JobName(%q) = %q", p, n)
		}
		if prev, dup := names[n]; dup {
			t.Errorf("JobName(%q) = JobName(%q) = %q", p, prev, n)
		}
		names[n] = p
	}
	if !strings.HasPrefix(JobName("al/2013/"), "al_2013-") {
		t.Errorf("JobName(al/2013/) = %q: not readable", JobName("al/2013/"))
	}
}

func TestKeysStayUnderTheOwnFolder(t *testing.T) {
	for _, k := range []string{IndexPage, JobPage("j"), JobDigest("j"), Manifest("j", "s"), Summary(Manifest("j", "s")), RunRecord("r"), PlanFile("r", 3)} {
		if !IsOwn(k) {
			t.Errorf("%s is outside %s", k, Dir)
		}
	}
	if got := Summary(Manifest("al_2013-1", "20260102T030405.000Z-1")); got != "_quicklook/manifests/al_2013-1/20260102T030405.000Z-1.summary.json" {
		t.Errorf("summary key %s", got)
	}
	if got := At("s3://b/base", PlanFile("r1", 7)); got != "s3://b/base/_quicklook/runs/r1/plan-007.json" {
		t.Errorf("plan location %s", got)
	}
}
