package manifest

import (
	"context"
	"strings"
	"testing"
	"time"

	"quicklook/internal/storage"
)

func TestParseSkipsDamagedLines(t *testing.T) {
	in := `{"key":"a.tif","etag":"e1","size":3,"status":"created","bytes_read":3,"ms":1}
not json
{"key":"","status":"created"}
{"key":"b.tif","status":"failed","error_class":"corrupt","error":"x","bytes_read":0,"ms":0}

{"key":"c.tif","size":1}
`
	recs, bad, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || bad != 3 || recs[0].Key != "a.tif" || recs[1].ErrorClass != "corrupt" {
		t.Fatalf("records %+v, bad %d", recs, bad)
	}
}

func TestWriteAndLastPicksTheNewest(t *testing.T) {
	st, _ := storage.OpenLocal(t.TempDir(), false)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if m, key, err := Last(ctx, st, "j"); err != nil || len(m) != 0 || key != "" {
		t.Fatalf("no manifest yet: %v %q %v", m, key, err)
	}
	for i, status := range []Status{Created, Skipped} {
		recs := []Record{{Key: "a.tif", ETag: "e", Status: status}, {Key: "gone.tif", Status: Pruned}}
		var sum Summary
		for _, r := range recs {
			sum.Count(r)
		}
		if err := Write(ctx, st, "j", Stamp(t0.Add(time.Duration(i)*time.Hour), "1"), recs, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Sources != 1 || sum.Pruned != 1 {
			t.Fatalf("summary %+v", sum)
		}
	}
	m, key, err := Last(ctx, st, "j")
	if err != nil || !strings.Contains(key, "T040405") || m["a.tif"].Status != Skipped {
		t.Fatalf("last = %v %q %v", m, key, err)
	}
	if _, ok := m["gone.tif"]; ok {
		t.Fatal("pruned records are not carried as state")
	}
}

func TestSummaryCountsAddUp(t *testing.T) {
	var s Summary
	for _, r := range []Record{
		{Status: Created, BytesRead: 10, Outputs: []Output{{Bytes: 5}}},
		{Status: Updated, Outputs: []Output{{Bytes: 7}}},
		{Status: Skipped, Outputs: []Output{{Bytes: 100}}},
		{Status: Failed, ErrorClass: "corrupt"},
		{Status: Failed, ErrorClass: "corrupt"},
		{Status: Pruned},
	} {
		s.Count(r)
	}
	if s.Sources != 5 || s.Created+s.Updated+s.Skipped+s.Failed != s.Sources || s.Pruned != 1 ||
		s.FailuresByClass["corrupt"] != 2 || s.BytesRead != 10 || s.BytesWritten != 12 {
		t.Fatalf("summary %+v", s)
	}
}
