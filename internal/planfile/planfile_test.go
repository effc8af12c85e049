package planfile

import (
	"strings"
	"testing"
)

func TestRangeContains(t *testing.T) {
	whole := Range{Prefix: "al/2013/"}
	split := Range{Prefix: "al/2013/", StartAfter: "al/2013/b", Until: "al/2013/d"}
	cases := []struct {
		r    Range
		key  string
		want bool
	}{
		{whole, "al/2013/x.tif", true}, {whole, "al/2014/x.tif", false},
		{split, "al/2013/b", false}, {split, "al/2013/b1", true}, {split, "al/2013/d", true}, {split, "al/2013/d1", false},
	}
	for _, c := range cases {
		if got := c.r.Contains(c.key); got != c.want {
			t.Errorf("%+v.Contains(%q) = %v", c.r, c.key, got)
		}
	}
}

func TestParseAndShards(t *testing.T) {
	p, err := Parse([]byte(`{"version":1,"run_id":"r1","source":"s3://a","dest":"s3://b","shards":[{"ranges":[{"prefix":"al/"}]},{"ranges":[{"prefix":"ga/","until":"ga/m"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s0, _ := p.Shard(0)
	s1, _ := p.Shard(1)
	if s0.Name() != "" || !strings.HasPrefix(s1.Name(), "shard-") {
		t.Fatalf("names %q %q", s0.Name(), s1.Name())
	}
	if _, err := p.Shard(2); err == nil || !strings.Contains(err.Error(), "has 2") {
		t.Fatalf("out of range: %v", err)
	}
	for _, bad := range []string{`{`, `{"version":2,"shards":[{"ranges":[{"prefix":"a"}]}]}`, `{"version":1}`, `{"version":1,"shards":[{}]}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
}
