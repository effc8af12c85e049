package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalConformance(t *testing.T) {
	s, err := OpenLocal(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	Conformance(t, s)
}

func TestLocalHidesBookkeepingAndTempFiles(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenLocal(dir, false)
	ctx := context.Background()
	if err := s.Put(ctx, "x.jpg", []byte("1"), PutOptions{Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, reservedDir, "meta", "x.jpg.json")); err != nil {
		t.Fatalf("metadata sidecar missing: %v", err)
	}
	if got := listKeys(t, s, "", ""); strings.Join(got, "|") != "x.jpg" {
		t.Fatalf("list = %q", got)
	}
	if err := s.Put(ctx, ".quicklook/meta/y", []byte("1"), PutOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("put into the reserved folder = %v", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(dir, reservedDir, "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("temp files left behind: %v", tmp)
	}
}

func TestOpenLocalErrors(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing"), OpenOptions{})
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing source folder = %v", err)
	}
	dest := filepath.Join(t.TempDir(), "new", "dest")
	if _, err := Open(context.Background(), "file://"+dest, OpenOptions{Create: true}); err != nil {
		t.Fatalf("creating destination: %v", err)
	}
	if _, err := Open(context.Background(), "gs://bucket", OpenOptions{}); err == nil {
		t.Fatal("unknown scheme accepted")
	}
}

func TestLocalSkipsEmptyFoldersInCommonPrefixes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "empty", "deeper"), 0o755)
	os.MkdirAll(filepath.Join(dir, "full"), 0o755)
	os.WriteFile(filepath.Join(dir, "full", "f.tif"), []byte("x"), 0o644)
	s, _ := OpenLocal(dir, false)
	if got := listKeys(t, s, "", "/"); strings.Join(got, "|") != "full/" {
		t.Fatalf("list = %q", got)
	}
}

func TestReadWriteFileLocations(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "runs", "plan.json")
	if err := WriteFile(ctx, p, []byte(`{"a":1}`), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(ctx, "file://"+p, OpenOptions{})
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("read back %q, %v", b, err)
	}
	if _, err := ReadFile(ctx, filepath.Dir(p)+"/missing.json", OpenOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	for _, bad := range []string{"s3://bucket", "s3://bucket/", "s3:///key", "dir/"} {
		if _, err := ReadFile(ctx, bad, OpenOptions{}); err == nil {
			t.Errorf("ReadFile(%q) accepted", bad)
		}
	}
}
