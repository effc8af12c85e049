package batch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"

	"quicklook/internal/batchtest"
	"quicklook/internal/runspec"
)

// The fake must refuse what Batch refuses, or tests against it prove nothing.
func TestFakeRejectsWhatBatchRejects(t *testing.T) {
	batchtest.New(t, "q", "d")
	c, err := New(context.Background(), "q", "d", 40)
	if err != nil {
		t.Fatal(err)
	}
	base := func() *awsbatch.SubmitJobInput {
		return &awsbatch.SubmitJobInput{JobName: aws.String("ok-name_1"), JobQueue: aws.String("q"), JobDefinition: aws.String("d")}
	}
	cases := map[string]func(*awsbatch.SubmitJobInput){
		"name with a slash":    func(in *awsbatch.SubmitJobInput) { in.JobName = aws.String("al/2013") },
		"name of 129":          func(in *awsbatch.SubmitJobInput) { in.JobName = aws.String(strings.Repeat("a", 129)) },
		"name starting with -": func(in *awsbatch.SubmitJobInput) { in.JobName = aws.String("-x") },
		"unknown queue":        func(in *awsbatch.SubmitJobInput) { in.JobQueue = aws.String("other") },
		"unknown definition":   func(in *awsbatch.SubmitJobInput) { in.JobDefinition = aws.String("other") },
		"array of 1":           func(in *awsbatch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(1)} },
		"array of 10,001":      func(in *awsbatch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(10001)} },
		"11 attempts":          func(in *awsbatch.SubmitJobInput) { in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(11)} },
		"6 exit rules": func(in *awsbatch.SubmitJobInput) {
			in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3), EvaluateOnExit: make([]types.EvaluateOnExit, 6)}
			for i := range in.RetryStrategy.EvaluateOnExit {
				in.RetryStrategy.EvaluateOnExit[i] = types.EvaluateOnExit{Action: types.RetryActionExit, OnExitCode: aws.String("*")}
			}
		},
		"timeout of 30 s": func(in *awsbatch.SubmitJobInput) {
			in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(30)}
		},
		"40 KiB of params": func(in *awsbatch.SubmitJobInput) {
			in.Parameters = map[string]string{"prefix": strings.Repeat("x", 40<<10)}
		},
		"reserved env": func(in *awsbatch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("AWS_BATCH_JOB_ID"), Value: aws.String("x")}}}
		},
	}
	for name, mutate := range cases {
		in := base()
		mutate(in)
		_, err := c.api.SubmitJob(context.Background(), in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ClientException" {
			t.Errorf("%s: got %v, want ClientException", name, err)
		}
	}
	if _, err := c.api.SubmitJob(context.Background(), base()); err != nil {
		t.Fatalf("a valid request was refused: %v", err)
	}
	if _, err := c.api.SubmitJob(context.Background(), &awsbatch.SubmitJobInput{JobName: aws.String("x")}); err == nil {
		t.Error("a request without queue and definition was accepted")
	}
}

func TestSubmitChecksNamesAndArraySizesBeforeSending(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	c, _ := New(context.Background(), "q", "d", 40)
	for _, j := range []runspec.Job{{Name: "bad/name"}, {Name: "ok", ArraySize: 1}, {Name: "ok", ArraySize: 10001}} {
		if _, err := c.submitOne(context.Background(), j); err == nil {
			t.Errorf("%+v accepted", j)
		}
	}
	if len(fake.Jobs()) != 0 || fake.Rejected() != 0 {
		t.Fatal("invalid jobs reached the service")
	}
}

func TestJobsListsEveryStateWithDetails(t *testing.T) {
	fake := batchtest.New(t, "q", "d")
	c, _ := New(context.Background(), "q", "d", 40)
	for _, name := range []string{"ql-r1-a", "ql-r1-b", "ql-r2-a"} {
		if _, err := c.submitOne(context.Background(), runspec.Job{Name: name, Parameters: map[string]string{"prefix": name}}); err != nil {
			t.Fatal(err)
		}
	}
	code := int(3)
	fake.SetStatus(fake.Jobs()[0].ID, "FAILED", "Essential container in task exited", &code)
	jobs, err := c.Jobs(context.Background(), "ql-r1-")
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	if jobs[0].Status != "FAILED" || jobs[0].ExitCode == nil || *jobs[0].ExitCode != 3 || jobs[0].LogStream == "" || runspec.Active(jobs[0].Status) {
		t.Fatalf("failed job %+v", jobs[0])
	}
	if !runspec.Active(jobs[1].Status) {
		t.Fatalf("submitted job not active: %+v", jobs[1])
	}
}
