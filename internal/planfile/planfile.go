// Package planfile is the contract between the submitter and array-job
// children: a JSON file listing shards, each a set of key ranges, and the
// source filter the submitter counted them with. Child i of an array job
// (AWS_BATCH_JOB_ARRAY_INDEX=i) renders shard i with that filter.
package planfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"quicklook/internal/layout"
	"quicklook/internal/sources"
)

// Version of the file format.
const Version = 1

// Range is the keys under Prefix that sort after StartAfter (when set) and
// not after Until (when set). A whole prefix has neither bound; a huge
// prefix is split into consecutive ranges.
type Range struct {
	Prefix     string `json:"prefix"`
	StartAfter string `json:"start_after,omitempty"`
	Until      string `json:"until,omitempty"`
}

// Contains reports whether key falls in the range.
func (r Range) Contains(key string) bool {
	return strings.HasPrefix(key, r.Prefix) && key > r.StartAfter && (r.Until == "" || key <= r.Until)
}

// Bounded reports whether the range is less than its whole prefix.
func (r Range) Bounded() bool { return r.StartAfter != "" || r.Until != "" }

// Shard is one array child's share.
type Shard struct {
	Ranges  []Range `json:"ranges"`
	Objects int     `json:"objects,omitempty"` // as planned, for progress and cost estimates
	Bytes   int64   `json:"bytes,omitempty"`
}

// Name identifies the shard's work, stable across replans that cut the same
// ranges, so a rerun finds the shard's last manifest.
func (s Shard) Name() string {
	if len(s.Ranges) == 1 && !s.Ranges[0].Bounded() {
		return "" // a whole prefix is named after the prefix
	}
	b, _ := json.Marshal(s.Ranges)
	h := sha256.Sum256(b)
	return "shard-" + hex.EncodeToString(h[:6])
}

// JobName names the folder of the shard's manifests: its Name, or for a
// whole prefix the prefix's job name (as a job given that prefix names it).
func (s Shard) JobName() string {
	if name := s.Name(); name != "" || len(s.Ranges) == 0 {
		return name
	}
	return layout.JobName(s.Ranges[0].Prefix)
}

// Plan is the whole file.
type Plan struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	Source  string `json:"source"`
	Dest    string `json:"dest"`
	// Filter decides which keys of the ranges are images; the children apply
	// it as it is (absent in plans of older submitters: the job's own).
	Filter *sources.Filter `json:"filter,omitempty"`
	Shards []Shard         `json:"shards"`
}

// Parse reads and checks a plan.
func Parse(b []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("plan: version %d, this job reads version %d", p.Version, Version)
	}
	if len(p.Shards) == 0 {
		return nil, fmt.Errorf("plan: no shards")
	}
	for i, s := range p.Shards {
		if len(s.Ranges) == 0 {
			return nil, fmt.Errorf("plan: shard %d has no ranges", i)
		}
	}
	return &p, nil
}

// Shard returns shard i, checked against the plan's size.
func (p *Plan) Shard(i int) (Shard, error) {
	if i < 0 || i >= len(p.Shards) {
		return Shard{}, fmt.Errorf("plan: shard %d requested, the plan has %d (0-%d)", i, len(p.Shards), len(p.Shards)-1)
	}
	return p.Shards[i], nil
}
