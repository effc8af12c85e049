package render

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/airbusgeo/godal"
)

// maxPrefetchBlocks bounds the block lookups of one read.
const maxPrefetchBlocks = 8192

// tiffBlockRanges lists the byte ranges of the TIFF blocks (tiles or strips)
// that reading the level into an rw x rh buffer touches: every block for an
// average read of the whole level, only the blocks holding sampled rows and
// columns for a nearest-neighbour read. GDAL reports where each block is in
// the file through the TIFF metadata domain; other formats report nothing.
func tiffBlockRanges(bands []godal.Band, lvl level, rw, rh int, nearest bool) [][2]int64 {
	if len(bands) == 0 {
		return nil
	}
	st := bands[0].Structure()
	bw, bh := st.BlockSizeX, st.BlockSizeY
	if bw <= 0 || bh <= 0 {
		return nil
	}
	cols := sampled(lvl.w, rw, bw, nearest)
	var rows []int
	if !nearest || rh >= lvl.h {
		rows = sampled(lvl.h, rh, bh, false) // every block row
	} else {
		// The rows the read samples, chunk by chunk as readPlanes reads them.
		set := map[int]bool{}
		for _, y := range sourceRows(lvl, rh, bh) {
			if !set[y/bh] {
				set[y/bh] = true
				rows = append(rows, y/bh)
			}
		}
	}
	if len(cols)*len(rows) > maxPrefetchBlocks {
		return nil
	}
	seen := map[int64]bool{}
	var out [][2]int64
	for _, b := range bands {
		for _, by := range rows {
			for _, bx := range cols {
				off, _ := strconv.ParseInt(b.Metadata(fmt.Sprintf("BLOCK_OFFSET_%d_%d", bx, by), godal.Domain("TIFF")), 10, 64)
				size, _ := strconv.ParseInt(b.Metadata(fmt.Sprintf("BLOCK_SIZE_%d_%d", bx, by), godal.Domain("TIFF")), 10, 64)
				if off <= 0 || size <= 0 || seen[off] {
					continue
				}
				seen[off] = true
				out = append(out, [2]int64{off, size})
			}
		}
	}
	return out
}

// sampled lists the block indexes along one axis (length n, block size b)
// that a read into m buffer pixels touches.
func sampled(n, m, b int, nearest bool) []int {
	if !nearest || m >= n {
		out := make([]int, (n+b-1)/b)
		for i := range out {
			out[i] = i
		}
		return out
	}
	set := map[int]bool{}
	for j := 0; j < m; j++ {
		// GDAL's nearest neighbour takes the source pixel under the centre
		// of each buffer pixel.
		src := int((float64(j) + 0.5) * float64(n) / float64(m))
		set[min(src, n-1)/b] = true
	}
	out := make([]int, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
