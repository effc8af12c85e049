package imagehead

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// riff is a WebP of the given chunks, written out byte by byte.
func riff(chunks ...[]byte) []byte {
	body := bytes.Join(chunks, nil)
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(4+len(body)))
	return append(append(out, "WEBP"...), body...)
}

func chunk(fourCC string, data ...byte) []byte {
	out := append([]byte(fourCC), byte(len(data)), 0, 0, 0)
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// Extended WebP sizes are 24-bit numbers plus one: 512 is stored FF 01 00,
// which a sum taken before the bitwise ors reads as 256.
func TestExtendedWebPSizes(t *testing.T) {
	// VP8X: flags (animation), 3 reserved, width-1 = 511, height-1 = 1023.
	vp8x := chunk("VP8X", 0x02, 0, 0, 0, 0xFF, 0x01, 0x00, 0xFF, 0x03, 0x00)
	// ANMF: x, y, width-1 = 767, height-1 = 299, duration, flags, then its frame.
	frame := append(chunk("ALPH", 0, 1, 2), chunk("VP8L", 0x2F, 1, 2, 3, 4)...)
	anmf := chunk("ANMF", append([]byte{0, 0, 0, 0, 0, 0, 0xFF, 0x02, 0x00, 0x2B, 0x01, 0x00, 100, 0, 0, 0}, frame...)...)
	file := riff(vp8x, anmf)
	if h := Sniff(file); h.Width != 512 || h.Height != 1024 || !h.Animated {
		t.Errorf("sniffed %dx%d animated %v, want 512x1024 animated", h.Width, h.Height, h.Animated)
	}
	still, err := WebPFirstFrame(file)
	if err != nil {
		t.Fatal(err)
	}
	// The still: VP8X with the alpha flag and the frame's 768x300, its ALPH, its VP8L.
	want := riff(chunk("VP8X", 0x10, 0, 0, 0, 0xFF, 0x02, 0x00, 0x2B, 0x01, 0x00), frame)
	if !bytes.Equal(still, want) {
		t.Errorf("first frame\n%x\nwant\n%x", still, want)
	}
	if h := Sniff(still); h.Width != 768 || h.Height != 300 || h.Animated {
		t.Errorf("the still sniffs as %dx%d animated %v", h.Width, h.Height, h.Animated)
	}
}
