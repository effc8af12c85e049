// A read-only GDAL virtual file system whose bytes come from Go (see vsi.go).
// Caching is done on the Go side, per render and shared by all of GDAL's
// handles (readcache.go), so GDAL's own per-handle cache is off. There is
// no multi-range callback: GDAL 3.6's plugin layer copies merged ranges
// back from buffers it never filled. Parallel reads come from prefetching
// the blocks a read will need instead (prefetch.go).
#define _LARGEFILE64_SOURCE 1
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cpl_error.h"
#include "cpl_string.h"
#include "cpl_vsi.h"
#include "_cgo_export.h"

typedef struct {
	char *name;
	vsi_l_offset pos, size;
	int eof;
} qlFile;

static void *ql_open(void *ud, const char *name, const char *access) {
	if (strpbrk(access, "wa+") != NULL) {
		return NULL;
	}
	long long size = qlSize((char *)name);
	if (size < 0) {
		return NULL;
	}
	qlFile *f = calloc(1, sizeof(qlFile));
	f->name = strdup(name);
	f->size = (vsi_l_offset)size;
	return f;
}

static int ql_stat(void *ud, const char *name, VSIStatBufL *st, int flags) {
	long long size = qlSize((char *)name);
	if (size < 0) {
		return -1;
	}
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG;
	st->st_size = size;
	return 0;
}

static vsi_l_offset ql_tell(void *pf) { return ((qlFile *)pf)->pos; }

static int ql_seek(void *pf, vsi_l_offset off, int whence) {
	qlFile *f = pf;
	switch (whence) {
	case SEEK_SET: f->pos = off; break;
	case SEEK_CUR: f->pos += off; break;
	case SEEK_END: f->pos = f->size + off; break;
	default: return -1;
	}
	f->eof = 0;
	return 0;
}

static size_t ql_read(void *pf, void *buf, size_t size, size_t count) {
	qlFile *f = pf;
	size_t want = size * count;
	if (want == 0) {
		return 0;
	}
	if (f->pos >= f->size) {
		f->eof = 1;
		return 0;
	}
	if (want > f->size - f->pos) {
		want = f->size - f->pos;
	}
	long long n = qlRead(f->name, buf, (long long)f->pos, (long long)want);
	if (n < 0) {
		return 0;
	}
	f->pos += n;
	if ((size_t)n < size * count) {
		f->eof = 1;
	}
	return (size_t)n / size;
}

static int ql_eof(void *pf) { return ((qlFile *)pf)->eof; }

static int ql_close(void *pf) {
	qlFile *f = pf;
	free(f->name);
	free(f);
	return 0;
}

// The files GDAL may look for next to an image are the ones the listing
// showed: answering here saves a request per guessed sidecar name.
static char **ql_siblings(void *ud, const char *name) {
	char *joined = qlSiblings((char *)name);
	if (joined == NULL) {
		return NULL;
	}
	char **list = CSLTokenizeString2(joined, "\n", 0);
	free(joined);
	return list;
}

int qlInstall(const char *prefix) {
	VSIFilesystemPluginCallbacksStruct *cb = VSIAllocFilesystemPluginCallbacksStruct();
	cb->open = ql_open;
	cb->stat = ql_stat;
	cb->tell = ql_tell;
	cb->seek = ql_seek;
	cb->read = ql_read;
	cb->eof = ql_eof;
	cb->close = ql_close;
	cb->sibling_files = ql_siblings;
	// GDAL 3.6 keeps this pointer rather than a copy: it must live as long
	// as the process.
	return VSIInstallPluginHandler(prefix, cb);
}

// GDAL's default handler prints to stderr, which would break the JSON log
// stream; every call that matters passes its own handler (diagnostics.go).
void qlQuietGDAL(void) { CPLSetErrorHandler(CPLQuietErrorHandler); }
