package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"quicklook/internal/parallel"
	"quicklook/internal/storage"
)

// worker runs one peer as its own process, so its CPU time and memory are
// measured with everything it starts.
func worker(peer string, args []string) int {
	fs := flag.NewFlagSet(peer, flag.ExitOnError)
	bucket := fs.String("bucket", "", "")
	keys := fs.String("keys", "", "")
	files := fs.String("files", "", "")
	tmp := fs.String("tmp", os.TempDir(), "")
	fs.Parse(args)
	ctx := context.Background()
	gdal := func(args ...string) error {
		out, err := exec.Command("gdal_translate", append([]string{"-q"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("gdal_translate %v: %v: %s", args, err, out)
		}
		return nil
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, peer+":", err)
		return 1
	}
	switch peer {
	case "peer1", "peer1b": // production today: whole object down, subprocess, thumbnail up
		st, err := storage.OpenS3(ctx, "s3://"+*bucket, storage.OpenOptions{})
		if err != nil {
			return fail(err)
		}
		for _, k := range strings.Split(*keys, ",") {
			local := filepath.Join(*tmp, "peer1-"+filepath.Base(k))
			at := 1 // production's downloader: one 8 MiB part after another
			if peer == "peer1b" {
				at = 10 // aws s3 cp: ten parts at once
			}
			if err := download(ctx, st, k, local, at); err != nil {
				return fail(err)
			}
			thumb := local + ".jpg"
			if err := gdal("-of", "JPEG", "-outsize", "270", "270", local, thumb); err != nil {
				return fail(err)
			}
			b, _ := os.ReadFile(thumb)
			if err := st.Put(ctx, "peer1-out/"+k+".jpg", b, storage.PutOptions{ContentType: "image/jpeg"}); err != nil {
				return fail(err)
			}
			os.Remove(local)
			os.Remove(thumb)
			os.Remove(thumb + ".aux.xml")
		}
	case "peer2": // GDAL reads S3 itself, one subprocess per image
		os.Setenv("AWS_HTTPS", "NO")
		os.Setenv("AWS_VIRTUAL_HOSTING", "FALSE")
		os.Setenv("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR") // the usual advice for /vsis3/
		for _, k := range strings.Split(*keys, ",") {
			thumb := filepath.Join(*tmp, "peer2-"+filepath.Base(k)+".jpg")
			if err := gdal("-outsize", "256", "0", "-b", "1", "-b", "2", "-b", "3", "/vsis3/"+*bucket+"/"+k, thumb); err != nil {
				return fail(err)
			}
		}
	case "peer1-local", "peer2-local":
		for _, f := range strings.Split(*files, ",") {
			thumb := filepath.Join(*tmp, peer+"-"+filepath.Base(f)+".jpg")
			args := []string{"-of", "JPEG", "-outsize", "270", "270", f, thumb}
			if peer == "peer2-local" {
				args = []string{"-outsize", "256", "0", "-b", "1", "-b", "2", "-b", "3", f, thumb}
			}
			if err := gdal(args...); err != nil {
				return fail(err)
			}
		}
	default:
		return fail(fmt.Errorf("unknown peer"))
	}
	return 0
}

// download fetches a whole object in ranged GETs of 8 MiB parts after a
// HEAD, concurrency at a time (aws s3 cp takes ten), into the file.
func download(ctx context.Context, st *storage.S3, key, local string, concurrency int) error {
	const part = 8 << 20
	obj, err := st.Stat(ctx, key)
	if err != nil {
		return err
	}
	f, err := os.Create(local)
	if err != nil {
		return err
	}
	defer f.Close()
	parts := int((obj.Size + part - 1) / part)
	return parallel.EachErr(parts, concurrency, func(i int) error {
		off := int64(i) * part
		buf := make([]byte, min(part, obj.Size-off))
		if _, err := st.ReadAt(ctx, key, buf, off); err != nil && err != io.EOF {
			return err
		}
		_, err := f.WriteAt(buf, off)
		return err
	})
}
