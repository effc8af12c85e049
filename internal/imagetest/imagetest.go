// Package imagetest makes the image files the renderer's tests need and
// real collections hold: every EXIF orientation in JPEG, PNG, WebP and
// TIFF, JPEGs damaged between segments or inside the scan, TIFFs whose
// strips disagree with their size, animated GIFs and WebPs, headers that
// claim huge sizes, multi-picture JPEGs. Pure Go, except WebP, which
// libvips encodes (vips, from Debian's libvips-tools).
//
// One file of generators that share the picture, EXIF and chunk helpers:
// each is short, and a test finds every kind of file in one place.
package imagetest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"quicklook/internal/imagehead"
	"quicklook/internal/testenv"
)

// Quadrant colours of Picture, clockwise from the top left.
var (
	TopLeft     = color.RGBA{220, 30, 30, 255}
	TopRight    = color.RGBA{30, 200, 30, 255}
	BottomRight = color.RGBA{240, 240, 240, 255}
	BottomLeft  = color.RGBA{30, 30, 220, 255}
)

// Picture is a w x h picture whose four quadrants have their own colours,
// so that any turn or mirror shows.
func Picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := TopLeft
			switch {
			case x >= w/2 && y < h/2:
				c = TopRight
			case x >= w/2:
				c = BottomRight
			case y >= h/2:
				c = BottomLeft
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// Display is how a viewer shows stored pixels tagged with EXIF orientation o.
func Display(src *image.RGBA, o int) *image.RGBA {
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			default:
				sx, sy = x, y
			}
			dst.SetRGBA(x, y, src.RGBAAt(sx, sy))
		}
	}
	return dst
}

// Stored is what a camera stores, tagged o, for a viewer to show want.
func Stored(want *image.RGBA, o int) *image.RGBA {
	inverse := map[int]int{6: 8, 8: 6}
	if i, ok := inverse[o]; ok {
		return Display(want, i)
	}
	return Display(want, o)
}

// exif is a TIFF-structured EXIF block holding one tag: Orientation.
func exif(o int) []byte {
	var b bytes.Buffer
	b.WriteString("MM\x00\x2a\x00\x00\x00\x08")
	binary.Write(&b, binary.BigEndian, uint16(1))
	binary.Write(&b, binary.BigEndian, []uint16{274, 3})
	binary.Write(&b, binary.BigEndian, uint32(1))
	binary.Write(&b, binary.BigEndian, []uint16{uint16(o), 0})
	binary.Write(&b, binary.BigEndian, uint32(0))
	return b.Bytes()
}

// JPEG encodes img at quality 95.
func JPEG(img image.Image) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	return b.Bytes()
}

// JPEGOriented is img stored for orientation o, with an APP1 EXIF block.
func JPEGOriented(want *image.RGBA, o int) []byte {
	j := JPEG(Stored(want, o))
	payload := append([]byte("Exif\x00\x00"), exif(o)...)
	seg := append([]byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	return splice(j, 2, seg)
}

// PNGOriented is img stored for orientation o, with an eXIf chunk.
func PNGOriented(want *image.RGBA, o int) []byte {
	var b bytes.Buffer
	png.Encode(&b, Stored(want, o))
	p := b.Bytes()
	// After the signature and IHDR (8 + 25 bytes).
	return splice(p, 33, pngChunk("eXIf", exif(o)))
}

func pngChunk(typ string, data []byte) []byte {
	out := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(out, uint32(len(data)))
	copy(out[4:], typ)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// TIFFOriented is img stored for orientation o in an uncompressed RGB TIFF
// with the Orientation tag.
func TIFFOriented(want *image.RGBA, o int) []byte {
	return TIFF(Stored(want, o), TIFFOptions{Orientation: o})
}

// TIFFOptions shape TIFF.
type TIFFOptions struct {
	Orientation  int
	RowsPerStrip int // 0: 8
	// Lie about the layout: RowsPerStrip as written (the strips stay as
	// cut), the size, the strip offsets.
	ClaimRowsPerStrip int
	ClaimWidth        int
	ClaimHeight       int
	OffsetsPastEnd    bool
}

// TIFF writes img as an uncompressed, chunky RGB TIFF in strips.
func TIFF(img *image.RGBA, o TIFFOptions) []byte {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	rps := o.RowsPerStrip
	if rps == 0 {
		rps = 8
	}
	var pix []byte
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := img.RGBAAt(x, y)
			pix = append(pix, c.R, c.G, c.B)
		}
	}
	strips := (h + rps - 1) / rps
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, le, uint32(8+len(pix)))
	b.Write(pix)
	type entry struct {
		tag, typ uint16
		vals     []uint32
	}
	var offsets, counts []uint32
	for s := 0; s < strips; s++ {
		rows := min(rps, h-s*rps)
		off := uint32(8 + s*rps*w*3)
		if o.OffsetsPastEnd {
			off += 1 << 24
		}
		offsets = append(offsets, off)
		counts = append(counts, uint32(rows*w*3))
	}
	claimW, claimH, claimRPS := w, h, rps
	if o.ClaimWidth > 0 {
		claimW = o.ClaimWidth
	}
	if o.ClaimHeight > 0 {
		claimH = o.ClaimHeight
	}
	if o.ClaimRowsPerStrip > 0 {
		claimRPS = o.ClaimRowsPerStrip
	}
	entries := []entry{
		{256, 4, []uint32{uint32(claimW)}}, {257, 4, []uint32{uint32(claimH)}}, {258, 3, []uint32{8, 8, 8}},
		{259, 3, []uint32{1}}, {262, 3, []uint32{2}}, {273, 4, offsets}, {277, 3, []uint32{3}},
		{278, 4, []uint32{uint32(claimRPS)}}, {279, 4, counts}, {284, 3, []uint32{1}},
	}
	if o.Orientation > 0 {
		entries = append(entries, entry{274, 3, []uint32{uint32(o.Orientation)}})
	}
	// Entries in tag order; arrays after the directory.
	for i := range entries {
		for j := i + 1; j < len(entries); j++ {
			if entries[j].tag < entries[i].tag {
				entries[i], entries[j] = entries[j], entries[i]
			}
		}
	}
	dirAt := b.Len()
	extra := dirAt + 2 + 12*len(entries) + 4
	var tail bytes.Buffer
	binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		size := 4
		if e.typ == 3 {
			size = 2
		}
		binary.Write(&b, le, e.tag)
		binary.Write(&b, le, e.typ)
		binary.Write(&b, le, uint32(len(e.vals)))
		var val bytes.Buffer
		for _, v := range e.vals {
			if size == 2 {
				binary.Write(&val, le, uint16(v))
			} else {
				binary.Write(&val, le, v)
			}
		}
		if val.Len() <= 4 {
			v := val.Bytes()
			b.Write(append(v, make([]byte, 4-len(v))...))
			continue
		}
		binary.Write(&b, le, uint32(extra+tail.Len()))
		tail.Write(val.Bytes())
	}
	binary.Write(&b, le, uint32(0))
	b.Write(tail.Bytes())
	return b.Bytes()
}

// WebPOriented is img stored for orientation o, as a lossless WebP with an
// EXIF chunk (vips encodes the pixels).
func WebPOriented(t testing.TB, want *image.RGBA, o int) []byte {
	return withWebPEXIF(WebP(t, Stored(want, o)), o)
}

// WebP encodes img losslessly with vips.
func WebP(t testing.TB, img image.Image) []byte {
	t.Helper()
	vips := testenv.Tool(t, "vips")
	dir := t.TempDir()
	var b bytes.Buffer
	png.Encode(&b, img)
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.webp")
	os.WriteFile(in, b.Bytes(), 0o644)
	if msg, err := exec.Command(vips, "copy", in, out+"[lossless,strip]").CombinedOutput(); err != nil {
		t.Fatalf("vips: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withWebPEXIF makes a WebP carry an EXIF chunk: an extended one (VP8X)
// gets the chunk and its flag, a simple one becomes extended.
func withWebPEXIF(webp []byte, o int) []byte {
	var chunks [][]byte
	var x []byte
	for i := 12; i+8 <= len(webp); {
		n := int(binary.LittleEndian.Uint32(webp[i+4:]))
		end := min(i+8+n+n%2, len(webp))
		switch string(webp[i : i+4]) {
		case "VP8X":
			x = append([]byte(nil), webp[i+8:i+8+n]...)
		case "EXIF":
		default:
			chunks = append(chunks, webp[i:end])
		}
		i = end
	}
	if x == nil {
		h := imagehead.Sniff(webp) // a simple WebP: the size its image chunk says
		x = imagehead.VP8X(0, h.Width, h.Height)
	}
	x[0] |= 0x08 // EXIF
	body := imagehead.RIFFChunk("VP8X", x)
	for _, c := range chunks {
		body = append(body, c...)
	}
	return imagehead.WebPFile(append(body, imagehead.RIFFChunk("EXIF", exif(o))...))
}

func splice(b []byte, at int, insert []byte) []byte {
	out := make([]byte, 0, len(b)+len(insert))
	out = append(append(append(out, b[:at]...), insert...), b[at:]...)
	return out
}

// segmentAt finds the offset of the first segment with marker m.
func segmentAt(j []byte, m byte) int {
	for i := 2; i+3 < len(j); {
		if j[i+1] == m {
			return i
		}
		i += 2 + int(binary.BigEndian.Uint16(j[i+2:]))
	}
	panic("no such segment")
}

func scanStart(j []byte) int {
	sos := segmentAt(j, 0xDA)
	return sos + 2 + int(binary.BigEndian.Uint16(j[sos+2:]))
}

// Damaged JPEGs: each of img, broken in one way.
func JPEGJunkBeforeFirstMarker(img image.Image) []byte {
	return splice(JPEG(img), 2, []byte{0x13, 0x37, 0x42})
}

// JPEGStrayFF00 has a stuffed FF 00 between two segments.
func JPEGStrayFF00(img image.Image) []byte {
	j := JPEG(img)
	return splice(j, segmentAt(j, 0xDB), []byte{0xFF, 0x00})
}

// JPEGTruncatedAPP14 has an Adobe APP14 segment shorter than Adobe's 12
// bytes whose length claims less than it holds: its tail is junk.
func JPEGTruncatedAPP14(img image.Image) []byte {
	j := JPEG(img)
	app14 := []byte{0xFF, 0xEE, 0x00, 0x07, 'A', 'd', 'o', 'b', 'e', 0x00, 0x64, 0x00}
	return splice(j, segmentAt(j, 0xDB), app14)
}

// JPEGJunkInScan has stray bytes (with a false marker) inside its scan.
func JPEGJunkInScan(img image.Image) []byte {
	j := JPEG(img)
	s := scanStart(j)
	return splice(j, s+(len(j)-s)/2, []byte{0xFF, 0xD5, 0x01, 0x02, 0x03})
}

// JPEGCutShort ends half-way through its scan.
func JPEGCutShort(img image.Image) []byte {
	j := JPEG(img)
	s := scanStart(j)
	return j[:s+(len(j)-s)/2]
}

// MPO is a camera's multi-picture JPEG: first with an MPF APP2 segment
// indexing both pictures, second appended after the first's end.
func MPO(first, second image.Image) []byte {
	a, b := JPEG(first), JPEG(second)
	// MP index IFD: version, number of images, the entries (sizes, offsets).
	var mp bytes.Buffer
	be := binary.BigEndian
	mp.WriteString("MM\x00\x2a\x00\x00\x00\x08")
	binary.Write(&mp, be, uint16(3))
	binary.Write(&mp, be, []uint16{0xB000, 7})
	binary.Write(&mp, be, uint32(4))
	mp.WriteString("0100")
	binary.Write(&mp, be, []uint16{0xB001, 4})
	binary.Write(&mp, be, []uint32{1, 2})
	binary.Write(&mp, be, []uint16{0xB002, 7})
	binary.Write(&mp, be, []uint32{32, 50})
	binary.Write(&mp, be, uint32(0))
	entries := make([]byte, 32)
	payload := append(append([]byte("MPF\x00"), mp.Bytes()...), entries...)
	seg := append([]byte{0xFF, 0xE2, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	a = splice(a, 2, seg)
	be.PutUint32(entries[4:], uint32(len(a)))
	be.PutUint32(entries[20:], uint32(len(b)))
	be.PutUint32(entries[24:], uint32(len(a)))
	copy(a[4+len("MPF\x00")+mp.Len()+2:], entries)
	return append(a, b...)
}

// AnimatedGIF has frames of the given pictures (the first one first).
func AnimatedGIF(frames ...image.Image) []byte {
	g := &gif.GIF{}
	for _, f := range frames {
		p := image.NewPaletted(f.Bounds(), []color.Color{TopLeft, TopRight, BottomRight, BottomLeft, color.Black})
		for y := f.Bounds().Min.Y; y < f.Bounds().Max.Y; y++ {
			for x := f.Bounds().Min.X; x < f.Bounds().Max.X; x++ {
				p.Set(x, y, f.At(x, y))
			}
		}
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, 50)
	}
	var b bytes.Buffer
	gif.EncodeAll(&b, g)
	return b.Bytes()
}

// AnimatedWebP is an animated WebP of the frames (vips converts the GIF).
func AnimatedWebP(t testing.TB, frames ...image.Image) []byte {
	t.Helper()
	vips := testenv.Tool(t, "vips")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.gif"), filepath.Join(dir, "out.webp")
	os.WriteFile(in, AnimatedGIF(frames...), 0o644)
	if msg, err := exec.Command(vips, "copy", in+"[n=-1]", out+"[lossless]").CombinedOutput(); err != nil {
		t.Fatalf("vips: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("ANMF")) {
		t.Fatal("vips wrote a still WebP, not an animation")
	}
	return data
}

// GIFClaiming is a small GIF whose screen and frame claim w x h.
func GIFClaiming(w, h int) []byte {
	g := AnimatedGIF(Picture(8, 8))
	binary.LittleEndian.PutUint16(g[6:], uint16(w))
	binary.LittleEndian.PutUint16(g[8:], uint16(h))
	// The image descriptor (0x2C, left, top, width, height) after the
	// global colour table.
	table := 0
	if g[10]&0x80 != 0 {
		table = 3 << (g[10]&7 + 1)
	}
	i := 13 + table
	for g[i] != 0x2C { // skip extensions
		i += 2
		for g[i] != 0 {
			i += int(g[i]) + 1
		}
		i++
	}
	binary.LittleEndian.PutUint16(g[i+5:], uint16(w))
	binary.LittleEndian.PutUint16(g[i+7:], uint16(h))
	return g
}

// PNGBrokenChunk has an IDAT whose checksum is wrong.
func PNGBrokenChunk(img image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, img)
	p := b.Bytes()
	i := bytes.Index(p, []byte("IDAT"))
	n := int(binary.BigEndian.Uint32(p[i-4:]))
	p[i+4+n] ^= 0xFF // the CRC's first byte
	return p
}
