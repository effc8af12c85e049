package render

/*
#cgo pkg-config: gdal
#include <stdlib.h>
int qlInstall(const char *prefix);
void qlQuietGDAL(void);
*/
import "C"

import (
	"fmt"
	"io"
	pathpkg "path"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// vsiPrefix is where GDAL finds Sources: /vsiql/<render id>/<key>.
const vsiPrefix = "/vsiql/"

var (
	attachedSources sync.Map // render id -> attached
	nextID          atomic.Uint64
)

type attached struct {
	src      Source
	siblings []string // base names of the object and its sidecars
}

type vsiRouter struct{}

func (vsiRouter) lookup(name string) (Source, string, error) {
	rest := strings.TrimPrefix(name, vsiPrefix)
	id, key, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, "", fmt.Errorf("malformed path %q", name)
	}
	a, ok := attachedSources.Load(id)
	if !ok {
		return nil, "", fmt.Errorf("no open source for %q", name)
	}
	return a.(attached).src, key, nil
}

func (r vsiRouter) Size(name string) (int64, error) {
	s, key, err := r.lookup(name)
	if err != nil {
		return -1, err
	}
	return s.Size(key)
}

func (r vsiRouter) ReadAt(name string, p []byte, off int64) (int, error) {
	s, key, err := r.lookup(name)
	if err != nil {
		return 0, err
	}
	return s.ReadAt(key, p, off)
}

// attach makes src readable by GDAL under a fresh path until detach is
// called; siblings are the keys of sidecar files GDAL may open with it.
func attach(src Source, key string, siblings ...string) (path string, detach func()) {
	id := fmt.Sprint(nextID.Add(1))
	names := []string{pathpkg.Base(key)}
	for _, s := range siblings {
		names = append(names, pathpkg.Base(s))
	}
	attachedSources.Store(id, attached{src: src, siblings: names})
	return vsiPrefix + id + "/" + key, func() { attachedSources.Delete(id) }
}

// registerVSI installs /vsiql/ with GDAL's plugin API rather than godal's
// Go handler, whose multi-range read (which GTiff uses even for one range)
// returns unfilled buffers in v0.0.18.
func registerVSI() error {
	C.qlQuietGDAL()
	// GDAL 3.6 keeps the prefix pointer: it is never freed.
	prefix := C.CString(vsiPrefix)
	if C.qlInstall(prefix) != 0 {
		return fmt.Errorf("installing the %s file system in GDAL failed", vsiPrefix)
	}
	return nil
}

//export qlSize
func qlSize(name *C.char) C.longlong {
	n, err := vsiRouter{}.Size(C.GoString(name))
	if err != nil {
		return -1
	}
	return C.longlong(n)
}

//export qlSiblings
func qlSiblings(name *C.char) *C.char {
	rest := strings.TrimPrefix(C.GoString(name), vsiPrefix)
	id, _, _ := strings.Cut(rest, "/")
	a, ok := attachedSources.Load(id)
	if !ok {
		return nil
	}
	return C.CString(strings.Join(a.(attached).siblings, "\n"))
}

//export qlRead
func qlRead(name *C.char, buf unsafe.Pointer, off, n C.longlong) C.longlong {
	p := unsafe.Slice((*byte)(buf), int(n))
	got, err := vsiRouter{}.ReadAt(C.GoString(name), p, int64(off))
	if err != nil && got == 0 && err != io.EOF {
		return -1
	}
	return C.longlong(got)
}
