package runspec

import (
	"strings"
	"testing"
)

func TestJobNamesMeetBatchsRuleAndStayUnique(t *testing.T) {
	long := strings.Repeat("al/2013/", 40)
	n := JobName("20261123-abcdef", long, long)
	if !ValidName(n) || len(n) > 128 || !strings.HasSuffix(n, "-"+ShortHash(long)) || !strings.HasPrefix(n, NamePrefix("20261123-abcdef")) {
		t.Fatalf("JobName gave %q", n)
	}
	if a, b := JobName("r", "a b/", "a b/"), JobName("r", "a-b/", "a-b/"); a == b || !ValidName(a) {
		t.Fatalf("prefixes that slug alike share a name: %q %q", a, b)
	}
	for id, ok := range map[string]bool{"20261123-abc": true, "loc1": true, "": false, "a/b": false, strings.Repeat("x", 130): false} {
		if ValidRunID(id) != ok {
			t.Errorf("ValidRunID(%q) = %v", id, !ok)
		}
	}
}

func TestResolveFillsTheCommandFromParameters(t *testing.T) {
	j := Job{Parameters: map[string]string{"source": "s3://a", "prefix": "al/2013/", "dest": "s3://t/"}}
	if got := strings.Join(j.Resolve(), " "); got != "run --source s3://a --prefix al/2013/ --dest s3://t/" {
		t.Fatalf("command %q", got)
	}
}

func TestUpsertReplacesByName(t *testing.T) {
	r := &Record{Jobs: []JobRecord{{Job: Job{Name: "a"}, Status: Failed}}}
	r.Upsert(JobRecord{Job: Job{Name: "b"}, Status: Submitted})
	r.Upsert(JobRecord{Job: Job{Name: "a"}, Status: Submitted})
	if len(r.Jobs) != 2 || r.Jobs[0].Status != Submitted || r.Jobs[1].Name != "b" {
		t.Fatalf("jobs %+v", r.Jobs)
	}
}
