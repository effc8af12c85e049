// Package layout is where quicklook keeps its own files under a destination:
// the _quicklook/ folder of manifests, run records, plan files and pages.
// Every package that reads or writes there asks this one for the key, so the
// layout docs/design.md describes is written in one place.
//
//	_quicklook/index.html                       the contact sheet's front page
//	_quicklook/pages/<job>.html, <job>.json     one page (and its digest) per job
//	_quicklook/manifests/<job>/<stamp>.jsonl    one manifest per job run ...
//	_quicklook/manifests/<job>/<stamp>.summary.json   ... and its summary
//	_quicklook/runs/<run>/run.json              a submitted run's record
//	_quicklook/runs/<run>/plan-NNN.json         the plan file of its array job NNN
//	_quicklook/calibrate/<id>/                  sample renders of 'submit plan --calibrate', removed after
package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Dir holds everything quicklook writes besides thumbnails. A source listing
// never treats what is under it as images.
const Dir = "_quicklook/"

const (
	// ManifestsDir holds one folder of manifests per job.
	ManifestsDir = Dir + "manifests/"
	// IndexPage is the contact sheet's front page.
	IndexPage = Dir + "index.html"
	// PagesDir holds one contact-sheet page per job.
	PagesDir = Dir + "pages/"
	runsDir  = Dir + "runs/"
)

// IsOwn reports whether key is one of quicklook's own files.
func IsOwn(key string) bool { return strings.HasPrefix(key, Dir) }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// JobName names the job of a prefix: readable, and unique per exact prefix
// ("al/20" and "al/20/" are different jobs). It names the job's manifest
// folder and its contact-sheet page.
func JobName(prefix string) string {
	h := sha256.Sum256([]byte(prefix))
	base := unsafeChars.ReplaceAllString(strings.Trim(prefix, "/"), "_")
	if base == "" {
		base = "all"
	}
	if len(base) > 80 {
		base = base[:80]
	}
	return base + "-" + hex.EncodeToString(h[:4])
}

// ManifestDir is the folder of a job's manifests.
func ManifestDir(job string) string { return ManifestsDir + job + "/" }

// Manifest is the key of one run's manifest (JSON lines) of a job.
func Manifest(job, stamp string) string { return ManifestDir(job) + stamp + ".jsonl" }

// Summary is the key of the summary written beside a manifest.
func Summary(manifestKey string) string {
	return strings.TrimSuffix(manifestKey, ".jsonl") + ".summary.json"
}

// JobPage and JobDigest are a job's contact-sheet page and the digest the
// front page is rebuilt from.
func JobPage(job string) string   { return PagesDir + job + ".html" }
func JobDigest(job string) string { return PagesDir + job + ".json" }

// RunDir holds a submitted run's record and plan files.
func RunDir(runID string) string { return runsDir + runID + "/" }

// RunRecord is the key of a run's record.
func RunRecord(runID string) string { return RunDir(runID) + "run.json" }

// RunSummariesDir holds a copy of the summary of every job attempt of a
// run, so that 'submit status' tallies a run with one listing.
func RunSummariesDir(runID string) string { return RunDir(runID) + "summaries/" }

// RunSummary is the key of one attempt's copy.
func RunSummary(runID, job, stamp string) string {
	return RunSummariesDir(runID) + job + "/" + stamp + ".json"
}

// PlanFile is the key of the plan file that array job k of a run reads.
func PlanFile(runID string, k int) string { return RunDir(runID) + fmt.Sprintf("plan-%03d.json", k) }

// RetryPlanFile is the plan of the n-th job that reruns failed array children.
func RetryPlanFile(runID string, n int) string {
	return RunDir(runID) + fmt.Sprintf("plan-retry-%03d.json", n)
}

// CalibrateDir is a scratch destination for the sample renders 'submit plan
// --calibrate' makes, removed afterwards.
func CalibrateDir(id string) string { return Dir + "calibrate/" + id + "/" }

// At joins a location (s3://BUCKET/BASE/ or a folder) and a key under it.
func At(location, key string) string { return strings.TrimSuffix(location, "/") + "/" + key }
