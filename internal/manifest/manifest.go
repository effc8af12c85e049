// Package manifest records what a job did: one JSON line per source object
// and a summary whose counts add up to the objects listed. The next run
// reads the last manifest to decide what is already up to date.
package manifest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"quicklook/internal/layout"
	"quicklook/internal/pricing"
	"quicklook/internal/storage"
)

// Status of one source object in one run.
type Status string

const (
	Created Status = "created" // rendered; no output existed
	Updated Status = "updated" // rendered over outdated outputs
	Skipped Status = "skipped" // outputs up to date
	Failed  Status = "failed"  // see ErrorClass and Error
	Pruned  Status = "pruned"  // source gone; its outputs removed
)

// Output is one thumbnail written (or found up to date) for a source.
type Output struct {
	Key      string `json:"key"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Bytes    int64  `json:"bytes"`
	Settings string `json:"settings,omitempty"` // hash of the render settings
}

// Record is one line of the manifest.
type Record struct {
	Key        string   `json:"key"`
	ETag       string   `json:"etag,omitempty"`
	Size       int64    `json:"size"`
	Parts      []string `json:"parts,omitempty"` // sidecars read with it (x.tif.ovr; an MRF's index and data)
	Status     Status   `json:"status"`
	ErrorClass string   `json:"error_class,omitempty"`
	Error      string   `json:"error,omitempty"`
	Outputs    []Output `json:"outputs,omitempty"`
	Settings   string   `json:"settings,omitempty"` // hash of the run's settings (failed records)
	// Rules is the version of the rendering rules the thumbnails were made
	// under (absent: before version 2); see render.RulesVersion.
	Rules int `json:"rules,omitempty"`
	// CopiedFrom is the source of identical content (same size, same
	// content ETag) whose thumbnails were copied for this one, not rendered.
	CopiedFrom string `json:"copied_from,omitempty"`
	// What the object cost: the storage requests it caused by kind (reads
	// of it and its parts, checks and writes of its thumbnails), the bytes
	// each way, the render's CPU time and the wall time.
	Requests     storage.Requests `json:"requests"`
	BytesRead    int64            `json:"bytes_read"`
	BytesWritten int64            `json:"bytes_written,omitempty"`
	CPUSeconds   float64          `json:"cpu_seconds,omitempty"`
	// ReadPlan says how the image was read and why (sparse or bulk);
	// Layout how it stores its pixels (cog, tiled, striped, mrf, photo, other).
	ReadPlan string `json:"read_plan,omitempty"`
	Layout   string `json:"layout,omitempty"`
	Level    *int   `json:"overview_level,omitempty"` // 0 full resolution, k the k-th overview
	Millis   int64  `json:"ms"`
}

// Error classes of the job's own (the renderer adds its decoding ones).
const (
	ClassTimeout     = "timeout"     // ran past --item-timeout
	ClassInterrupted = "interrupted" // the run stopped before this item finished: the next attempt does it
	ClassIO          = "io"          // storage failure (transient)
	ClassGone        = "gone"        // listed, then deleted before it was read
)

// Summary is the run's account; Created+Updated+Skipped+Failed == Sources.
type Summary struct {
	Job             string         `json:"job"`
	Run             string         `json:"run,omitempty"` // the submitted run the job belongs to
	Source          string         `json:"source"`
	Prefix          string         `json:"prefix"`
	Ranges          any            `json:"ranges,omitempty"` // an array child's key ranges
	Dest            string         `json:"dest"`
	Started         time.Time      `json:"started"`
	Finished        time.Time      `json:"finished"`
	Sources         int            `json:"sources"`
	Created         int            `json:"created"`
	Updated         int            `json:"updated"`
	Copied          int            `json:"copied,omitempty"` // of the created and updated: thumbnails copied from an identical source
	Skipped         int            `json:"skipped"`
	Failed          int            `json:"failed"`
	Pruned          int            `json:"pruned"`
	Parts           int            `json:"parts"`   // listed sidecars: parts of images, not images themselves
	Ignored         int            `json:"ignored"` // other listed objects that are not images to render
	FailuresByClass map[string]int `json:"failures_by_class,omitempty"`
	// The account: every storage request of the job (its listings, the
	// objects', its manifest and pages) by kind, the bytes read and the
	// thumbnail bytes written, the renders' CPU time, the wall time, and its
	// price: requests plus VCPUs held for the wall time, at Prices.
	Requests     storage.Requests `json:"requests"`
	BytesRead    int64            `json:"bytes_read"`
	BytesWritten int64            `json:"bytes_written"`
	CPUSeconds   float64          `json:"cpu_seconds"`
	WallSeconds  float64          `json:"wall_seconds"`
	VCPUs        float64          `json:"vcpus"`
	Cost         pricing.Cost     `json:"cost_usd"`
	Prices       pricing.Prices   `json:"prices"`
	Interrupted  bool             `json:"interrupted,omitempty"`
	ExitCode     int              `json:"exit_code"`
	Manifest     string           `json:"manifest"` // key of the JSON-lines file
}

// Count adds one record to the summary.
func (s *Summary) Count(r Record) {
	if r.CopiedFrom != "" && (r.Status == Created || r.Status == Updated) {
		s.Copied++
	}
	switch r.Status {
	case Created:
		s.Created++
	case Updated:
		s.Updated++
	case Skipped:
		s.Skipped++
	case Failed:
		s.Failed++
		if s.FailuresByClass == nil {
			s.FailuresByClass = map[string]int{}
		}
		s.FailuresByClass[r.ErrorClass]++
	case Pruned:
		s.Pruned++
		return
	}
	s.Sources++
	s.BytesRead += r.BytesRead
	s.CPUSeconds += r.CPUSeconds
	if r.Status == Created || r.Status == Updated {
		for _, o := range r.Outputs {
			s.BytesWritten += o.Bytes
		}
	}
}

// Stamp names one run: sortable by time, unique per attempt.
func Stamp(t time.Time, attempt string) string {
	s := t.UTC().Format("20060102T150405.000Z")
	if attempt != "" {
		s += "-" + attempt
	}
	return s
}

// WritePuts is how many writes Write makes for sum: the records, the
// summary, and the run's copy of it when the job is part of a run. The
// summary counts them before they are made.
func WritePuts(sum *Summary) int64 {
	if sum.Run != "" {
		return 3
	}
	return 2
}

// Write stores the records (JSON lines) and the summary of a run.
func Write(ctx context.Context, dest storage.Store, job, stamp string, records []Record, sum *Summary) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range records {
		if err := enc.Encode(&records[i]); err != nil {
			return err
		}
	}
	sum.Manifest = layout.Manifest(job, stamp)
	if err := dest.Put(ctx, sum.Manifest, buf.Bytes(), storage.PutOptions{ContentType: "application/x-ndjson"}); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := dest.Put(ctx, layout.Summary(sum.Manifest), b, storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	if sum.Run != "" {
		// The run's copy: what 'submit status' adds up.
		if err := dest.Put(ctx, layout.RunSummary(sum.Run, job, stamp), b, storage.PutOptions{ContentType: "application/json"}); err != nil {
			return fmt.Errorf("writing the run's copy of the summary: %w", err)
		}
	}
	return nil
}

// Parse reads JSON lines; malformed lines are counted, not fatal, so one
// damaged line costs one re-render rather than the whole history.
func Parse(r io.Reader) (records []Record, bad int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec Record
		if json.Unmarshal(line, &rec) != nil || rec.Key == "" || rec.Status == "" {
			bad++
			continue
		}
		records = append(records, rec)
	}
	return records, bad, sc.Err()
}

// Last loads the newest manifest of a job: key -> record. A job with no
// manifest yet gives an empty map.
func Last(ctx context.Context, dest storage.Store, job string) (map[string]Record, string, error) {
	var keys []string
	err := dest.List(ctx, layout.ManifestDir(job), "/", func(e storage.Entry) error {
		if e.CommonPrefix == "" && strings.HasSuffix(e.Key, ".jsonl") {
			keys = append(keys, e.Key)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	out := map[string]Record{}
	if len(keys) == 0 {
		return out, "", nil
	}
	sort.Strings(keys)
	key := keys[len(keys)-1]
	rc, err := dest.Get(ctx, key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return out, "", nil
		}
		return nil, "", err
	}
	defer rc.Close()
	recs, _, err := Parse(rc)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", path.Base(key), err)
	}
	for _, r := range recs {
		if r.Status != Pruned {
			out[r.Key] = r
		}
	}
	return out, key, nil
}

// LatestManifests returns, for every job under dest, the key of its newest manifest.
func LatestManifests(ctx context.Context, dest storage.Store) (map[string]string, error) {
	latest := map[string]string{}
	err := dest.List(ctx, layout.ManifestsDir, "", func(e storage.Entry) error {
		if !strings.HasSuffix(e.Key, ".jsonl") {
			return nil
		}
		job := path.Base(path.Dir(e.Key))
		if e.Key > latest[job] {
			latest[job] = e.Key
		}
		return nil
	})
	return latest, err
}

// Outputs is every thumbnail the newest manifests of all jobs under dest
// record as written or up to date.
func Outputs(ctx context.Context, dest storage.Store) (map[string]bool, error) {
	latest, err := LatestManifests(ctx, dest)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, key := range latest {
		rc, err := dest.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		recs, _, err := Parse(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Status == Created || r.Status == Updated || r.Status == Skipped {
				for _, o := range r.Outputs {
					out[o.Key] = true
				}
			}
		}
	}
	return out, nil
}
