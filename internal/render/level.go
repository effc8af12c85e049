package render

import (
	"sort"

	"github.com/airbusgeo/godal"
)

// level is one resolution of the image: full (index 0) or an overview.
type level struct {
	index int
	w, h  int
}

// chooseLevel picks the smallest resolution that still covers the largest
// thumbnail, whatever order the file stores its overviews in.
func chooseLevel(b godal.Band, w, h, tw, th int) level {
	levels := []level{{0, w, h}}
	for i, o := range b.Overviews() {
		s := o.Structure()
		if s.SizeX > 0 && s.SizeY > 0 {
			levels = append(levels, level{i + 1, s.SizeX, s.SizeY})
		}
	}
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].w*levels[i].h > levels[j].w*levels[j].h })
	best := levels[0]
	for _, l := range levels[1:] {
		// One pixel short is rounding in the overview, not a visible loss.
		if l.w >= tw-1 && l.h >= th-1 {
			best = l
		}
	}
	return best
}

// bandAt returns the band at a level (0 full resolution, k the k-th overview).
func bandAt(b godal.Band, lvl level) godal.Band {
	if lvl.index == 0 {
		return b
	}
	return b.Overviews()[lvl.index-1]
}
