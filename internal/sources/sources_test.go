package sources

import (
	"testing"

	"quicklook/internal/naming"
)

func TestKindsOfListedKeys(t *testing.T) {
	f, err := New(" TIF,.jpg ,tif", []naming.Profile{naming.DefaultProfile})
	if err != nil {
		t.Fatal(err)
	}
	if f.ExtensionList() != "tif,jpg" {
		t.Fatalf("extensions %q", f.ExtensionList())
	}
	cases := []struct {
		prefix, key string
		want        Kind
	}{
		{"al/2013/", "al/2013/1m/a.tif", Image},
		{"al/2013/", "al/2013/1m/A.TIF", Image},
		{"al/2013/", "al/2013/1m/a.png", Other},
		{"al/2013/", "al/2013/1m/a.thumb.jpg", Thumbnail},
		{"al/2013/", "al/2013/1m/a.tif.ovr", Sidecar},
		{"al/2013/", "al/2013/1m/a.aux.xml", Sidecar},
		{"al/2013/", "al/2013/1m/a.tif.msk", Sidecar},
		{"", "_quicklook/manifests/x/a.tif", Own},
		{"al/2013/", "al/2013/.misc/a.tif", Hidden},
		{"al/2013/", "al/2013/1m/._a.jpg", Hidden},
		{"al/2013/", "al/2013/_tmp/a.tif", Hidden},
		{"al/2013/", "al/2013/1m/_DSC0001.jpg", Image},
		// The prefix may itself name a hidden folder, or end mid-name.
		{"_archive/2013/", "_archive/2013/a.tif", Image},
		{".misc/", ".misc/a.tif", Image},
		{"al/20", "al/2013/a.tif", Image},
	}
	for _, c := range cases {
		if got := f.Kind(c.prefix, c.key); got != c.want {
			t.Errorf("Kind(%q, %q) = %s, want %s", c.prefix, c.key, got, c.want)
		}
	}
}

func TestMRFPartsArePartsOnlyWhereMRFIsRendered(t *testing.T) {
	with, _ := New("tif,mrf", nil)
	without, _ := New("tif", nil)
	for _, key := range []string{"al/2013/m.idx", "al/2013/m.lrc", "al/2013/m.pjg", "al/2013/m.ppg"} {
		if with.Kind("al/", key) != Sidecar || without.Kind("al/", key) != Other {
			t.Errorf("%s: %s with mrf, %s without", key, with.Kind("al/", key), without.Kind("al/", key))
		}
	}
	if with.Kind("al/", "al/2013/m.mrf") != Image {
		t.Error("an .mrf header is not an image")
	}
}

func TestDefaultsAndBadExtensions(t *testing.T) {
	f, err := New("", nil)
	if err != nil || f.ExtensionList() != "tif,tiff,jpg,jpeg,png,webp,jp2,gif,mrf" {
		t.Fatalf("defaults %q, %v", f.ExtensionList(), err)
	}
	if _, err := New("tif,*.png", nil); err == nil {
		t.Fatal("a glob was accepted as an extension")
	}
	if !f.SameExtensions("GIF, jp2,webp,png,jpeg,jpg,tiff,tif,mrf") || f.SameExtensions("tif") {
		t.Fatal("SameExtensions disagrees with the list")
	}
}
