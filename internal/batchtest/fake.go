// Package batchtest is the one stand-in for the AWS Batch API, which has no
// local peer. It speaks Batch's REST-JSON protocol on httptest (SubmitJob,
// DescribeJobs, ListJobs, TerminateJob) and rejects what Batch rejects:
// missing required fields, unknown queues and definitions, job names outside
// [A-Za-z0-9][A-Za-z0-9_-]{0,127}, array sizes outside 2-10,000, attempts
// outside 1-10, more than 5 evaluateOnExit rules, timeouts under 60 s,
// requests over 30 KiB, more than 50 tags, a missing share identifier on a
// fair-share queue (and one on a FIFO queue), priorities outside 0-9999,
// and more than 50 SubmitJob calls in any second
// (TooManyRequestsException). It answers DescribeJobQueues and
// DescribeJobDefinitions too. Tests drive job states with SetStatus.
//
// One file on purpose: a fake is allowed only where it is kept in one place,
// so every rule it enforces can be read, and checked against Batch's, here
// (the scheduler it drives for whole-archive runs is simulate.go).
package batchtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits Batch documents and the fake enforces.
const (
	MaxSubmitPerSecond = 50
	MaxRequestBytes    = 30 << 10
	MaxArraySize       = 10000
	MaxAttempts        = 10
	MaxEvaluateOnExit  = 5
	MinTimeoutSeconds  = 60
	MaxTags            = 50
	maxDescribe        = 100
)

var (
	jobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	shareID = regexp.MustCompile(`^[A-Za-z0-9]{1,255}\*?$`)
)

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Job is what the fake keeps of a submitted job.
type Job struct {
	Share                       string // share identifier (fair-share queues)
	Priority                    *int   // scheduling priority override
	ID, Name, Queue, Definition string
	Parameters, Tags            map[string]string
	Environment                 map[string]string
	ArraySize                   int
	Attempts                    int
	Status, Reason              string
	ExitCode                    *int
	LogStream                   string
	CreatedAt                   int64
	// Summary counts an array job's children by state (simulations).
	Summary  map[string]int
	children []child
}

// Fake is a running fake Batch endpoint.
type Fake struct {
	URL         string
	Queues      map[string]bool
	Definitions map[string]bool
	// FairShare queues have a fair-share scheduling policy: their jobs must
	// name a share identifier, which FIFO queues refuse.
	FairShare map[string]bool

	mu        sync.Mutex
	jobs      []*Job
	sim       *simulator
	submits   []time.Time
	throttled int
	rejected  int
	srv       *httptest.Server
}

// New starts a fake that knows the given queue and definition, and points
// the SDK at it for the rest of the test (AWS_ENDPOINT_URL_BATCH).
func New(t testing.TB, queue, definition string) *Fake {
	t.Helper()
	f := &Fake{Queues: map[string]bool{queue: true}, Definitions: map[string]bool{definition: true}, FairShare: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
	t.Setenv("AWS_ENDPOINT_URL_BATCH", f.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "fake")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake")
	return f
}

// Jobs returns a snapshot of every submitted job, in submission order.
func (f *Fake) Jobs() []Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Job, len(f.jobs))
	for i, j := range f.jobs {
		out[i] = *j
	}
	return out
}

// Throttled is how many SubmitJob calls were answered TooManyRequestsException.
func (f *Fake) Throttled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.throttled
}

// Rejected is how many requests failed validation.
func (f *Fake) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

// SetStatus moves a job to a state, as the scheduler would.
func (f *Fake) SetStatus(id, status, reason string, exitCode *int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.jobs {
		if j.ID == id {
			j.Status, j.Reason, j.ExitCode = status, reason, exitCode
			if status == "RUNNING" || status == "SUCCEEDED" || status == "FAILED" {
				j.LogStream = "quicklook/default/" + strings.ReplaceAll(j.ID, "-", "")
			}
		}
	}
}

type apiError struct {
	status int
	code   string
	msg    string
}

func (f *Fake) fail(w http.ResponseWriter, e apiError) {
	if e.code == "ClientException" {
		f.rejected++
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.msg})
}

func clientErr(format string, a ...any) *apiError {
	return &apiError{400, "ClientException", fmt.Sprintf(format, a...)}
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost {
		f.fail(w, apiError{405, "ClientException", "POST only"})
		return
	}
	var out any
	var e *apiError
	f.advance()
	switch r.URL.Path {
	case "/v1/submitjob":
		out, e = f.submit(body)
	case "/v1/describejobs":
		out, e = f.describe(body)
	case "/v1/listjobs":
		out, e = f.list(body)
	case "/v1/terminatejob":
		out, e = f.terminate(body)
	case "/v1/describejobqueues":
		out, e = f.describeQueues(body)
	case "/v1/describejobdefinitions":
		out, e = f.describeDefinitions(body)
	default:
		e = &apiError{404, "ClientException", "unknown operation " + r.URL.Path}
	}
	if e != nil {
		f.fail(w, *e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

type submitReq struct {
	JobName            *string              `json:"jobName"`
	JobQueue           *string              `json:"jobQueue"`
	JobDefinition      *string              `json:"jobDefinition"`
	Parameters         map[string]string    `json:"parameters"`
	Tags               map[string]string    `json:"tags"`
	ArrayProperties    *struct{ Size *int } `json:"arrayProperties"`
	ContainerOverrides *struct {
		Environment []struct{ Name, Value string } `json:"environment"`
	} `json:"containerOverrides"`
	RetryStrategy *struct {
		Attempts       *int              `json:"attempts"`
		EvaluateOnExit []json.RawMessage `json:"evaluateOnExit"`
	} `json:"retryStrategy"`
	Timeout *struct {
		AttemptDurationSeconds *int `json:"attemptDurationSeconds"`
	} `json:"timeout"`
	ShareIdentifier            *string `json:"shareIdentifier"`
	SchedulingPriorityOverride *int    `json:"schedulingPriorityOverride"`
}

func (f *Fake) submit(body []byte) (any, *apiError) {
	now := time.Now()
	recent := f.submits[:0]
	for _, t := range f.submits {
		if now.Sub(t) < time.Second {
			recent = append(recent, t)
		}
	}
	f.submits = recent
	if len(f.submits) >= MaxSubmitPerSecond {
		f.throttled++
		return nil, &apiError{429, "TooManyRequestsException", "Too Many Requests"}
	}
	f.submits = append(f.submits, now)
	if len(body) > MaxRequestBytes {
		return nil, clientErr("SubmitJob request of %d bytes is over the 30 KiB limit", len(body))
	}
	var req submitReq
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, clientErr("malformed request: %v", err)
	}
	switch {
	case req.JobName == nil || req.JobQueue == nil || req.JobDefinition == nil:
		return nil, clientErr("jobName, jobQueue and jobDefinition are required")
	case !jobName.MatchString(*req.JobName):
		return nil, clientErr("job name %q: up to 128 letters, numbers, hyphens and underscores, starting with a letter or number", *req.JobName)
	case !f.Queues[*req.JobQueue]:
		return nil, clientErr("JobQueue %s not found", *req.JobQueue)
	case !f.Definitions[*req.JobDefinition]:
		return nil, clientErr("JobDefinition %s not found", *req.JobDefinition)
	case len(req.Tags) > MaxTags:
		return nil, clientErr("%d tags: at most %d", len(req.Tags), MaxTags)
	}
	for k, v := range req.Tags {
		if len(k) == 0 || len(k) > 128 || len(v) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, clientErr("tag %q=%q is not allowed", k, v)
		}
	}
	switch share := req.ShareIdentifier; {
	case f.FairShare[*req.JobQueue] && share == nil:
		return nil, clientErr("a share identifier is required for jobs of fair-share queue %s", *req.JobQueue)
	case !f.FairShare[*req.JobQueue] && share != nil:
		return nil, clientErr("job queue %s has no fair-share policy: shareIdentifier is not allowed", *req.JobQueue)
	case share != nil && !shareID.MatchString(*share):
		return nil, clientErr("shareIdentifier %q: up to 255 letters and digits, optionally ending with *", *share)
	}
	if p := req.SchedulingPriorityOverride; p != nil && (*p < 0 || *p > 9999) {
		return nil, clientErr("schedulingPriorityOverride %d: 0 to 9999", *p)
	}
	job := &Job{Share: deref(req.ShareIdentifier), Priority: req.SchedulingPriorityOverride, ID: fmt.Sprintf("%08x-%04x-4000-8000-%012x", len(f.jobs)+1, now.UnixNano()&0xffff, now.UnixNano()),
		Name: *req.JobName, Queue: *req.JobQueue, Definition: *req.JobDefinition,
		Parameters: req.Parameters, Tags: req.Tags, Environment: map[string]string{}, Status: "SUBMITTED", CreatedAt: now.UnixMilli()}
	if req.ArrayProperties != nil {
		if req.ArrayProperties.Size == nil || *req.ArrayProperties.Size < 2 || *req.ArrayProperties.Size > MaxArraySize {
			return nil, clientErr("array size must be between 2 and %d", MaxArraySize)
		}
		job.ArraySize = *req.ArrayProperties.Size
	}
	if rs := req.RetryStrategy; rs != nil {
		if rs.Attempts != nil && (*rs.Attempts < 1 || *rs.Attempts > MaxAttempts) {
			return nil, clientErr("attempts must be between 1 and %d", MaxAttempts)
		}
		if len(rs.EvaluateOnExit) > MaxEvaluateOnExit {
			return nil, clientErr("at most %d evaluateOnExit conditions", MaxEvaluateOnExit)
		}
		if rs.Attempts != nil {
			job.Attempts = *rs.Attempts
		}
	}
	if req.Timeout != nil && req.Timeout.AttemptDurationSeconds != nil && *req.Timeout.AttemptDurationSeconds < MinTimeoutSeconds {
		return nil, clientErr("attemptDurationSeconds must be at least %d", MinTimeoutSeconds)
	}
	if req.ContainerOverrides != nil {
		for _, kv := range req.ContainerOverrides.Environment {
			if strings.HasPrefix(kv.Name, "AWS_BATCH") {
				return nil, clientErr("environment variables starting with AWS_BATCH are reserved")
			}
			job.Environment[kv.Name] = kv.Value
		}
	}
	f.jobs = append(f.jobs, job)
	if f.sim != nil {
		f.enqueue(job)
	}
	return map[string]string{"jobArn": "arn:aws:batch:us-east-1:123456789012:job/" + job.ID, "jobName": job.Name, "jobId": job.ID}, nil
}

func (f *Fake) detail(j *Job) map[string]any {
	d := map[string]any{"jobId": j.ID, "jobName": j.Name, "jobQueue": j.Queue, "jobDefinition": j.Definition,
		"status": j.Status, "parameters": j.Parameters, "tags": j.Tags, "createdAt": j.CreatedAt}
	if j.Reason != "" {
		d["statusReason"] = j.Reason
	}
	container := map[string]any{}
	if j.LogStream != "" {
		container["logStreamName"] = j.LogStream
	}
	if j.ExitCode != nil {
		container["exitCode"] = *j.ExitCode
	}
	d["container"] = container
	if j.ArraySize > 0 {
		ap := map[string]any{"size": j.ArraySize}
		if j.Summary != nil {
			sum := map[string]int{}
			for _, st := range []string{"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"} {
				sum[st] = j.Summary[st]
			}
			ap["statusSummary"] = sum
		}
		d["arrayProperties"] = ap
	}
	return d
}

// childDetail is an array child as DescribeJobs shows it (jobId PARENT:INDEX).
func (f *Fake) childDetail(j *Job, i int) map[string]any {
	c := j.children[i]
	d := map[string]any{"jobId": fmt.Sprintf("%s:%d", j.ID, i), "jobName": j.Name, "jobQueue": j.Queue, "jobDefinition": j.Definition,
		"status": c.Status, "createdAt": j.CreatedAt, "arrayProperties": map[string]any{"index": i}}
	if c.Reason != "" {
		d["statusReason"] = c.Reason
	}
	container := map[string]any{}
	if c.ExitCode != nil {
		container["exitCode"] = *c.ExitCode
	}
	if c.Attempts > 0 {
		container["logStreamName"] = fmt.Sprintf("quicklook/default/%s-%d", j.ID, i)
	}
	d["container"] = container
	attempts := make([]map[string]any, c.Attempts)
	for k := range attempts {
		attempts[k] = map[string]any{}
	}
	d["attempts"] = attempts
	return d
}

func (f *Fake) describe(body []byte) (any, *apiError) {
	var req struct{ Jobs []string }
	if err := json.Unmarshal(body, &req); err != nil || len(req.Jobs) == 0 {
		return nil, clientErr("jobs is required")
	}
	if len(req.Jobs) > maxDescribe {
		return nil, clientErr("at most %d jobs per DescribeJobs", maxDescribe)
	}
	var out []map[string]any
	for _, id := range req.Jobs {
		parent, index, isChild := strings.Cut(id, ":")
		for _, j := range f.jobs {
			if j.ID != parent {
				continue
			}
			if !isChild {
				out = append(out, f.detail(j))
				continue
			}
			var i int
			if _, err := fmt.Sscanf(index, "%d", &i); err == nil && i >= 0 && i < len(j.children) && j.ArraySize > 0 {
				out = append(out, f.childDetail(j, i))
			}
		}
	}
	return map[string]any{"jobs": out}, nil
}

func (f *Fake) list(body []byte) (any, *apiError) {
	var req struct {
		JobQueue   *string
		ArrayJobID *string `json:"arrayJobId"`
		JobStatus  string
		MaxResults int
		NextToken  string
		Filters    []struct {
			Name   string
			Values []string
		}
	}
	if err := json.Unmarshal(body, &req); err != nil || (req.JobQueue == nil) == (req.ArrayJobID == nil) {
		return nil, clientErr("exactly one of jobQueue and arrayJobId is required")
	}
	max := req.MaxResults
	if max <= 0 || max > 1000 {
		max = 100
	}
	if req.ArrayJobID != nil {
		return f.listChildren(*req.ArrayJobID, req.JobStatus, req.NextToken, max)
	}
	var matched []*Job
	for _, j := range f.jobs {
		if j.Queue != *req.JobQueue {
			continue
		}
		ok := true
		for _, flt := range req.Filters {
			if flt.Name != "JOB_NAME" || len(flt.Values) != 1 {
				return nil, clientErr("unsupported filter %s", flt.Name)
			}
			v := flt.Values[0]
			if strings.HasSuffix(v, "*") {
				ok = ok && strings.HasPrefix(j.Name, strings.TrimSuffix(v, "*"))
			} else {
				ok = ok && j.Name == v
			}
		}
		// With filters Batch returns every status; without, only the one asked (RUNNING by default).
		if len(req.Filters) == 0 {
			want := req.JobStatus
			if want == "" {
				want = "RUNNING"
			}
			ok = ok && j.Status == want
		}
		if ok {
			matched = append(matched, j)
		}
	}
	sort.SliceStable(matched, func(a, b int) bool { return matched[a].CreatedAt > matched[b].CreatedAt })
	start := 0
	fmt.Sscanf(req.NextToken, "%d", &start)
	end := min(start+max, len(matched))
	var out []map[string]any
	for _, j := range matched[min(start, len(matched)):end] {
		out = append(out, map[string]any{"jobId": j.ID, "jobName": j.Name, "status": j.Status, "createdAt": j.CreatedAt})
	}
	resp := map[string]any{"jobSummaryList": out}
	if end < len(matched) {
		resp["nextToken"] = fmt.Sprint(end)
	}
	return resp, nil
}

// listChildren answers ListJobs for an array job's children in a state
// (RUNNING when none is given, as Batch does).
func (f *Fake) listChildren(parent, status, token string, max int) (any, *apiError) {
	if status == "" {
		status = "RUNNING"
	}
	for _, j := range f.jobs {
		if j.ID != parent || j.ArraySize == 0 {
			continue
		}
		idx := j.childIndexes(status)
		start := 0
		fmt.Sscanf(token, "%d", &start)
		end := min(start+max, len(idx))
		out := []map[string]any{}
		for _, i := range idx[min(start, len(idx)):end] {
			c := j.children[i]
			item := map[string]any{"jobId": fmt.Sprintf("%s:%d", j.ID, i), "jobName": j.Name, "status": c.Status,
				"createdAt": j.CreatedAt, "arrayProperties": map[string]any{"index": i}}
			if c.Reason != "" {
				item["statusReason"] = c.Reason
			}
			if c.ExitCode != nil {
				item["container"] = map[string]any{"exitCode": *c.ExitCode}
			}
			out = append(out, item)
		}
		resp := map[string]any{"jobSummaryList": out}
		if end < len(idx) {
			resp["nextToken"] = fmt.Sprint(end)
		}
		return resp, nil
	}
	return nil, clientErr("array job %s not found", parent)
}

// describeQueues answers DescribeJobQueues: the known queues asked for (by
// name or ARN), up to 100.
func (f *Fake) describeQueues(body []byte) (any, *apiError) {
	var req struct{ JobQueues []string }
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, clientErr("malformed request: %v", err)
	}
	if len(req.JobQueues) > 100 {
		return nil, clientErr("at most 100 job queues")
	}
	out := []map[string]any{}
	for _, q := range req.JobQueues {
		name := q[strings.LastIndex(q, "/")+1:]
		if !f.Queues[name] {
			continue
		}
		d := map[string]any{"jobQueueName": name, "jobQueueArn": "arn:aws:batch:us-east-1:123456789012:job-queue/" + name,
			"state": "ENABLED", "status": "VALID", "priority": 1}
		if f.FairShare[name] {
			d["schedulingPolicyArn"] = "arn:aws:batch:us-east-1:123456789012:scheduling-policy/" + name
		}
		out = append(out, d)
	}
	return map[string]any{"jobQueues": out}, nil
}

// describeDefinitions answers DescribeJobDefinitions by name (and status),
// or by name:revision or ARN.
func (f *Fake) describeDefinitions(body []byte) (any, *apiError) {
	var req struct {
		JobDefinitions    []string
		JobDefinitionName string
		Status            string
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, clientErr("malformed request: %v", err)
	}
	names := req.JobDefinitions
	if req.JobDefinitionName != "" {
		names = append(names, req.JobDefinitionName)
	}
	out := []map[string]any{}
	for _, d := range names {
		name, _, _ := strings.Cut(d[strings.LastIndex(d, "/")+1:], ":")
		if f.Definitions[name] && (req.Status == "" || req.Status == "ACTIVE") {
			out = append(out, map[string]any{"jobDefinitionName": name, "revision": 1, "status": "ACTIVE", "type": "container",
				"jobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/" + name + ":1"})
		}
	}
	return map[string]any{"jobDefinitions": out}, nil
}

func (f *Fake) terminate(body []byte) (any, *apiError) {
	var req struct{ JobID, Reason *string }
	if err := json.Unmarshal(body, &req); err != nil || req.JobID == nil || req.Reason == nil {
		return nil, clientErr("jobId and reason are required")
	}
	for _, j := range f.jobs {
		if j.ID == *req.JobID {
			if j.Status != "SUCCEEDED" && j.Status != "FAILED" {
				j.Status, j.Reason = "FAILED", *req.Reason
			}
			return map[string]any{}, nil
		}
	}
	return nil, clientErr("job %s not found", *req.JobID)
}
