package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// maxMRFHeader bounds the header read; real ones are about 1 KB.
const maxMRFHeader = 1 << 20

// checkReferences refuses, before GDAL opens key, a file whose content names
// other files that are not its own parts. GDAL follows such names wherever
// they point: an absolute path to the worker's disk, a /vsi path, a URL. The
// files an MRF header names (its index and data) are resolved against the
// header's key, as GDAL resolves them, and must be parts listed beside it;
// a caching MRF, which reads another raster, is refused whole. Other formats
// that name files by content are never opened (see referencing in drivers.go).
// It is called for every file whose bytes are an MRF header (GDAL's MRF
// driver takes any file that starts with <MRF_META>, whatever its name).
func checkReferences(src Source, key string, parts []string) error {
	size, err := src.Size(key)
	if err != nil {
		return err
	}
	if size > maxMRFHeader {
		return dataErr(ClassCorrupt, "an MRF header of %d bytes (headers are a few KB)", size)
	}
	header := make([]byte, size)
	if n, err := src.ReadAt(key, header, 0); int64(n) < size {
		return err
	}
	return checkMRFHeader(header, key, parts)
}

// checkMRFHeader walks every element and attribute of the header. GDAL's XML
// lookups ignore case and find attributes as well as elements, so both are
// checked, by name, ignoring case.
func checkMRFHeader(header []byte, key string, parts []string) error {
	d := xml.NewDecoder(bytes.NewReader(header))
	var naming string // the DataFile or IndexFile element being read
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return dataErr(ClassCorrupt, "unreadable MRF header: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return dataErr(ClassCorrupt, "an MRF header with a <!%s> directive", firstWord(t))
		case xml.StartElement:
			if naming != "" {
				return dataErr(ClassCorrupt, "an MRF header with elements inside <%s>", naming)
			}
			if err := checkName(t.Name.Local); err != nil {
				return err
			}
			if isFileName(t.Name.Local) {
				naming = t.Name.Local
				text.Reset()
			}
			for _, a := range t.Attr {
				if err := checkName(a.Name.Local); err != nil {
					return err
				}
				if isFileName(a.Name.Local) {
					if err := checkPart(key, a.Name.Local, a.Value, parts); err != nil {
						return err
					}
				}
			}
		case xml.CharData:
			if naming != "" {
				text.Write(t)
			}
		case xml.EndElement:
			if naming != "" {
				if err := checkPart(key, naming, text.String(), parts); err != nil {
					return err
				}
				naming = ""
			}
		}
	}
}

// checkName refuses the elements of a caching or cloning MRF, which reads
// another raster named in the header (any GDAL dataset, local or remote).
func checkName(name string) error {
	if strings.EqualFold(name, "CachedSource") || strings.EqualFold(name, "Source") {
		return dataErr(ClassCorrupt, "a caching MRF (<%s>): it reads another raster, which is never opened", name)
	}
	return nil
}

func isFileName(name string) bool {
	return strings.EqualFold(name, "DataFile") || strings.EqualFold(name, "IndexFile")
}

// checkPart accepts a file name that resolves, against the header's folder,
// to one of the parts listed beside the header. An empty name lets GDAL
// derive the part's name from the header's own.
func checkPart(key, field, name string, parts []string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	refuse := func(why string) error {
		return dataErr(ClassCorrupt, "the MRF header's %s %q %s; only parts beside it are read", field, name, why)
	}
	if strings.HasPrefix(name, "/") || strings.ContainsAny(name, ":\\\x00") {
		return refuse("is an absolute path, a URL or another file system")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return refuse("leaves the header's folder")
		}
	}
	if !slices.Contains(parts, path.Join(path.Dir(key), name)) {
		return refuse("is not listed beside it")
	}
	return nil
}

func firstWord(b []byte) string {
	w, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return fmt.Sprintf("%.20s", w)
}
