package render

import (
	"math"
	"sort"
)

// percentiles returns the lo and hi percentiles (0-100) of the valid values.
func percentiles(vals []float64, valid []bool, lo, hi float64) (float64, float64, bool) {
	s := make([]float64, 0, len(vals))
	for i, v := range vals {
		if valid[i] {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return 0, 0, false
	}
	sort.Float64s(s)
	at := func(p float64) float64 {
		i := int(math.Round(p / 100 * float64(len(s)-1)))
		return s[min(max(i, 0), len(s)-1)]
	}
	return at(lo), at(hi), true
}

// stretchTo8 maps [lo,hi] linearly onto 0-255, clamping; a flat band (lo==hi)
// becomes mid-grey rather than black or white.
func stretchTo8(v, lo, hi float64) uint8 {
	if hi <= lo {
		return 127
	}
	x := (v - lo) / (hi - lo) * 255
	switch {
	case x <= 0:
		return 0
	case x >= 255:
		return 255
	}
	return uint8(x + 0.5)
}
