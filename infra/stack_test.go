package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// synth builds the stack with cdk-nag's AwsSolutions checks, as the app does.
func synth(t *testing.T, cfg Config) (awscdk.Stack, assertions.Template) {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := NewStack(app, "Quicklook", cfg, nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return stack, assertions.Template_FromStack(stack, nil)
}

func testConfig() Config {
	c := Defaults
	c.AssetDir = ".." // the repository root, from infra/
	c.SourcePrefixes = []string{"al/", "ga/2013/"}
	return c
}

func resources(tpl assertions.Template, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	b, _ := json.Marshal(tpl.FindResources(jsii.String(typ), nil))
	json.Unmarshal(b, &out)
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func TestStack(t *testing.T) {
	stack, tpl := synth(t, testConfig())

	t.Run("cdk-nag AwsSolutions checks pass", func(t *testing.T) {
		errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		for _, e := range *errs {
			t.Errorf("%s: %v", *e.Id, e.Entry.Data)
		}
		warns := assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		for _, w := range *warns {
			t.Errorf("%s: %v", *w.Id, w.Entry.Data)
		}
	})

	t.Run("spot compute environment from zero with IMDSv2", func(t *testing.T) {
		tpl.HasResourceProperties(jsii.String("AWS::Batch::ComputeEnvironment"), map[string]any{
			"Type": "managed",
			"ComputeResources": assertions.Match_ObjectLike(&map[string]any{
				"Type": "SPOT", "AllocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED", "MinvCpus": 0, "MaxvCpus": 256,
			}),
		})
		tpl.HasResourceProperties(jsii.String("AWS::EC2::LaunchTemplate"), map[string]any{
			"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
				"MetadataOptions": assertions.Match_ObjectLike(&map[string]any{"HttpTokens": "required"}),
			}),
		})
		tpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0))
		tpl.HasResourceProperties(jsii.String("AWS::EC2::VPCEndpoint"), map[string]any{"VpcEndpointType": "Gateway"})
		tpl.ResourceCountIs(jsii.String("AWS::Batch::JobQueue"), jsii.Number(1))
		// Each run is a share of a fair-share queue: an urgent run overtakes a backfill.
		tpl.HasResourceProperties(jsii.String("AWS::Batch::SchedulingPolicy"), map[string]any{
			"FairsharePolicy": assertions.Match_ObjectLike(&map[string]any{"ShareDecaySeconds": 3600, "ComputeReservation": 10}),
		})
		tpl.HasResourceProperties(jsii.String("AWS::Batch::JobQueue"), map[string]any{
			"SchedulingPolicyArn": assertions.Match_AnyValue(),
		})
	})

	t.Run("job definition: command, parameters, retries, resources", func(t *testing.T) {
		defs := resources(tpl, "AWS::Batch::JobDefinition")
		if len(defs) != 1 {
			t.Fatalf("%d job definitions", len(defs))
		}
		for _, d := range defs {
			p := props(d)
			cp := p["ContainerProperties"].(map[string]any)
			cmd, _ := json.Marshal(cp["Command"])
			if string(cmd) != `["run","--source","Ref::source","--prefix","Ref::prefix","--dest","Ref::dest"]` {
				t.Errorf("command %s", cmd)
			}
			params := p["Parameters"].(map[string]any)
			for _, k := range []string{"source", "prefix", "dest"} {
				if _, ok := params[k]; !ok {
					t.Errorf("parameter %s missing: %v", k, params)
				}
			}
			rs := p["RetryStrategy"].(map[string]any)
			rules, _ := json.Marshal(rs["EvaluateOnExit"])
			if rs["Attempts"] != float64(3) || !strings.Contains(string(rules), `"OnExitCode":"75"`) ||
				!strings.Contains(string(rules), `"OnStatusReason":"Host EC2*"`) || !strings.Contains(string(rules), `{"Action":"EXIT","OnExitCode":"*"}`) {
				t.Errorf("retry strategy %v", rs)
			}
			// The catch-all exit rule must come last: Batch applies the first match.
			if strings.Index(string(rules), `"OnExitCode":"*"`) < strings.Index(string(rules), `"OnExitCode":"75"`) {
				t.Errorf("exit rule before the retry rules: %s", rules)
			}
			if p["Timeout"].(map[string]any)["AttemptDurationSeconds"] != float64(7200) {
				t.Errorf("timeout %v", p["Timeout"])
			}
			res, _ := json.Marshal(cp["ResourceRequirements"])
			if !strings.Contains(string(res), `"Type":"VCPU","Value":"1"`) || !strings.Contains(string(res), `"Type":"MEMORY","Value":"2048"`) {
				t.Errorf("resources %s", res)
			}
			if cp["ReadonlyRootFilesystem"] != true || cp["Image"] == nil {
				t.Errorf("container %v", cp)
			}
		}
	})

	t.Run("IAM: the job reads only the named prefixes and writes only the thumbnails", func(t *testing.T) {
		var jobPolicy string
		for _, pol := range resources(tpl, "AWS::IAM::Policy") {
			b, _ := json.Marshal(props(pol))
			if strings.Contains(string(b), "WriteThumbnails") {
				jobPolicy = string(b)
			}
		}
		if jobPolicy == "" {
			t.Fatal("no job role policy")
		}
		for _, want := range []string{`"s3:prefix":["al/*","ga/2013/*"]`, `:s3:::aws-naip/al/*`, `:s3:::aws-naip/ga/2013/*`} {
			if !strings.Contains(jobPolicy, want) {
				t.Errorf("job policy lacks %s: %s", want, jobPolicy)
			}
		}
		for _, bad := range []string{`"s3:*"`, `"Resource":"*"`, `aws-naip/*"`, "s3:PutObject\",\"Resource\":[\"arn:"} {
			if strings.Contains(jobPolicy, bad) {
				t.Errorf("job policy has %s: %s", bad, jobPolicy)
			}
		}
		var stmts []map[string]any
		var doc struct {
			PolicyDocument struct{ Statement []map[string]any }
		}
		json.Unmarshal([]byte(jobPolicy), &doc)
		stmts = doc.PolicyDocument.Statement
		for _, s := range stmts {
			acts := fmt.Sprint(s["Action"])
			res, _ := json.Marshal(s["Resource"])
			if strings.Contains(acts, "PutObject") && strings.Contains(string(res), "aws-naip") {
				t.Errorf("the job may write to the source: %v", s)
			}
		}
	})

	t.Run("thumbnail bucket is private, encrypted, TLS-only, behind CloudFront OAC", func(t *testing.T) {
		for name, b := range resources(tpl, "AWS::S3::Bucket") {
			p := props(b)
			pab, _ := json.Marshal(p["PublicAccessBlockConfiguration"])
			if string(pab) != `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}` {
				t.Errorf("bucket %s public access block %s", name, pab)
			}
			if p["BucketEncryption"] == nil {
				t.Errorf("bucket %s is not encrypted", name)
			}
		}
		policies, _ := json.Marshal(tpl.FindResources(jsii.String("AWS::S3::BucketPolicy"), nil))
		if !strings.Contains(string(policies), `"aws:SecureTransport":"false"`) || !strings.Contains(string(policies), "cloudfront.amazonaws.com") {
			t.Errorf("bucket policies lack TLS-only or CloudFront grants: %s", policies)
		}
		tpl.ResourceCountIs(jsii.String("AWS::CloudFront::OriginAccessControl"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), map[string]any{
			"DistributionConfig": assertions.Match_ObjectLike(&map[string]any{
				"DefaultCacheBehavior": assertions.Match_ObjectLike(&map[string]any{"ViewerProtocolPolicy": "redirect-to-https"}),
			}),
		})
		tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	})

	t.Run("outputs name what submit needs", func(t *testing.T) {
		outs, _ := json.Marshal(tpl.ToJSON())
		for _, o := range []string{"QueueName", "QueueArn", "JobDefinitionName", "JobDefinitionArn", "ThumbnailBucket", "UrlBase", "SubmitCommand"} {
			if !strings.Contains(string(outs), `"`+o+`":{`) {
				t.Errorf("output %s missing", o)
			}
		}
		if !strings.Contains(string(outs), "bin/submit run --executor batch --queue ") {
			t.Error("SubmitCommand does not give the submit command")
		}
	})
}

func TestOptionsFromContext(t *testing.T) {
	c := testConfig()
	c.OnDemandMaxVcpus, c.ThumbBucket, c.JobVcpus, c.JobMemoryMiB = 64, "existing-thumbs", 2, 4096
	_, tpl := synth(t, c)
	tpl.ResourceCountIs(jsii.String("AWS::Batch::ComputeEnvironment"), jsii.Number(2))
	tpl.HasResourceProperties(jsii.String("AWS::Batch::JobQueue"), map[string]any{
		"ComputeEnvironmentOrder": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Order": 2})}),
	})
	tpl.HasResourceProperties(jsii.String("AWS::Batch::ComputeEnvironment"), map[string]any{
		"ComputeResources": assertions.Match_ObjectLike(&map[string]any{"Type": "EC2", "MaxvCpus": 64}),
	})
	// An existing bucket is used, not created.
	if n := len(resources(tpl, "AWS::S3::Bucket")); n != 1 { // the access-log bucket only
		t.Errorf("%d buckets created with an existing thumbnail bucket", n)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"quicklook:jobVcpus": "x"}})
	if _, err := ConfigFrom(app.Node()); err == nil {
		t.Error("a non-numeric context value was accepted")
	}
	app = awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"quicklook:sourceBuckets": "a,b", "quicklook:maxVcpus": "16"}})
	cfg, err := ConfigFrom(app.Node())
	if err != nil || len(cfg.SourceBuckets) != 2 || cfg.MaxVcpus != 16 {
		t.Errorf("context: %+v, %v", cfg, err)
	}
}
