package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"quicklook/internal/listingtest"
)

// scaleKeys is the archive the scale tests plan: NAIP on AWS's 1.3 million
// images unless QUICKLOOK_SCALE_KEYS says otherwise (make test uses fewer;
// make scale the whole archive).
func scaleKeys(t *testing.T) int {
	if v := os.Getenv("QUICKLOOK_SCALE_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("QUICKLOOK_SCALE_KEYS=%q", v)
		}
		return n
	}
	return 1_300_000
}

// Planning a NAIP-shaped archive: every prefix found, every key counted, by
// the real SDK over HTTP against a listing of S3's shape, 30 ms a request.
func TestPlanCountsANAIPShapedArchive(t *testing.T) {
	keys := scaleKeys(t)
	shape := listingtest.NAIP(42, keys)
	stand := listingtest.New(t, shape, 30*time.Millisecond)
	cmd := exec.Command("/usr/bin/time", "-f", "%e s %M KB", submitBin, "plan", "--source", "s3://naip", "--depth", "2", "--count", "--requester-pays")
	cmd.Env = os.Environ()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "117 prefixes, "+strconv.Itoa(keys)+" images") {
		t.Fatalf("plan of %d keys in 117 prefixes printed:\n%s", keys, tail(out.String(), 8))
	}
	usage := strings.TrimSpace(errb.String())
	t.Logf("%d keys in 117 prefixes planned with %d listings: %s (time, peak RSS)", keys, stand.Requests(), usage[strings.LastIndex(usage, "\n")+1:])
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
