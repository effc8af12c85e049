// Package runspec is what a run is, whoever executes it: the jobs it is made
// of (name, command, parameters, environment, array size), how they are
// named, the run's record under the destination, the exit codes the job ends
// with and the retry strategy built on them. AWS Batch (package batch) and
// this machine (package localexec) both execute these specs through one
// Executor interface, so a local run rehearses a Batch run exactly.
package runspec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"quicklook/internal/layout"
	"quicklook/internal/planfile"
	"quicklook/internal/storage"
)

// Exit codes of the job. The retry strategy is built on them: Batch's job
// definition (infra/) and the local executor retry ExitTransient only.
const (
	ExitOK        = 0
	ExitUsage     = 2  // bad flag, missing bucket, access denied: no retry
	ExitData      = 3  // data errors above --max-failure-rate: no retry
	ExitTransient = 75 // interrupted or transient failure: retry
)

// ExitMeaning says what a job's exit code means, for people.
func ExitMeaning(code int) string {
	switch code {
	case ExitOK:
		return "done"
	case ExitUsage:
		return "usage or configuration error (see the log)"
	case ExitData:
		return "broken images above --max-failure-rate (see the manifest)"
	case ExitTransient:
		return "interrupted or transient failure"
	case 137, -1:
		return "killed"
	}
	return ""
}

// Attempts is how many times a job runs before it is failed for good.
const Attempts = 3

// Command is the job definition's command; Ref::NAME is replaced by the
// job's parameter NAME (as Batch does).
var Command = []string{"run", "--source", "Ref::source", "--prefix", "Ref::prefix", "--dest", "Ref::dest"}

// Resolve is Command with the job's parameters in place.
func (j Job) Resolve() []string {
	out := make([]string, len(Command))
	for i, a := range Command {
		if name, ok := strings.CutPrefix(a, "Ref::"); ok {
			a = j.Parameters[name]
		}
		out[i] = a
	}
	return out
}

// Job is one job of a run: a plain job, or an array job of ArraySize children.
type Job struct {
	Name       string            `json:"name"`
	Parameters map[string]string `json:"parameters"`
	Tags       map[string]string `json:"tags,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	ArraySize  int               `json:"array_size,omitempty"` // 0: not an array job
	// RetryOf names the array job whose failed children this job reruns:
	// its child i is their child RetryIndexes[i].
	RetryOf      string `json:"retry_of,omitempty"`
	RetryIndexes []int  `json:"retry_indexes,omitempty"`
}

// MaxArraySize is the most children of one array job (Batch's limit, which
// every executor keeps).
const MaxArraySize = 10000

// Environment variables the submitter sets on its jobs.
const (
	EnvPlan  = "QUICKLOOK_PLAN"  // the plan file an array job's children read
	EnvShard = "QUICKLOOK_SHARD" // the shard of a one-shard plan (no array index)
	EnvRun   = "QUICKLOOK_RUN"   // the run a job belongs to (its summaries are copied under it)
)

// Batch's job-name rule, which every executor keeps.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidName reports whether a job name meets Batch's rule.
func ValidName(name string) bool { return validName.MatchString(name) }

// ValidRunID reports whether runID can name a run's jobs.
func ValidRunID(runID string) bool { return runID != "" && ValidName(NamePrefix(runID)+"x") }

// NamePrefix starts the name of every job of a run: listing jobs by it finds
// the run's jobs.
func NamePrefix(runID string) string { return "ql-" + runID + "-" }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// JobName names a job of a run after a label (a prefix), readable where it
// can be and made unique by a hash of unique (the prefix, or the plan file).
func JobName(runID, label, unique string) string {
	hash := ShortHash(unique)
	slug := strings.Trim(unsafeName.ReplaceAllString(label, "-"), "-_")
	name := NamePrefix(runID)
	room := 128 - len(name) - len(hash) - 1
	if len(slug) > room {
		slug = slug[:max(room, 0)]
	}
	if slug != "" {
		name += slug + "-"
	}
	return name + hash
}

// ShortHash is 8 hex digits of s's SHA-256.
func ShortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// Work is a run's jobs, and the plan files (location -> plan) its array
// jobs read.
type Work struct {
	Jobs      []Job
	PlanFiles map[string]*planfile.Plan
}

// PlanLocation is where array job k of a run finds its plan.
func PlanLocation(dest, runID string, k int) string {
	return layout.At(dest, layout.PlanFile(runID, k))
}

// WritePlan stores the plan file job j reads, if it reads one.
func (w *Work) WritePlan(ctx context.Context, j Job) error {
	loc := j.Env[EnvPlan]
	p := w.PlanFiles[loc]
	if p == nil {
		return nil
	}
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, loc, b, storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("writing plan %s: %w", loc, err)
	}
	return nil
}

// ReadPlan reads the plan file at loc, as a job, a retry or a calibration
// reading what a run planned.
func ReadPlan(ctx context.Context, loc string) (*planfile.Plan, error) {
	b, err := storage.ReadFile(ctx, loc, storage.OpenOptions{})
	if err != nil {
		return nil, err
	}
	return planfile.Parse(b)
}
