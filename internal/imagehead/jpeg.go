package imagehead

import (
	"bytes"
	"encoding/binary"
)

// JPEG: the segments up to the scan, junk between them, the end marker.

// jpegHeader walks a JPEG's segments up to the scan: the frame size and the
// EXIF orientation. Junk between segments is skipped as libjpeg does.
func jpegHeader(b []byte) (w, h int64, orientation int) {
	for _, seg := range jpegSegments(b) {
		switch {
		case seg.marker >= 0xC0 && seg.marker <= 0xCF && seg.marker != 0xC4 && seg.marker != 0xC8 && seg.marker != 0xCC:
			if len(seg.data) >= 5 {
				h, w = int64(binary.BigEndian.Uint16(seg.data[1:])), int64(binary.BigEndian.Uint16(seg.data[3:]))
			}
		case seg.marker == 0xE1 && bytes.HasPrefix(seg.data, []byte("Exif\x00\x00")) && orientation == 0:
			if d, err := ReadIFD(seg.data[6:], nil); err == nil {
				orientation = int(d.First(274))
			}
		}
	}
	return w, h, orientation
}

// jpegSegment is one marker segment before the scan; junk counts the bytes
// libjpeg would discard before its marker ("extraneous bytes").
type jpegSegment struct {
	marker byte
	data   []byte
	junk   int
}

// jpegSegments lists the segments from SOI up to and including SOS.
func jpegSegments(b []byte) []jpegSegment {
	var out []jpegSegment
	i := 2
	for i < len(b) {
		// As libjpeg's next_marker: discard until 0xFF, skip fill bytes,
		// and count a stuffed FF 00 as discarded too.
		junk := 0
		for {
			for i < len(b) && b[i] != 0xFF {
				i++
				junk++
			}
			for i < len(b) && b[i] == 0xFF {
				i++
			}
			if i >= len(b) {
				return out
			}
			if b[i] != 0 {
				break
			}
			i++
			junk += 2
		}
		marker := b[i]
		i++
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			out = append(out, jpegSegment{marker: marker, junk: junk})
			continue
		}
		if marker == 0xD9 || i+2 > len(b) {
			out = append(out, jpegSegment{marker: marker, junk: junk})
			return out
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 {
			return out
		}
		end := min(i+n, len(b))
		out = append(out, jpegSegment{marker: marker, data: b[i+2 : end], junk: junk})
		if marker == 0xDA {
			return out
		}
		i = end
	}
	return out
}

// BenignJPEGJunk reports whether libjpeg's "extraneous bytes before marker
// 0xMM" names junk that lost the decoder nothing: junk between segments
// before the scan (before a header marker), where libjpeg skips it and
// reads every segment whole. Junk before a restart or end marker sits in
// the entropy-coded data: pixels were lost there.
func BenignJPEGJunk(head []byte, marker byte) bool {
	if !headerMarker(marker) {
		return false
	}
	for _, seg := range jpegSegments(head) {
		if seg.marker == marker && seg.junk > 0 {
			return true
		}
	}
	return false
}

// headerMarker reports whether a marker starts a segment that comes before
// the scan: APPn, COM, DQT, DHT, DAC, DRI, SOFn, SOS.
func headerMarker(m byte) bool {
	return (m >= 0xE0 && m <= 0xEF) || m == 0xFE || m == 0xDB || m == 0xC4 || m == 0xCC || m == 0xDD || m == 0xDA ||
		(m >= 0xC0 && m <= 0xCF)
}

// JPEGComplete reports whether a JPEG's bytes reach its end marker after
// the first scan (FF D9 cannot occur inside entropy-coded data): without
// it the file was cut short, and what a decoder shows past the cut is fill.
func JPEGComplete(b []byte) bool {
	segs := jpegSegments(b)
	if len(segs) == 0 || segs[len(segs)-1].marker != 0xDA {
		return false
	}
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	return sos >= 0 && bytes.Contains(b[sos:], []byte{0xFF, 0xD9})
}

// JPEGWithoutLeadingJunk removes junk between SOI and the first marker,
// which keeps GDAL (it wants FF D8 FF) from recognising an intact JPEG.
func JPEGWithoutLeadingJunk(b []byte) ([]byte, bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 || b[2] == 0xFF {
		return nil, false
	}
	i := bytes.IndexByte(b[2:], 0xFF)
	if i < 0 {
		return nil, false
	}
	out := make([]byte, 0, len(b)-i)
	out = append(out, 0xFF, 0xD8)
	return append(out, b[2+i:]...), true
}
