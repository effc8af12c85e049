package naming

import (
	"strings"
	"testing"
)

func TestOutputKey(t *testing.T) {
	tests := []struct {
		name, base, src, want string
		p                     Profile
	}{
		{"default NAIP layout", "", "al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif", "al/2013/1m/30085/m_3008501_ne_16_1_20130928.thumb.jpg", DefaultProfile},
		{"upper-case extension", "", "a/B.TIF", "a/B.thumb.jpg", DefaultProfile},
		{"tiff extension", "", "a/b.tiff", "a/b.thumb.jpg", DefaultProfile},
		{"no extension", "", "a/b", "a/b.thumb.jpg", DefaultProfile},
		{"dots in folder names only", "", "v1.2/scene.d/b", "v1.2/scene.d/b.thumb.jpg", DefaultProfile},
		{"several dots in the name", "", "x/a.b.c.tif", "x/a.b.c.thumb.jpg", DefaultProfile},
		{"hidden file keeps its name", "", "x/.hidden", "x/.hidden.thumb.jpg", DefaultProfile},
		{"spaces", "", "my photos/IMG 1.JPG", "my photos/IMG 1.thumb.jpg", DefaultProfile},
		{"unicode", "", "café/Zürich 東京.jpeg", "café/Zürich 東京.thumb.jpg", DefaultProfile},
		{"destination base", "thumbs/", "al/x.tif", "thumbs/al/x.thumb.jpg", DefaultProfile},
		{"destination base without slash", "thumbs", "al/x.tif", "thumbs/al/x.thumb.jpg", DefaultProfile},
		{"webp profile", "", "al/x.tif", "al/x.512.webp", Profile{Name: "512", Size: 512, Format: WebP}},
		{"png profile", "", "al/x.tif", "al/x.preview.png", Profile{Name: "preview", Size: 1024, Format: PNG}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OutputKey(tc.base, tc.src, tc.p); got != tc.want {
				t.Fatalf("OutputKey(%q, %q) = %q, want %q", tc.base, tc.src, got, tc.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ base, key, want string }{
		{"https://d1.cloudfront.net", "al/2013/x.thumb.jpg", "https://d1.cloudfront.net/al/2013/x.thumb.jpg"},
		{"https://d1.cloudfront.net/", "al/x.thumb.jpg", "https://d1.cloudfront.net/al/x.thumb.jpg"},
		{"https://h/base/", "my photos/IMG 1.thumb.jpg", "https://h/base/my%20photos/IMG%201.thumb.jpg"},
		{"https://h", "a/b#c?d%e.thumb.jpg", "https://h/a/b%23c%3Fd%25e.thumb.jpg"},
		{"https://h", "café/東京.thumb.jpg", "https://h/caf%C3%A9/%E6%9D%B1%E4%BA%AC.thumb.jpg"},
		{"https://h", "a+b/c.thumb.jpg", "https://h/a+b/c.thumb.jpg"},
	}
	for _, tc := range tests {
		if got := URL(tc.base, tc.key); got != tc.want {
			t.Errorf("URL(%q, %q) = %q, want %q", tc.base, tc.key, got, tc.want)
		}
	}
}

func TestParseProfile(t *testing.T) {
	good := map[string]Profile{
		"thumb:256:jpeg": DefaultProfile,
		"thumb:256:JPG":  DefaultProfile,
		"512:512:webp":   {Name: "512", Size: 512, Format: WebP},
		"big_1:1024:png": {Name: "big_1", Size: 1024, Format: PNG},
	}
	for in, want := range good {
		got, err := ParseProfile(in)
		if err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"thumb":            "NAME:SIZE:FORMAT",
		"thumb:256":        "NAME:SIZE:FORMAT",
		"thumb:0:jpeg":     "size",
		"thumb:-5:jpeg":    "size",
		"thumb:99999:jpeg": "size",
		"thumb:abc:jpeg":   "size",
		"thumb:256:gif":    "format",
		"th/umb:256:jpeg":  "name",
		":256:jpeg":        "name",
		"a.b:256:jpeg":     "name",
	}
	for in, want := range bad {
		_, err := ParseProfile(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseProfile(%q) error = %v, want mention of %q", in, err, want)
		}
	}
}

func TestParseProfilesRefusesCollisions(t *testing.T) {
	if _, err := ParseProfiles([]string{"thumb:256:jpeg", "thumb:512:jpg"}); err == nil {
		t.Fatal("two profiles writing *.thumb.jpg were accepted")
	}
	ps, err := ParseProfiles(nil)
	if err != nil || len(ps) != 1 || ps[0] != DefaultProfile {
		t.Fatalf("default profiles = %v, %v", ps, err)
	}
	ps, err = ParseProfiles([]string{"thumb:256:jpeg", "thumb:256:webp"})
	if err != nil || len(ps) != 2 {
		t.Fatalf("same name, other format = %v, %v", ps, err)
	}
}
