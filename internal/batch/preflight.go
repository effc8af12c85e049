package batch

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// Preflight checks, before anything is submitted, that the queue exists and
// takes jobs and that the job definition exists and is active; it learns
// whether the queue schedules by fair share (every job then names a share).
func (c *Client) Preflight(ctx context.Context) error {
	q, err := c.api.DescribeJobQueues(ctx, &awsbatch.DescribeJobQueuesInput{JobQueues: []string{c.Queue}})
	if err != nil {
		return fmt.Errorf("job queue %s: %w", c.Queue, err)
	}
	if len(q.JobQueues) == 0 {
		return fmt.Errorf("job queue %s does not exist (check --queue and AWS_REGION)", c.Queue)
	}
	jq := q.JobQueues[0]
	if jq.State != types.JQStateEnabled {
		return fmt.Errorf("job queue %s is %s: it takes no jobs", c.Queue, jq.State)
	}
	if jq.Status == types.JQStatusInvalid {
		return fmt.Errorf("job queue %s is INVALID: %s", c.Queue, aws.ToString(jq.StatusReason))
	}
	c.fairShare, c.checked = jq.SchedulingPolicyArn != nil, true
	if c.Definition == "" {
		return nil // watching a run, not submitting
	}
	in := &awsbatch.DescribeJobDefinitionsInput{Status: aws.String("ACTIVE")}
	if strings.Contains(c.Definition, ":") {
		in.JobDefinitions = []string{c.Definition} // an ARN or name:revision
	} else {
		in.JobDefinitionName = aws.String(c.Definition)
	}
	d, err := c.api.DescribeJobDefinitions(ctx, in)
	if err != nil {
		return fmt.Errorf("job definition %s: %w", c.Definition, err)
	}
	if len(d.JobDefinitions) == 0 {
		return fmt.Errorf("job definition %s has no active revision (check --definition)", c.Definition)
	}
	return nil
}

var notShareChars = regexp.MustCompile(`[^A-Za-z0-9]`)

// shareIdentifier is a run's share on a fair-share queue: up to 255
// letters and digits.
func shareIdentifier(runID string) string {
	s := notShareChars.ReplaceAllString(runID, "")
	if s == "" {
		s = "quicklook"
	}
	return s[:min(len(s), 255)]
}
