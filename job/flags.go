package main

import (
	"fmt"
	"strconv"
	"strings"
)

// splitList accepts repeated flags and comma-separated values (as an
// environment variable gives them).
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func parsePair(s, flag string) (float64, float64, error) {
	a, b, ok := strings.Cut(s, ",")
	lo, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	hi, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%s %q: want two numbers, e.g. 0,3000", flag, s)
	}
	return lo, hi, nil
}

func parseColour(s string) ([3]uint8, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	v, err := strconv.ParseUint(h, 16, 32)
	if len(h) != 6 || err != nil {
		return [3]uint8{}, fmt.Errorf("--background %q: want #rrggbb, e.g. #ffffff", s)
	}
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}
