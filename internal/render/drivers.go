package render

/*
#cgo pkg-config: gdal
#include <stdlib.h>
#include <gdal.h>
*/
import "C"

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/airbusgeo/godal"
)

// referencing drivers read files or URLs named inside the file they open: a
// hostile object could make them read the machine's own files or call out to
// the network, so they never open sources, whatever the extension. MRF names
// its index and data files too, but its header is checked before GDAL opens
// it (see references.go), so it may.
var referencing = map[string]bool{
	"VRT": true, "WMS": true, "WMTS": true, "STACTA": true, "STACIT": true,
	"OGCAPI": true, "DAAS": true, "EEDAI": true, "PLMOSAIC": true, "DERIVED": true,
	"GTI": true, "MEM": true, "KMLSUPEROVERLAY": true, "ISIS2": true, "ISIS3": true,
	"PDS": true, "PDS4": true, "ERS": true, "PCIDSK": true, "ILWIS": true, "SDTS": true,
	"ESRIC": true, "DIMAP": true, "SAFE": true, "SENTINEL2": true, "RS2": true,
	"ECRGTOC": true, "RPFTOC": true, "WCS": true, "HTTP": true, "ESRIJSON": true,
}

// aliases are extensions of formats GDAL reads under another name: a
// camera's multi-picture JPEG (.mpo) is a JPEG with more pictures appended,
// and the JPEG driver reads the first.
var aliases = map[string]string{"mpo": "JPEG", "jfif": "JPEG", "jpe": "JPEG"}

// driversFor lists the registered raster drivers that declare one of exts
// as theirs (GDAL's DMD_EXTENSIONS). Only they may open a source: GDAL would
// otherwise offer every object's bytes to two hundred format probes.
func driversFor(exts []string) ([]string, error) {
	want := map[string]bool{}
	for _, e := range exts {
		want[strings.ToLower(strings.TrimPrefix(e, "."))] = false
	}
	extsKey, rasterKey := C.CString("DMD_EXTENSIONS"), C.CString("DCAP_RASTER")
	defer C.free(unsafe.Pointer(extsKey))
	defer C.free(unsafe.Pointer(rasterKey))
	var out []string
	for i := 0; i < int(C.GDALGetDriverCount()); i++ {
		drv := C.GDALGetDriver(C.int(i))
		name := C.GoString(C.GDALGetDriverShortName(drv))
		if referencing[name] || C.GDALGetMetadataItem(C.GDALMajorObjectH(drv), rasterKey, nil) == nil {
			continue
		}
		if v := C.GDALGetMetadataItem(C.GDALMajorObjectH(drv), extsKey, nil); v != nil {
			for _, e := range strings.Fields(C.GoString(v)) {
				e = strings.ToLower(e)
				if _, ok := want[e]; ok {
					want[e] = true
					out = append(out, name)
				}
			}
		}
	}
	for e := range want {
		if d, ok := aliases[e]; ok {
			if _, registered := godal.RasterDriver(godal.DriverName(d)); registered {
				want[e] = true
				out = append(out, d)
			}
		}
	}
	var unknown []string
	for e, found := range want {
		if !found {
			unknown = append(unknown, "."+e)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("no GDAL raster driver reads %s files (formats that name other files, like VRT, are never opened)", strings.Join(unknown, ", "))
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}
