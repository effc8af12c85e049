// Package imagehead reads what an image object's first bytes say, whatever
// its name: which format it is (so that only that format's decoder reads
// it), the size its header claims, its orientation, and for TIFF the
// directory: layout, georeferencing, alpha and sample depth. It also cuts
// intact images out of containers decoders stop at (an animated WebP's
// first frame, a JPEG with junk before its first marker) and tells junk
// between a JPEG's segments from damage inside its scan. Pure Go: the job
// asks it about a thumbnail already made without decoding anything.
package imagehead

import (
	"bytes"
	"encoding/binary"
)

// Header is what the bytes say.
type Header struct {
	Driver        string // GDAL driver that reads the format; "" when none is recognised
	Width, Height int64  // as the header claims; 0 when it does not say
	Orientation   int    // EXIF / TIFF orientation 1-8; 0 when absent
	// Animated: a WebP of several frames (GDAL reads none of them).
	Animated bool
	// From a TIFF's directory or a PNG's header: georeferenced (GeoTIFF
	// tags), an alpha sample, samples deeper than 8 bits.
	Georeferenced, Alpha, NonByte bool
}

// HeadBytes is how much of an object is read to sniff it: every header the
// job sniffs fits (a JPEG's EXIF block is at most 64 KiB).
const HeadBytes = 128 << 10

var (
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
	magicJP2  = []byte("\x00\x00\x00\x0cjP  \r\n\x87\n")
	magicJ2K  = []byte("\xff\x4f\xff\x51")
	magicMRF  = []byte("<MRF_META>")
	magicTIFF = [][]byte{[]byte("II*\x00"), []byte("MM\x00*"), []byte("II+\x00"), []byte("MM\x00+")}
)

// Sniff reads a header.
func Sniff(head []byte) Header {
	h, _ := SniffAt(head, nil)
	return h
}

// SniffAt reads a header, and a TIFF's first directory (nil for other
// formats or a directory it cannot read), reading with more what of the
// directory lies past head (nil: nothing; see ReadIFD).
func SniffAt(head []byte, more func(off int64, n int) ([]byte, error)) (Header, IFD) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8:
		s := Header{Driver: "JPEG"}
		s.Width, s.Height, s.Orientation = jpegHeader(head)
		return s, nil
	case bytes.HasPrefix(head, magicPNG):
		s := Header{Driver: "PNG"}
		if len(head) >= 26 {
			s.Width, s.Height = int64(binary.BigEndian.Uint32(head[16:])), int64(binary.BigEndian.Uint32(head[20:]))
			s.NonByte = head[24] > 8
			s.Alpha = head[25] == 4 || head[25] == 6
		}
		s.Orientation = pngOrientation(head)
		return s, nil
	case bytes.HasPrefix(head, []byte("GIF87a")) || bytes.HasPrefix(head, []byte("GIF89a")):
		s := Header{Driver: "GIF"}
		if len(head) >= 10 {
			s.Width, s.Height = int64(binary.LittleEndian.Uint16(head[6:])), int64(binary.LittleEndian.Uint16(head[8:]))
		}
		return s, nil
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WEBP")):
		return webpHeader(head), nil
	case bytes.HasPrefix(head, magicJP2) || bytes.HasPrefix(head, magicJ2K):
		return Header{Driver: "JP2OpenJPEG"}, nil
	case bytes.HasPrefix(head, magicMRF):
		return Header{Driver: "MRF"}, nil
	}
	for _, m := range magicTIFF {
		if bytes.HasPrefix(head, m) {
			s := Header{Driver: "GTiff"}
			d, err := ReadIFD(head, more)
			if err != nil {
				return s, nil
			}
			s.FromTIFF(d)
			return s, d
		}
	}
	return Header{}, nil
}

// Claims reports whether the header claims more pixels than max.
func (s Header) Claims(max int64) bool {
	return s.Width > 0 && s.Height > 0 && s.Width*s.Height > max
}

// FromTIFF takes the facts of a TIFF's directory.
func (s *Header) FromTIFF(d IFD) {
	s.Width, s.Height, s.Orientation = int64(d.First(TagWidth)), int64(d.First(TagHeight)), int(d.First(TagOrientation))
	_, scale := d[TagModelPixelScale]
	_, tie := d[TagModelTiepoint]
	_, transform := d[TagModelTransformation]
	s.Georeferenced = scale || tie || transform
	for _, v := range d[TagExtraSamples] {
		s.Alpha = s.Alpha || v == 1 || v == 2
	}
	for _, v := range d[TagBitsPerSample] {
		s.NonByte = s.NonByte || v > 8
	}
}

// pngOrientation reads the orientation of a PNG's eXIf chunk.
func pngOrientation(b []byte) int {
	for i := 8; i+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || i+8+n > len(b) || typ == "IDAT" {
			return 0
		}
		if typ == "eXIf" {
			data := b[i+8 : i+8+n]
			data = bytes.TrimPrefix(data, []byte("Exif\x00\x00"))
			if d, err := ReadIFD(data, nil); err == nil {
				return int(d.First(274))
			}
			return 0
		}
		i += 12 + n
	}
	return 0
}
