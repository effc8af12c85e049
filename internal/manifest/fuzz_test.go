package manifest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Parsing never panics, keeps only well-formed records, and what it keeps
// survives a round trip.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"key":"a.tif","etag":"e","size":3,"status":"created","outputs":[{"key":"a.thumb.jpg","width":1,"height":1,"bytes":9}],"bytes_read":3,"overview_level":0,"ms":1}` + "\n"))
	f.Add([]byte("not json\n{\"key\":\"b\",\"status\":\"failed\",\"error_class\":\"corrupt\"}\n\n"))
	f.Add([]byte(`{"key":"x","status":"skipped","size":-1,"outputs":null}`))
	f.Add([]byte{0xff, 0xfe, '{', '\n'})
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, bad, err := Parse(bytes.NewReader(in))
		if err != nil {
			return // a line over the scanner's limit: reported, not a panic
		}
		lines := 0
		for _, l := range bytes.Split(in, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(recs)+bad != lines {
			t.Fatalf("%d records + %d bad != %d lines", len(recs), bad, lines)
		}
		for _, r := range recs {
			if r.Key == "" || r.Status == "" {
				t.Fatalf("kept a record without key or status: %+v", r)
			}
			b, _ := json.Marshal(r)
			again, bad2, _ := Parse(bytes.NewReader(b))
			if bad2 != 0 || len(again) != 1 || again[0].Key != r.Key || again[0].Status != r.Status {
				t.Fatalf("round trip of %+v failed", r)
			}
		}
	})
}
