package render

import "math"

// rgba is an 8-bit RGBA raster, row-major, 4 bytes a pixel, alpha not
// premultiplied. grey marks an image whose R=G=B (written as one band).
type rgba struct {
	w, h int
	pix  []uint8
	grey bool
}

func newRGBA(w, h int) rgba { return rgba{w: w, h: h, pix: make([]uint8, 4*w*h)} }

// opaque reports whether every pixel has alpha 255.
func (m rgba) opaque() bool {
	for i := 3; i < len(m.pix); i += 4 {
		if m.pix[i] != 255 {
			return false
		}
	}
	return true
}

// crop cuts the w x h box at (x, y) out of src.
func crop(src rgba, x, y, w, h int) rgba {
	dst := newRGBA(w, h)
	dst.grey = src.grey
	for r := 0; r < h; r++ {
		copy(dst.pix[4*r*w:4*(r+1)*w], src.pix[4*((y+r)*src.w+x):])
	}
	return dst
}

// resize scales by area averaging (every source pixel contributes by the
// fraction of it a destination pixel covers), with alpha-weighted colour so
// transparent pixels do not darken edges. Used for downscaling only.
func resize(src rgba, w, h int) rgba {
	if src.w == w && src.h == h {
		return src
	}
	dst := newRGBA(w, h)
	dst.grey = src.grey
	xs := spans(src.w, w)
	ys := spans(src.h, h)
	acc := make([]float64, 4*w)
	for dy := 0; dy < h; dy++ {
		clear(acc)
		for _, sy := range ys[dy] {
			row := src.pix[sy.i*4*src.w:]
			for dx := 0; dx < w; dx++ {
				a := acc[4*dx:]
				for _, sx := range xs[dx] {
					p := row[4*sx.i:]
					wgt := sx.w * sy.w
					al := float64(p[3]) * wgt
					a[0] += float64(p[0]) * al
					a[1] += float64(p[1]) * al
					a[2] += float64(p[2]) * al
					a[3] += al
				}
			}
		}
		var area float64
		for _, sy := range ys[dy] {
			area += sy.w
		}
		out := dst.pix[dy*4*w:]
		for dx := 0; dx < w; dx++ {
			var ax float64
			for _, sx := range xs[dx] {
				ax += sx.w
			}
			a := acc[4*dx:]
			o := out[4*dx:]
			if a[3] > 0 {
				o[0] = clamp8(a[0] / a[3])
				o[1] = clamp8(a[1] / a[3])
				o[2] = clamp8(a[2] / a[3])
			}
			o[3] = clamp8(a[3] / (area * ax))
		}
	}
	return dst
}

type span struct {
	i int
	w float64
}

// spans lists, for each of n destination cells over a source of length m,
// the source indexes it covers and by how much (in source pixels).
func spans(m, n int) [][]span {
	out := make([][]span, n)
	scale := float64(m) / float64(n)
	for d := 0; d < n; d++ {
		x0, x1 := float64(d)*scale, float64(d+1)*scale
		for s := int(x0); s < m && float64(s) < x1; s++ {
			w := math.Min(x1, float64(s+1)) - math.Max(x0, float64(s))
			if w > 1e-9 {
				out[d] = append(out[d], span{s, w})
			}
		}
	}
	return out
}

func clamp8(v float64) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// orient applies an EXIF orientation (1-8) so the image is upright; other
// values (0 included, which is invalid) are taken as 1.
func orient(src rgba, o int) rgba {
	if o < 2 || o > 8 {
		return src
	}
	w, h := src.w, src.h
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := newRGBA(dw, dh)
	dst.grey = src.grey
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirrored horizontally
				dx, dy = w-1-x, y
			case 3: // rotated 180
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored vertically
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // stored rotated 90 counter-clockwise: turn clockwise
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // stored rotated 90 clockwise: turn counter-clockwise
				dx, dy = y, w-1-x
			}
			copy(dst.pix[4*(dy*dw+dx):4*(dy*dw+dx)+4], src.pix[4*(y*w+x):4*(y*w+x)+4])
		}
	}
	return dst
}

// flatten composites the image over an opaque background (for JPEG).
func flatten(src rgba, bg [3]uint8) rgba {
	dst := rgba{w: src.w, h: src.h, pix: make([]uint8, len(src.pix)), grey: src.grey && bg[0] == bg[1] && bg[1] == bg[2]}
	for i := 0; i < len(src.pix); i += 4 {
		a := float64(src.pix[i+3]) / 255
		for c := 0; c < 3; c++ {
			dst.pix[i+c] = clamp8(float64(src.pix[i+c])*a + float64(bg[c])*(1-a))
		}
		dst.pix[i+3] = 255
	}
	return dst
}

// interleave returns the pixels with the given channel count:
// 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
func (m rgba) interleave(channels int) []uint8 {
	n := m.w * m.h
	out := make([]uint8, n*channels)
	for i := 0; i < n; i++ {
		p := m.pix[4*i:]
		o := out[channels*i:]
		switch channels {
		case 1:
			o[0] = p[0]
		case 2:
			o[0], o[1] = p[0], p[3]
		case 3:
			o[0], o[1], o[2] = p[0], p[1], p[2]
		case 4:
			copy(o, p[:4])
		}
	}
	return out
}
