package naming

import (
	"fmt"
	"strconv"
	"strings"
)

// The settings a run's flags and a profile's fields share (bands, stretch,
// background) have one parser each, so a profile is refused, before any
// work, by the rule that would refuse the flag.

// ParseBands parses auto (or empty), natural (1,2,3), cir (4,1,2), or one
// or three 1-based band numbers such as 3,2,1; auto is a nil list.
func ParseBands(s string) ([]int, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return nil, nil
	case "natural":
		return []int{1, 2, 3}, nil
	case "cir":
		return []int{4, 1, 2}, nil
	}
	var list []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bands %q: want auto, natural, cir or 1-based band numbers like 3,2,1", s)
		}
		list = append(list, n)
	}
	if len(list) != 1 && len(list) != 3 {
		return nil, fmt.Errorf("bands %q: give one band (grey) or three (red,green,blue)", s)
	}
	return list, nil
}

// ParsePair parses two numbers, "A,B".
func ParsePair(s string) (float64, float64, error) {
	a, b, ok := strings.Cut(s, ",")
	lo, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	hi, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q: want two numbers, e.g. 0,3000", s)
	}
	return lo, hi, nil
}

// ParseScale parses a fixed stretch, MIN,MAX with MAX above MIN.
func ParseScale(s string) (float64, float64, error) {
	lo, hi, err := ParsePair(s)
	if err == nil && hi <= lo {
		err = fmt.Errorf("%s: MAX must be above MIN", s)
	}
	return lo, hi, err
}

// ParseColour parses a colour as #rrggbb (the # may be left out).
func ParseColour(s string) ([3]uint8, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	v, err := strconv.ParseUint(h, 16, 32)
	if len(h) != 6 || err != nil {
		return [3]uint8{}, fmt.Errorf("%q: want #rrggbb, e.g. #ffffff", s)
	}
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}
