package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"quicklook/internal/dockerfile"
	"quicklook/internal/testenv"
)

func stages(t *testing.T) (build, runtime dockerfile.Stage) {
	t.Helper()
	st, err := dockerfile.Read("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 {
		t.Fatalf("%d stages, want build and runtime", len(st))
	}
	return st[0], st[1]
}

// The build stage's Go is the one go.mod asks for: its golang image sets
// GOTOOLCHAIN=local, so an older Go refuses to build the module at all.
func TestBuildStageGoMatchesGoMod(t *testing.T) {
	build, _ := stages(t)
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if want == nil {
		t.Fatal("go.mod has no go line")
	}
	if regexp.MustCompile(`(?m)^toolchain `).Match(mod) {
		t.Error("go.mod names a toolchain: the image would download it")
	}
	got := regexp.MustCompile(`^golang:(\d+\.\d+)(\.\d+)?-bookworm$`).FindStringSubmatch(build.From)
	if got == nil || got[1] != string(want[1]) {
		t.Fatalf("build stage FROM %s: want golang:%s-bookworm (go.mod says go %s)", build.From, want[1], want[1])
	}
}

// The runtime stage must hold every shared library the job links: build the
// job as the build stage does, and trace each library of ldd to its Debian
// package, which must be a runtime package, one of their dependencies, or
// part of the base image (Priority: required).
func TestRuntimeImageHasEveryLinkedLibrary(t *testing.T) {
	for _, tool := range []string{"ldd", "dpkg", "apt-cache", "go"} {
		testenv.Tool(t, tool)
	}
	build, runtime := stages(t)
	if runtime.From != "debian:bookworm-slim" || !strings.HasSuffix(build.From, "-bookworm") {
		t.Fatalf("stages %q / %q: both must be Debian bookworm (GDAL 3.6)", build.From, runtime.From)
	}
	joined := strings.Join(runtime.Instructions, "\n")
	for _, want := range []string{`ENTRYPOINT ["/usr/local/bin/job"]`, "USER 10001", "ca-certificates"} {
		if !strings.Contains(joined, want) {
			t.Errorf("runtime stage lacks %s", want)
		}
	}
	// The build command, as written, with the output redirected here.
	goBuild := build.GoBuild()
	if goBuild == "" || !strings.HasSuffix(goBuild, "./job") {
		t.Fatalf("no cgo build of ./job in the build stage")
	}
	bin := filepath.Join(t.TempDir(), "job")
	cmd := exec.Command("sh", "-c", strings.Replace(goBuild, "-o /out/job", "-o "+bin, 1))
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", goBuild, err, out)
	}
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil {
		t.Fatalf("the built job does not run: %v\n%s", err, out)
	}

	allowed := map[string]bool{}
	runtimePkgs := runtime.AptPackages()
	args := append([]string{"depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
		"--no-breaks", "--no-replaces", "--no-enhances"}, runtimePkgs...)
	deps, err := exec.Command("apt-cache", args...).Output()
	if err != nil {
		t.Fatalf("apt-cache depends: %v", err)
	}
	for _, line := range strings.Split(string(deps), "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(line, "|"), "PreDepends: "), "Depends: ")
		if line != "" && !strings.Contains(line, " ") && !strings.HasPrefix(line, "<") {
			allowed[strings.TrimSuffix(line, ":any")] = true
		}
	}
	base, _ := exec.Command("dpkg-query", "-W", "-f=${Package} ${Priority}\n").Output()
	for _, line := range strings.Split(string(base), "\n") {
		if name, prio, ok := strings.Cut(line, " "); ok && prio == "required" {
			allowed[name] = true
		}
	}

	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd: %v", err)
	}
	libs := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		var path string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			path = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			path = f[0] // the dynamic loader
		default:
			continue
		}
		libs++
		pkg := owner(path)
		if pkg == "" {
			t.Errorf("%s belongs to no Debian package", path)
			continue
		}
		if !allowed[pkg] {
			t.Errorf("%s comes from %s, which the runtime stage (%v) does not install", path, pkg, runtimePkgs)
		}
	}
	if libs < 10 {
		t.Fatalf("ldd listed %d libraries: not a cgo build against GDAL?", libs)
	}
	t.Logf("%d linked libraries, all from %v, their dependencies or the base image", libs, runtimePkgs)
}

// owner is the package of a file; merged /usr means ldd and dpkg may name
// the same file /lib/... and /usr/lib/....
func owner(path string) string {
	real, _ := filepath.EvalSymlinks(path)
	for _, p := range []string{path, "/usr" + path, real, "/usr" + real, strings.TrimPrefix(real, "/usr")} {
		if p == "" || p == "/usr" {
			continue
		}
		out, err := exec.Command("dpkg", "-S", p).Output()
		if err == nil {
			name, _, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
			return name
		}
	}
	return ""
}
