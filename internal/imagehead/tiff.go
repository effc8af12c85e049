package imagehead

import (
	"encoding/binary"
	"fmt"
)

// TIFF: the first directory (classic or BigTIFF) and whether its strips or
// tiles fit the file.

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
