package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"quicklook/internal/testenv"
)

// stages splits the Dockerfile into its stages' instructions (continuation
// lines joined).
func stages(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cur += " " + strings.TrimSuffix(line, "\\")
		if strings.HasSuffix(line, "\\") {
			continue
		}
		instr := strings.TrimSpace(cur)
		cur = ""
		if strings.HasPrefix(instr, "FROM ") {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], instr)
	}
	return out
}

// aptPackages are the packages RUN apt-get install lines of a stage name.
func aptPackages(stage []string) []string {
	var pkgs []string
	re := regexp.MustCompile(`apt-get install((?:\s+[^&;|]+))`)
	for _, in := range stage {
		for _, m := range re.FindAllStringSubmatch(in, -1) {
			for _, w := range strings.Fields(m[1]) {
				if !strings.HasPrefix(w, "-") {
					pkgs = append(pkgs, w)
				}
			}
		}
	}
	return pkgs
}

// The runtime stage must hold every shared library the job links: build the
// job as the build stage does, and trace each library of ldd to its Debian
// package, which must be a runtime package, one of their dependencies, or
// part of the base image (Priority: required).
func TestRuntimeImageHasEveryLinkedLibrary(t *testing.T) {
	for _, tool := range []string{"ldd", "dpkg", "apt-cache", "go"} {
		testenv.Tool(t, tool)
	}
	st := stages(t)
	if len(st) != 2 {
		t.Fatalf("%d stages, want build and runtime", len(st))
	}
	build, runtime := st[0], st[1]
	if !strings.Contains(runtime[0], "debian:bookworm-slim") || !strings.Contains(build[0], "bookworm") {
		t.Fatalf("stages %q / %q: both must be Debian bookworm (GDAL 3.6)", build[0], runtime[0])
	}
	joined := strings.Join(runtime, "\n")
	for _, want := range []string{`ENTRYPOINT ["/usr/local/bin/job"]`, "USER 10001", "ca-certificates"} {
		if !strings.Contains(joined, want) {
			t.Errorf("runtime stage lacks %s", want)
		}
	}
	// The build command, as written, with the output redirected here.
	var goBuild string
	for _, in := range build {
		if i := strings.Index(in, "CGO_ENABLED=1 go build"); i >= 0 {
			goBuild = in[i:]
		}
	}
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
	runtimePkgs := aptPackages(runtime)
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
