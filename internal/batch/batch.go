// Package batch is the AWS Batch executor of a run (runspec.Executor): it
// submits and watches the run's jobs. It is the only package that talks to
// the Batch API: one job per prefix or one array job per plan file, paced
// under Batch's SubmitJob rate, with the SDK's retries backing off on
// throttling.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"quicklook/internal/runspec"
)

// Batch's documented limits.
const (
	MaxSubmitPerSecond = 50
	maxDescribe        = 100
)

// Client submits to one queue with one job definition.
type Client struct {
	api        *awsbatch.Client
	Queue      string
	Definition string
	// Priority is the scheduling priority of the jobs submitted (0-9999;
	// on fair-share queues a higher one goes first within its share).
	Priority *int32
	pace     *pacer
	// fairShare is set by Preflight (which Submit runs first, once): the
	// queue has a fair-share scheduling policy, so every job names its
	// share (the run).
	fairShare, checked bool
}

// New builds a client with the SDK's standard configuration (credential
// chain, AWS_REGION, AWS_ENDPOINT_URL_BATCH) and adaptive retries, pacing
// SubmitJob at perSecond.
func New(ctx context.Context, queue, definition string, perSecond float64) (*Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryer(func() aws.Retryer {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
				so.MaxAttempts = 10
				so.MaxBackoff = 20 * time.Second
			})
		})
	}))
	if err != nil {
		return nil, err
	}
	if perSecond <= 0 || perSecond > MaxSubmitPerSecond {
		perSecond = 40
	}
	return &Client{api: awsbatch.NewFromConfig(cfg), Queue: queue, Definition: definition,
		pace: &pacer{every: time.Duration(float64(time.Second) / perSecond)}}, nil
}

// request is the SubmitJob request of a job.
func (c *Client) request(j runspec.Job) *awsbatch.SubmitJobInput {
	in := &awsbatch.SubmitJobInput{JobName: aws.String(j.Name), JobQueue: aws.String(c.Queue), JobDefinition: aws.String(c.Definition),
		Parameters: j.Parameters, Tags: j.Tags, PropagateTags: aws.Bool(true)}
	if j.ArraySize > 0 {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(int32(j.ArraySize))}
	}
	if c.fairShare {
		in.ShareIdentifier = aws.String(shareIdentifier(j.Tags["quicklook-run"]))
	}
	if c.Priority != nil {
		in.SchedulingPriorityOverride = c.Priority
	}
	if len(j.Env) > 0 {
		names := make([]string, 0, len(j.Env))
		for k := range j.Env {
			names = append(names, k)
		}
		sort.Strings(names)
		var env []types.KeyValuePair
		for _, k := range names {
			env = append(env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(j.Env[k])})
		}
		in.ContainerOverrides = &types.ContainerOverrides{Environment: env}
	}
	return in
}

// submitOne sends one job and returns its id.
func (c *Client) submitOne(ctx context.Context, j runspec.Job) (string, error) {
	if !runspec.ValidName(j.Name) {
		return "", fmt.Errorf("job name %q does not meet Batch's rules", j.Name)
	}
	if j.ArraySize == 1 || j.ArraySize > runspec.MaxArraySize {
		return "", fmt.Errorf("job %s: array size %d is outside 2-%d", j.Name, j.ArraySize, runspec.MaxArraySize)
	}
	in := c.request(j)
	if err := c.pace.wait(ctx); err != nil {
		return "", err
	}
	out, err := c.api.SubmitJob(ctx, in)
	if err != nil {
		return "", fmt.Errorf("submitting %s: %w", j.Name, err)
	}
	return aws.ToString(out.JobId), nil
}

// Status is one job's state.
type Status struct {
	ID, Name, Status, Reason string
	LogStream                string
	ExitCode                 *int32
	CreatedAt                time.Time
	ArraySize                int
	// Summary counts an array job's children by state.
	Summary    map[string]int32
	Parameters map[string]string
}

// Jobs lists the queue's jobs whose names start with prefix, in every
// state, with details (reason, log stream, exit code).
func (c *Client) Jobs(ctx context.Context, prefix string) ([]Status, error) {
	var ids []string
	p := awsbatch.NewListJobsPaginator(c.api, &awsbatch.ListJobsInput{JobQueue: &c.Queue, MaxResults: aws.Int32(1000),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{prefix + "*"}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing jobs %s* in %s: %w", prefix, c.Queue, err)
		}
		for _, s := range page.JobSummaryList {
			ids = append(ids, aws.ToString(s.JobId))
		}
	}
	out := make([]Status, 0, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var first error
	for start := 0; start < len(ids); start += maxDescribe {
		batch := ids[start:min(start+maxDescribe, len(ids))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := c.api.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: batch})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = errors.Join(first, err)
				return
			}
			for _, j := range d.Jobs {
				s := Status{ID: aws.ToString(j.JobId), Name: aws.ToString(j.JobName), Status: string(j.Status),
					Reason: aws.ToString(j.StatusReason), Parameters: j.Parameters,
					CreatedAt: time.UnixMilli(aws.ToInt64(j.CreatedAt))}
				if j.Container != nil {
					s.LogStream = aws.ToString(j.Container.LogStreamName)
					s.ExitCode = j.Container.ExitCode
					if s.Reason == "" {
						s.Reason = aws.ToString(j.Container.Reason)
					}
				}
				if j.ArrayProperties != nil {
					s.ArraySize = int(aws.ToInt32(j.ArrayProperties.Size))
					s.Summary = j.ArrayProperties.StatusSummary
				}
				out = append(out, s)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("describing jobs: %w", first)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out, nil
}

// FailedChildren lists an array job's failed children.
func (c *Client) FailedChildren(ctx context.Context, arrayJobID string) ([]runspec.ChildFailure, error) {
	var out []runspec.ChildFailure
	p := awsbatch.NewListJobsPaginator(c.api, &awsbatch.ListJobsInput{ArrayJobId: aws.String(arrayJobID), JobStatus: types.JobStatusFailed,
		MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the failed children of %s: %w", arrayJobID, err)
		}
		for _, j := range page.JobSummaryList {
			f := runspec.ChildFailure{Reason: aws.ToString(j.StatusReason)}
			if j.ArrayProperties != nil {
				f.Index = int(aws.ToInt32(j.ArrayProperties.Index))
			}
			if j.Container != nil && j.Container.ExitCode != nil {
				code := int(*j.Container.ExitCode)
				f.ExitCode = &code
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// Latest keeps the newest job of each name.
func Latest(jobs []Status) map[string]Status {
	out := map[string]Status{}
	for _, j := range jobs {
		if prev, ok := out[j.Name]; !ok || !j.CreatedAt.Before(prev.CreatedAt) {
			out[j.Name] = j
		}
	}
	return out
}

// pacer spaces calls evenly: Batch allows 50 SubmitJob calls per second.
type pacer struct {
	mu    sync.Mutex
	next  time.Time
	every time.Duration
}

func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.every)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
