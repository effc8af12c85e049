// Package dockerfile reads the project's Dockerfile, so that the checks that
// prove the image (the linked-library test, the image check that builds the
// runtime stage's root filesystem and runs the job in it) read the very
// instructions an image build would, and cannot drift from them.
package dockerfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Stage is one FROM and the instructions after it, continuation lines joined.
type Stage struct {
	From         string   // the image, e.g. debian:bookworm-slim
	Name         string   // AS name, if any
	Instructions []string // e.g. "RUN apt-get update && ...", without FROM
}

// Read parses the Dockerfile at path.
func Read(path string) ([]Stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse splits a Dockerfile into stages.
func Parse(r io.Reader) ([]Stage, error) {
	var out []Stage
	var cur string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cur += " " + strings.TrimSuffix(line, "\\")
		if strings.HasSuffix(line, "\\") {
			continue
		}
		instr := strings.Join(strings.Fields(cur), " ")
		cur = ""
		if rest, ok := strings.CutPrefix(instr, "FROM "); ok {
			f := strings.Fields(rest)
			st := Stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			out = append(out, st)
			continue
		}
		if len(out) == 0 {
			if strings.HasPrefix(instr, "ARG ") {
				continue
			}
			return nil, fmt.Errorf("dockerfile: %q before the first FROM", instr)
		}
		out[len(out)-1].Instructions = append(out[len(out)-1].Instructions, instr)
	}
	return out, sc.Err()
}

// All returns the arguments of every instruction of the kind (RUN, ENV, ...).
func (s Stage) All(kind string) []string {
	var out []string
	for _, in := range s.Instructions {
		if rest, ok := strings.CutPrefix(in, kind+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// Last is the arguments of the stage's last instruction of the kind.
func (s Stage) Last(kind string) string {
	all := s.All(kind)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

var aptInstall = regexp.MustCompile(`apt-get install((?:\s+[^&;|]+))`)

// AptPackages are the packages the stage's RUN lines install with apt-get.
func (s Stage) AptPackages() []string {
	var pkgs []string
	for _, run := range s.All("RUN") {
		for _, m := range aptInstall.FindAllStringSubmatch(run, -1) {
			for _, w := range strings.Fields(m[1]) {
				if !strings.HasPrefix(w, "-") {
					pkgs = append(pkgs, w)
				}
			}
		}
	}
	return pkgs
}

// Env is the stage's ENV settings, in order (KEY=VALUE, unquoted).
func (s Stage) Env() []string {
	var out []string
	for _, e := range s.All("ENV") {
		for _, kv := range strings.Fields(e) {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				out = append(out, k+"="+strings.Trim(v, `"`))
			}
		}
	}
	return out
}

// GoBuild is the stage's cgo build command of ./job (from "CGO_ENABLED=1").
func (s Stage) GoBuild() string {
	for _, run := range s.All("RUN") {
		if i := strings.Index(run, "CGO_ENABLED=1 go build"); i >= 0 {
			return run[i:]
		}
	}
	return ""
}

// Copy is one COPY instruction: its --from stage (empty: the build
// context), sources and destination.
type Copy struct {
	From string
	Src  []string
	Dest string
}

// Copies are the stage's COPY instructions.
func (s Stage) Copies() []Copy {
	var out []Copy
	for _, c := range s.All("COPY") {
		f := strings.Fields(c)
		var cp Copy
		for len(f) > 0 && strings.HasPrefix(f[0], "--") {
			if from, ok := strings.CutPrefix(f[0], "--from="); ok {
				cp.From = from
			}
			f = f[1:]
		}
		if len(f) >= 2 {
			cp.Src, cp.Dest = f[:len(f)-1], f[len(f)-1]
			out = append(out, cp)
		}
	}
	return out
}

// Entrypoint is the stage's ENTRYPOINT in exec form.
func (s Stage) Entrypoint() ([]string, error) {
	e := s.Last("ENTRYPOINT")
	if e == "" {
		return nil, nil
	}
	var args []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(e, -1) {
		args = append(args, m[1])
	}
	if !strings.HasPrefix(e, "[") || len(args) == 0 {
		return nil, fmt.Errorf("ENTRYPOINT %s: want the exec form [\"/path\", ...]", e)
	}
	return args, nil
}
