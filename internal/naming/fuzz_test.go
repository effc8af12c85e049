package naming

import (
	"net/url"
	"strings"
	"testing"
)

// Whatever the key, the mapping keeps the folder, swaps only the last
// extension, and the URL decodes back to the output key.
func FuzzOutputKeyAndURL(f *testing.F) {
	for _, s := range []string{"al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif", "a/B.TIF", "no-ext", "x/.hidden", "v1.2/scene.d/b",
		"my photos/IMG 1.JPG", "café/東京.jpeg", "a/b#c?d%e.tif", "a//b", "../x", "", "/", "a/b/", "\x00.tif", "a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		out := OutputKey("", key, DefaultProfile)
		if !strings.HasSuffix(out, ".thumb.jpg") {
			t.Fatalf("OutputKey(%q) = %q", key, out)
		}
		stem := strings.TrimSuffix(out, ".thumb.jpg")
		if !strings.HasPrefix(key, stem) {
			t.Fatalf("OutputKey(%q) = %q does not keep the key's stem", key, out)
		}
		if i := strings.LastIndexByte(key, '/'); i >= 0 && !strings.HasPrefix(out, key[:i+1]) {
			t.Fatalf("OutputKey(%q) = %q left the folder", key, out)
		}
		if strings.Contains(key[len(stem):], "/") {
			t.Fatalf("OutputKey(%q) cut a folder", key)
		}
		u := URL("https://h/base", out)
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("URL(%q) = %q does not parse: %v", out, u, err)
		}
		if parsed.Path != "/base/"+out || parsed.RawQuery != "" || parsed.Fragment != "" {
			t.Fatalf("URL(%q) = %q decodes to path %q (query %q, fragment %q)", out, u, parsed.Path, parsed.RawQuery, parsed.Fragment)
		}
	})
}
