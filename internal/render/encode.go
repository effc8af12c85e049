package render

import (
	"fmt"
	"io"

	"github.com/airbusgeo/godal"

	"quicklook/internal/naming"
)

// encode writes the image in the profile's format through GDAL's drivers.
// JPEG never gets alpha (it is flattened) and never more than 3 bands.
func encode(img rgba, f naming.Format, opt Options) ([]byte, error) {
	transparent := !img.opaque()
	var channels int
	var driver string
	var co []string
	switch f {
	case naming.JPEG:
		if transparent {
			img = flatten(img, opt.Background)
		}
		channels, driver = 3, "JPEG"
		if img.grey {
			channels = 1
		}
		co = []string{"-co", fmt.Sprintf("QUALITY=%d", opt.Quality)}
	case naming.PNG:
		driver = "PNG"
		switch {
		case img.grey && transparent:
			channels = 2
		case img.grey:
			channels = 1
		case transparent:
			channels = 4
		default:
			channels = 3
		}
	case naming.WebP:
		driver, channels = "WEBP", 3
		if transparent {
			channels = 4
		}
		co = []string{"-co", fmt.Sprintf("QUALITY=%d", opt.Quality)}
	default:
		return nil, fmt.Errorf("unknown format %q", f)
	}
	mem, err := godal.Create(godal.Memory, "", channels, godal.Byte, img.w, img.h)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	defer mem.Close()
	if err := mem.Write(0, 0, img.interleave(channels), img.w, img.h); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if channels == 2 || channels == 4 {
		if err := mem.Bands()[channels-1].SetColorInterp(godal.CIAlpha); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
	}
	name := fmt.Sprintf("/vsimem/quicklook-%d.%s", nextID.Add(1), f.Ext())
	defer godal.VSIUnlink(name)
	out, err := mem.Translate(name, append([]string{"-of", driver}, co...))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	return readVSIMem(name)
}

func readVSIMem(name string) ([]byte, error) {
	f, err := godal.VSIOpen(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
