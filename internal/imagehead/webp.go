package imagehead

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// WebP: RIFF chunks, extended headers, an animation's first frame.

// webpChunk is one chunk of a RIFF WebP.
type webpChunk struct {
	fourCC string
	data   []byte
}

func webpChunks(b []byte) []webpChunk {
	var out []webpChunk
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		end := i + 8 + n
		if n < 0 || end > len(b) {
			out = append(out, webpChunk{string(b[i : i+4]), b[i+8:]})
			return out
		}
		out = append(out, webpChunk{string(b[i : i+4]), b[i+8 : end]})
		i = end + n%2
	}
	return out
}

func webpHeader(b []byte) Header {
	s := Header{Driver: "WEBP"}
	for _, c := range webpChunks(b) {
		switch c.fourCC {
		case "VP8X":
			if len(c.data) >= 10 {
				s.Animated = c.data[0]&0x02 != 0
				s.Width, s.Height = 1+u24(c.data[4:]), 1+u24(c.data[7:])
			}
		case "VP8 ":
			if len(c.data) >= 10 && s.Width == 0 {
				s.Width, s.Height = int64(binary.LittleEndian.Uint16(c.data[6:])&0x3FFF), int64(binary.LittleEndian.Uint16(c.data[8:])&0x3FFF)
			}
		case "VP8L":
			if len(c.data) >= 5 && s.Width == 0 {
				v := binary.LittleEndian.Uint32(c.data[1:])
				s.Width, s.Height = int64(v&0x3FFF)+1, int64(v>>14&0x3FFF)+1
			}
		case "EXIF":
			data := bytes.TrimPrefix(c.data, []byte("Exif\x00\x00"))
			if d, err := ReadIFD(data, nil); err == nil {
				s.Orientation = int(d.First(274))
			}
		}
	}
	return s
}

// WebPFirstFrame makes a still WebP of an animated one's first frame, which
// is what a viewer shows before it plays (vips does the same).
func WebPFirstFrame(b []byte) ([]byte, error) {
	for _, c := range webpChunks(b) {
		if c.fourCC != "ANMF" || len(c.data) < 16 {
			continue
		}
		w, h := 1+u24(c.data[6:]), 1+u24(c.data[9:])
		var alph, image []byte
		frame := WebPFile(c.data[16:])
		for _, fc := range webpChunks(frame) {
			switch fc.fourCC {
			case "ALPH":
				alph = fc.data
			case "VP8 ", "VP8L":
				image = RIFFChunk(fc.fourCC, fc.data)
			}
		}
		if image == nil {
			break
		}
		var body []byte
		if alph != nil {
			body = append(append(RIFFChunk("VP8X", VP8X(0x10, w, h)), RIFFChunk("ALPH", alph)...), image...) // 0x10: alpha
		} else {
			body = image
		}
		return WebPFile(body), nil
	}
	return nil, fmt.Errorf("an animated WebP without a readable first frame")
}

// u24 reads the 24-bit little-endian numbers of WebP's extended headers.
func u24(b []byte) int64 { return int64(b[0]) | int64(b[1])<<8 | int64(b[2])<<16 }

// VP8X is the payload of an extended WebP's header chunk: its flags and its
// canvas of w x h.
func VP8X(flags byte, w, h int64) []byte {
	x := make([]byte, 10)
	x[0] = flags
	x[4], x[5], x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	x[7], x[8], x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return x
}

// WebPFile wraps chunks in a WebP's RIFF header.
func WebPFile(chunks []byte) []byte {
	out := append([]byte("RIFF\x00\x00\x00\x00WEBP"), chunks...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// RIFFChunk is one chunk of a RIFF file (padded to an even length).
func RIFFChunk(fourCC string, data []byte) []byte {
	out := append([]byte(fourCC), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}
