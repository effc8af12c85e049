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
	"fmt"
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

// IFD is one TIFF image file directory: tag -> values.
type IFD map[uint16][]uint64

// First is the tag's first value (0 when absent).
func (d IFD) First(tag uint16) uint64 {
	if v := d[tag]; len(v) > 0 {
		return v[0]
	}
	return 0
}

// ReadIFD parses the first IFD of a TIFF (classic or BigTIFF) held in b;
// values stored beyond b are read with more (nil: not read).
func ReadIFD(b []byte, more func(off int64, n int) ([]byte, error)) (IFD, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("short TIFF header")
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("not a TIFF header")
	}
	at := func(off int64, n int) ([]byte, error) {
		if off >= 0 && off+int64(n) <= int64(len(b)) {
			return b[off : off+int64(n)], nil
		}
		if more == nil {
			return nil, fmt.Errorf("TIFF data at %d is past the header", off)
		}
		return more(off, n)
	}
	big := bo.Uint16(b[2:]) == 43
	var off int64
	countSize, entrySize, valueSize := 2, 12, 4
	if big {
		if len(b) < 16 {
			return nil, fmt.Errorf("short BigTIFF header")
		}
		off = int64(bo.Uint64(b[8:]))
		countSize, entrySize, valueSize = 8, 20, 8
	} else {
		off = int64(bo.Uint32(b[4:]))
	}
	cb, err := at(off, countSize)
	if err != nil {
		return nil, err
	}
	n := int(bo.Uint16(cb))
	if big {
		n = int(bo.Uint64(cb))
	}
	if n <= 0 || n > 4096 {
		return nil, fmt.Errorf("TIFF directory of %d entries", n)
	}
	entries, err := at(off+int64(countSize), n*entrySize)
	if err != nil {
		return nil, err
	}
	sizes := map[uint16]int{1: 1, 3: 2, 4: 4, 16: 8} // BYTE, SHORT, LONG, LONG8
	d := IFD{}
	for k := 0; k < n; k++ {
		e := entries[k*entrySize:]
		tag, typ := bo.Uint16(e), bo.Uint16(e[2:])
		var count uint64
		if big {
			count = bo.Uint64(e[4:])
		} else {
			count = uint64(bo.Uint32(e[4:]))
		}
		size, ok := sizes[typ]
		if !ok || count == 0 || count > 1<<24 {
			d[tag] = nil // present, values not read (doubles, text)
			continue
		}
		total := int(count) * size
		var data []byte
		if total <= valueSize {
			data = e[entrySize-valueSize:]
		} else {
			var voff int64
			if big {
				voff = int64(bo.Uint64(e[12:]))
			} else {
				voff = int64(bo.Uint32(e[8:]))
			}
			if data, err = at(voff, total); err != nil {
				continue // a value out of reach is left out, not fatal
			}
		}
		vals := make([]uint64, count)
		for i := range vals {
			switch size {
			case 1:
				vals[i] = uint64(data[i])
			case 2:
				vals[i] = uint64(bo.Uint16(data[2*i:]))
			case 4:
				vals[i] = uint64(bo.Uint32(data[4*i:]))
			case 8:
				vals[i] = bo.Uint64(data[8*i:])
			}
		}
		d[tag] = vals
	}
	return d, nil
}

// TIFF tags read here.
const (
	TagWidth               = 256
	TagHeight              = 257
	TagBitsPerSample       = 258
	TagCompression         = 259
	TagStripOffsets        = 273
	TagOrientation         = 274
	TagSamplesPerPixel     = 277
	TagRowsPerStrip        = 278
	TagStripByteCounts     = 279
	TagPlanarConfig        = 284
	TagTileWidth           = 322
	TagTileLength          = 323
	TagTileOffsets         = 324
	TagTileByteCounts      = 325
	TagExtraSamples        = 338
	TagModelPixelScale     = 33550
	TagModelTiepoint       = 33922
	TagModelTransformation = 34264
)

// CheckTIFFLayout compares a TIFF's strips or tiles with its size: a
// different number of them than the size and block size need means GDAL
// would read some rows from the wrong place (a garbled picture, silently);
// an uncompressed block whose bytes run past the end of the file is data
// lost. Byte counts that merely disagree, with the data all there, lose
// nothing: GDAL reads uncompressed blocks by their size, not their counts.
func CheckTIFFLayout(d IFD, fileSize int64) error {
	w, h := d.First(TagWidth), d.First(TagHeight)
	if w == 0 || h == 0 {
		return nil
	}
	spp := max(d.First(TagSamplesPerPixel), 1)
	planes := uint64(1)
	if d.First(TagPlanarConfig) == 2 {
		planes = spp
	}
	offsets, counts := d[TagStripOffsets], d[TagStripByteCounts]
	blockW, blockH := w, d.First(TagRowsPerStrip)
	what := "strips"
	if tw, tl := d.First(TagTileWidth), d.First(TagTileLength); tw > 0 && tl > 0 {
		offsets, counts, blockW, blockH, what = d[TagTileOffsets], d[TagTileByteCounts], tw, tl, "tiles"
	}
	if blockH == 0 || blockH > h {
		blockH = h
	}
	if offsets == nil {
		return nil
	}
	want := (w + blockW - 1) / blockW * ((h + blockH - 1) / blockH) * planes
	if uint64(len(offsets)) != want {
		return fmt.Errorf("the TIFF's layout is inconsistent: %d %s where %dx%d pixels in %dx%d blocks need %d", len(offsets), what, w, h, blockW, blockH, want)
	}
	if d.First(TagCompression) > 1 || len(counts) != len(offsets) {
		return nil
	}
	bits := uint64(0)
	for _, b := range d[TagBitsPerSample] {
		bits += b
	}
	if len(d[TagBitsPerSample]) == 1 {
		bits *= spp
	}
	if planes > 1 {
		bits /= spp
	}
	perPlane := uint64(len(offsets)) / planes
	for i, off := range offsets {
		rows := blockH
		if what == "strips" {
			// The last strip of a plane holds the rows left over.
			rows = min(blockH, h-uint64(i)%perPlane*blockH)
		}
		need := (blockW*bits + 7) / 8 * rows
		if int64(off+need) > fileSize {
			return fmt.Errorf("the TIFF's %s %d runs past the end of the file (%d bytes at %d, the file has %d)", what[:len(what)-1], i, need, off, fileSize)
		}
	}
	return nil
}
