package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/airbusgeo/godal"

	"quicklook/internal/imagehead"
)

// diagnostics collects what GDAL says during one render and decides, per
// message, whether it is an error.
//
// While opening, GDAL reports failures of drivers it merely probes (a JPEG's
// EXIF block "is not a TIFF file"): those only explain a failed open. While
// reading pixels, any failure is an error and so is any libjpeg warning,
// since libjpeg warns ("premature end", "corrupt data") and then hands back
// grey or garbage blocks: a wrong thumbnail written silently.
type diagnostics struct {
	mu   sync.Mutex
	msgs []string
	// source holds the first storage error a read callback reported.
	source error
	// corrupt is set by any libjpeg message that reports lost data,
	// whenever it comes (libjpeg reports some damage while headers are
	// parsed at open, some only when decoding finishes), and by libtiff
	// losing the pixel index.
	corrupt bool
	// head is the object's header, to tell junk between a JPEG's segments
	// (nothing lost) from junk in its scan.
	head []byte
	// prefix is the /vsiql/ path GDAL knows the object's folder by:
	// messages name the key instead.
	prefix string
}

// setPath makes messages about path name key instead.
func (d *diagnostics) setPath(path, key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prefix = strings.TrimSuffix(path, key)
}

var extraneous = regexp.MustCompile(`extraneous bytes before marker 0x([0-9a-fA-F]{2})`)

// lostData reports whether a libjpeg message means pixels were lost: any
// message but junk between segments before the scan.
func (d *diagnostics) lostData(msg string) bool {
	m := extraneous.FindStringSubmatch(msg)
	if m == nil {
		return true
	}
	marker, err := strconv.ParseUint(m[1], 16, 8)
	return err != nil || !imagehead.BenignJPEGJunk(d.head, byte(marker))
}

func (d *diagnostics) add(ec godal.ErrorCategory, msg string) (lost bool) {
	msg = strings.TrimSpace(strings.Replace(msg, libjpegHint, "", 1))
	if msg == "unknown error" {
		return false // godal's filler after a failed open: the real messages came first
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prefix != "" {
		msg = strings.ReplaceAll(msg, d.prefix, "")
	}
	if len(d.msgs) < 8 {
		d.msgs = append(d.msgs, msg)
	}
	lost = (strings.Contains(msg, "libjpeg") && d.lostData(msg)) || lostPixelIndex(msg)
	if lost {
		d.corrupt = true
	}
	return lost
}

// lostPixelIndex recognises libtiff dropping the tags that say where the
// pixels are: whatever it reads afterwards is a guess, not the image.
func lostPixelIndex(msg string) bool {
	if !strings.Contains(msg, "ignored") {
		return false
	}
	for _, tag := range []string{"StripOffsets", "StripByteCounts", "TileOffsets", "TileByteCounts"} {
		if strings.Contains(msg, tag) {
			return true
		}
	}
	return false
}

// libjpegHint is GDAL's advice appended to every libjpeg warning.
const libjpegHint = "(this warning can be turned as an error by setting GDAL_ERROR_ON_LIBJPEG_WARNING to TRUE)"

// openFailed recognises the message godal raises when GDALOpen returned no
// dataset and every earlier message had been let through.
func openFailed(ec godal.ErrorCategory, msg string) bool {
	return ec >= godal.CE_Failure && msg == "unknown error"
}

// corruption returns the data error for libjpeg damage seen so far, if any.
func (d *diagnostics) corruption() error {
	d.mu.Lock()
	bad := d.corrupt
	d.mu.Unlock()
	if !bad {
		return nil
	}
	return &Error{Class: ClassCorrupt, Msg: "damaged image data: " + d.summary(nil)}
}

func (d *diagnostics) lenient(ec godal.ErrorCategory, code int, msg string) error {
	if ec >= godal.CE_Warning {
		d.add(ec, msg)
	}
	if openFailed(ec, msg) {
		return errors.New("GDAL could not open the file")
	}
	return nil
}

func (d *diagnostics) strict(ec godal.ErrorCategory, code int, msg string) error {
	if ec < godal.CE_Warning {
		return nil
	}
	lost := d.add(ec, msg)
	if ec >= godal.CE_Failure || lost {
		return errors.New(msg)
	}
	return nil
}

func (d *diagnostics) summary(err error) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.msgs) == 0 {
		if err == nil {
			return "no details"
		}
		return err.Error()
	}
	return strings.Join(d.msgs, "; ")
}

func (d *diagnostics) setSourceError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.source == nil {
		d.source = err
	}
}

func (d *diagnostics) sourceError() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.source
}

func (d *diagnostics) readErr(err error) error {
	return &Error{Class: ClassCorrupt, Msg: fmt.Sprintf("reading pixels: %s", d.summary(err))}
}
