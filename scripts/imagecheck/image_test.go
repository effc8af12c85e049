// Package imagecheck proves the job image without a container engine: it
// builds the runtime stage's root filesystem from the Debian packages the
// Dockerfile names (mmdebstrap, the machine's own apt sources, the stage's
// RUN and COPY instructions in order), puts in the bin/job the build stage's
// command produces, and runs the job there as the image would: as its USER,
// with its ENV and ENTRYPOINT, on a read-only root (the job definition's
// ReadonlyRootFilesystem), from a folder and from the S3 server.
// `make image-check` runs it alone; `make test` runs it with every test.
package imagecheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"quicklook/internal/dockerfile"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
	"quicklook/internal/testenv"
)

// The Debian slim images keep no documentation, manuals or translations.
var slimExcludes = []string{
	"path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
	"path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
	"path-exclude=/usr/share/groff/*", "path-exclude=/usr/share/lintian/*",
	"path-exclude=/usr/share/locale/*",
}

// image is a runtime root filesystem and how the image runs a command in it.
type image struct {
	root, user, workdir string
	env, entrypoint     []string
	uid, gid            int
}

func TestImageRunsTheJob(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (building a root filesystem and chroot need it)")
	}
	for _, tool := range []string{"mmdebstrap", "unshare", "chroot", "mount", "go"} {
		testenv.Tool(t, tool)
	}
	repo := testenv.ModuleRoot(t)
	real := testenv.RealData(t)
	stages, err := dockerfile.Read(filepath.Join(repo, "Dockerfile"))
	if err != nil || len(stages) != 2 {
		t.Fatalf("Dockerfile: %d stages, %v", len(stages), err)
	}
	bin := buildJob(t, repo, stages[0])
	img := buildRoot(t, stages[1], stages[0].Name, bin)
	size := du(t, img.root)
	t.Logf("runtime root filesystem: %.0f MiB", float64(size)/(1<<20))

	work := t.TempDir()
	os.Chmod(work, 0o755)
	data := filepath.Join(work, "data")
	samples := testenv.Build(t.TempDir(), "samples", filepath.Join(repo, "scripts/samples"))
	if out, err := exec.Command(samples, "-out", data, "-real", real, "-width", "300", "-height", "375").CombinedOutput(); err != nil {
		t.Fatalf("samples: %v\n%s", err, out)
	}
	images := countFiles(t, data, ".tif")
	thumbs := filepath.Join(work, "thumbs")
	os.MkdirAll(thumbs, 0o755)
	os.Chown(thumbs, img.uid, img.gid)

	// --help: the binary starts (every library it links is there).
	if out := img.run(t, work, nil, "--help"); !strings.Contains(out, "USAGE") {
		t.Fatalf("job --help printed:\n%s", out)
	}
	// A folder run, as an AWS Batch attempt would start it.
	batchEnv := []string{"AWS_BATCH_JOB_ID=image-check", "AWS_BATCH_JOB_ATTEMPT=1", "AWS_BATCH_JQ_NAME=image-check", "QUICKLOOK_LOG_FORMAT=json"}
	out := img.run(t, work, batchEnv, "run", "--source", "/work/data", "--prefix", "", "--dest", "/work/thumbs")
	if !strings.Contains(out, `"msg":"summary"`) || !strings.Contains(out, fmt.Sprintf(`"created":%d`, images)) {
		t.Fatalf("folder run:\n%s", out)
	}
	if got := countFiles(t, thumbs, ".thumb.jpg"); got != images {
		t.Fatalf("%d thumbnails for %d images", got, images)
	}

	// From the S3 server: the SDK, its credential chain and TLS roots in the image.
	srcLoc, dstLoc := s3test.Bucket(t, "image-src"), s3test.Bucket(t, "image-dst")
	src, _ := storage.OpenS3(context.Background(), srcLoc, storage.OpenOptions{})
	s3test.PutFolder(t, src, data)
	var s3Env []string
	for _, k := range []string{"AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"} {
		s3Env = append(s3Env, k+"="+os.Getenv(k))
	}
	out = img.run(t, work, append(s3Env, batchEnv...), "run", "--source", srcLoc, "--prefix", "", "--dest", dstLoc+"/")
	if !strings.Contains(out, fmt.Sprintf(`"created":%d`, images)) {
		t.Fatalf("S3 run:\n%s", out)
	}
	dst, _ := storage.OpenS3(context.Background(), dstLoc, storage.OpenOptions{})
	n := 0
	dst.List(context.Background(), "", "", func(e storage.Entry) error {
		if strings.HasSuffix(e.Key, ".thumb.jpg") {
			n++
		}
		return nil
	})
	if n != images {
		t.Fatalf("%d thumbnails in %s for %d images", n, dstLoc, images)
	}

	// The indexer step.
	key := "al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif"
	if out := img.run(t, work, nil, "url", "--url-base", "https://d123.cloudfront.net", key); strings.TrimSpace(out) != "https://d123.cloudfront.net/al/2013/1m/30085/m_3008501_ne_16_1_20130928.thumb.jpg" {
		t.Fatalf("job url printed %q", out)
	}
	t.Logf("job --help, run from a folder and from S3 (%d images each), url: all in the image, as uid %d on a read-only root", images, img.uid)
}

// buildJob runs the build stage's go build command here (same Debian, same
// GDAL), writing the binary into a temporary folder.
func buildJob(t *testing.T, repo string, build dockerfile.Stage) string {
	t.Helper()
	cmdline := build.GoBuild()
	if !strings.Contains(cmdline, "-o /out/job") {
		t.Fatalf("build stage: no `CGO_ENABLED=1 go build ... -o /out/job ./job`")
	}
	bin := filepath.Join(t.TempDir(), "job")
	cmd := exec.Command("sh", "-c", strings.Replace(cmdline, "-o /out/job", "-o "+bin, 1))
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, out)
	}
	return bin
}

// buildRoot makes the runtime stage's root filesystem: the base image's
// packages (minbase, as Debian's slim images are), then each instruction.
func buildRoot(t *testing.T, st dockerfile.Stage, buildStage, bin string) *image {
	t.Helper()
	suite, ok := strings.CutPrefix(st.From, "debian:")
	suite = strings.TrimSuffix(suite, "-slim")
	if !ok || suite == "" {
		t.Fatalf("runtime stage FROM %s: the check builds Debian images only", st.From)
	}
	img := &image{root: filepath.Join(t.TempDir(), "rootfs"), user: "root",
		env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
	args := []string{"--variant=minbase", "--quiet"}
	for _, x := range slimExcludes {
		args = append(args, "--dpkgopt="+x)
	}
	copies := st.Copies()
	for _, in := range st.Instructions {
		kind, rest, _ := strings.Cut(in, " ")
		switch kind {
		case "RUN":
			args = append(args, "--customize-hook=chroot \"$1\" sh -ec "+shellQuote(rest))
		case "COPY":
			c := copies[0]
			copies = copies[1:]
			if c.From != buildStage || len(c.Src) != 1 || c.Src[0] != "/out/job" {
				t.Fatalf("%s: the check copies the build stage's /out/job only", in)
			}
			args = append(args, "--customize-hook=mkdir -p \"$1\""+shellQuote(filepath.Dir(c.Dest)),
				"--customize-hook=cp "+shellQuote(bin)+" \"$1\""+shellQuote(c.Dest))
		case "USER":
			img.user = rest
		case "ENV":
		case "WORKDIR":
			img.workdir = rest
		case "ENTRYPOINT":
			var err error
			if img.entrypoint, err = st.Entrypoint(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: the image check does not know this instruction", in)
		}
	}
	img.env = append(img.env, st.Env()...)
	if len(img.entrypoint) == 0 {
		t.Fatal("runtime stage: no ENTRYPOINT")
	}
	args = append(args, suite, img.root)
	args = append(args, aptSources(t)...)
	started := time.Now()
	if out, err := exec.Command("mmdebstrap", args...).CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap (the runtime stage's packages): %v\n%s", err, tail(string(out), 40))
	}
	t.Logf("runtime root filesystem built in %.0fs", time.Since(started).Seconds())
	for _, p := range append([]string{"/work", "/proc", "/dev"}, img.workdir) {
		if p != "" {
			os.MkdirAll(filepath.Join(img.root, p), 0o755)
		}
	}
	img.uid, img.gid = lookupUser(t, img.root, img.user)
	if _, err := os.Stat(filepath.Join(img.root, img.entrypoint[0])); err != nil {
		t.Fatalf("ENTRYPOINT %s is not in the image: %v", img.entrypoint[0], err)
	}
	return img
}

// run runs the entrypoint with args in the image, as its user, with its
// environment plus extra, on a read-only root with work at /work; it fails
// the test on a non-zero exit and returns the output.
func (img *image) run(t *testing.T, work string, extra []string, args ...string) string {
	t.Helper()
	// A private mount namespace: nothing outlives the command.
	script := `set -e
R=$1; W=$2; shift 2
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
mount -t proc proc "$R/proc"
mount -t tmpfs -o size=1m,mode=755 tmpfs "$R/dev"
for d in null zero random urandom; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mount --bind "$W" "$R/work"
exec "$@"`
	cmdArgs := []string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", img.root, work,
		"chroot", fmt.Sprintf("--userspec=%d:%d", img.uid, img.gid), img.root, "/usr/bin/env", "-i"}
	cmdArgs = append(cmdArgs, img.env...)
	cmdArgs = append(cmdArgs, extra...)
	cmdArgs = append(cmdArgs, img.entrypoint...)
	cmdArgs = append(cmdArgs, args...)
	out, err := exec.Command("unshare", cmdArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("job %s in the image: %v\n%s", strings.Join(args, " "), err, tail(string(out), 30))
	}
	return string(out)
}

// aptSources are the machine's own apt sources, as mmdebstrap reads them.
func aptSources(t *testing.T) []string {
	var out []string
	for _, pattern := range []string{"/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pattern)
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Size() > 0 {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("this machine has no apt sources to build the image from")
	}
	return out
}

func lookupUser(t *testing.T, root, user string) (int, int) {
	t.Helper()
	name, group, _ := strings.Cut(user, ":")
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 3 && (f[0] == name || f[2] == name) {
			uid, _ := strconv.Atoi(f[2])
			gid, _ := strconv.Atoi(f[3])
			if group != "" {
				gid, _ = strconv.Atoi(group)
			}
			return uid, gid
		}
	}
	t.Fatalf("USER %s: no such user in the image's /etc/passwd", user)
	return 0, 0
}

func countFiles(t *testing.T, dir, suffix string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			n++
		}
		return nil
	})
	return n
}

func du(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
