package naming

import (
	"strings"
	"testing"
)

func TestProfilesFile(t *testing.T) {
	ps, err := LoadProfiles([]byte(`[
		{"name": "thumb", "format": "jpeg", "size": 256},
		{"name": "square", "format": "webp", "fit": "cover", "width": 200, "height": 200, "quality": 80},
		{"name": "card", "format": "png", "fit": "inside", "width": 640, "height": 360, "bands": "cir"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0] != DefaultProfile || ps[0].String() != "thumb:256:jpeg" {
		t.Fatalf("profiles %+v: the first is the short form's, with its hash input", ps)
	}
	if s := ps[1].String(); s != "square:cover:200x200:webp;q=80" {
		t.Errorf("square is %q", s)
	}
	for _, c := range []struct{ json, want string }{
		{`[{"name": "a", "format": "jpeg", "sise": 256}]`, `output 1: json: unknown field "sise"`},
		{`[{"name": "a", "format": "jpeg", "size": 0}]`, `output 1 ("a"): size 0: from 1 to 8192 pixels`},
		{`[{"name": "a", "format": "jpeg", "fit": "cover", "width": 200}]`, `output 1 ("a"): a box of width 200 and height 0: give both`},
		{`[{"name": "a", "format": "jpeg", "width": 200, "height": 9000}]`, `output 1 ("a"): height 9000: from 1 to 8192 pixels`},
		{`[{"name": "a", "format": "jpeg", "size": "256"}]`, `output 1: field "size": want a whole number, got a JSON string`},
		{`[{"name": "a", "format": "jpeg", "size": 25.6}]`, `output 1: field "size": want a whole number, got a JSON number 25.6`},
		{`[{"name": "a", "format": "jpeg", "size": 9}, "b"]`, `output 2: want a JSON object, got a JSON string`},
		{`[{"name": "a", "format": "gif", "size": 9}]`, `format "gif": jpeg, png or webp`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "gravity": "north"}]`, `gravity "north": only a cover crop has one`},
		{`[{"name": "a", "format": "png", "size": 9, "quality": 80}]`, `quality 80: PNG is lossless`},
		{`[{"name": "a", "format": "jpeg", "size": 9}, {"name": "a", "format": "jpg", "fit": "cover", "width": 9, "height": 9}]`, `outputs "a" and "a" both write *.a.jpg`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "background": "white"}]`, `background "white": a colour as #rrggbb`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "scale": "5,1"}]`, `scale "5,1": MIN,MAX with MAX above MIN`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "scale": "1e,--"}]`, `scale "1e,--": MIN,MAX`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "bands": "0"}]`, `bands "0": auto, natural, cir, or one or three`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "bands": "1,2"}]`, `bands "1,2": auto, natural, cir, or one or three`},
		{`[{"name": "a", "format": "jpeg", "size": 9, "background": "ffffff"}]`, `background "ffffff": a colour as #rrggbb`},
		{`[]`, `no outputs`},
		{`{"name": "a"}`, `want a JSON array of outputs, got a JSON object`},
	} {
		_, err := LoadProfiles([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.json, err, c.want)
		}
	}
}

func TestFitTargets(t *testing.T) {
	inside := Profile{Size: 256}
	box := Profile{Width: 640, Height: 360}
	cover := Profile{Fit: FitCover, Width: 200, Height: 200}
	for _, c := range []struct {
		p                  Profile
		w, h               int
		sw, sh, outW, outH int
	}{
		{inside, 1000, 500, 256, 128, 256, 128},
		{inside, 100, 50, 100, 50, 100, 50}, // never enlarged
		{box, 1000, 1000, 360, 360, 360, 360},
		{box, 2000, 500, 640, 160, 640, 160},
		{cover, 1000, 500, 400, 200, 200, 200},
		{cover, 50, 100, 200, 400, 200, 200}, // enlarged to fill
	} {
		sw, sh, ow, oh := c.p.Target(c.w, c.h)
		if sw != c.sw || sh != c.sh || ow != c.outW || oh != c.outH {
			t.Errorf("%+v of %dx%d: %dx%d -> %dx%d, want %dx%d -> %dx%d", c.p, c.w, c.h, sw, sh, ow, oh, c.sw, c.sh, c.outW, c.outH)
		}
	}
	north := Profile{Fit: FitCover, Width: 200, Height: 200, Gravity: "north"}
	if x, y := north.Crop(200, 400); x != 0 || y != 0 {
		t.Errorf("north crop at %d,%d", x, y)
	}
	if x, y := cover.Crop(400, 200); x != 100 || y != 0 {
		t.Errorf("centre crop at %d,%d", x, y)
	}
}

func TestSelectByName(t *testing.T) {
	ps, err := LoadProfiles([]byte(`[{"name": "thumb", "format": "jpeg", "size": 256},
		{"name": "thumb", "format": "webp", "size": 256}, {"name": "card", "format": "png", "width": 640, "height": 360}]`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Select(ps, []string{"card", "thumb.webp"})
	if err != nil || len(got) != 2 || got[0].Suffix() != ".card.png" || got[1].Suffix() != ".thumb.webp" {
		t.Fatalf("Select card, thumb.webp: %v %v", got, err)
	}
	if _, err := Select(ps, []string{"thumb"}); err == nil || !strings.Contains(err.Error(), "give NAME.EXT") {
		t.Errorf("an ambiguous name: %v", err)
	}
	if _, err := Select(ps, []string{"square"}); err == nil || !strings.Contains(err.Error(), `no output named "square"`) {
		t.Errorf("an unknown name: %v", err)
	}
	if got, _ := Select(ps, nil); len(got) != 3 {
		t.Errorf("no names keep all: %v", got)
	}
}
