package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"quicklook/internal/runspec"
)

// Config is the stack's context (cdk.json, or -c key=value).
type Config struct {
	SourceBuckets    []string // buckets the job may read
	SourcePrefixes   []string // key prefixes it may read in them (empty: all)
	ThumbBucket      string   // existing thumbnail bucket (empty: create one)
	VpcID            string   // existing VPC (empty: create one without NAT)
	MaxVcpus         int
	OnDemandMaxVcpus int // an on-demand environment behind Spot (0: none)
	JobVcpus         int
	JobMemoryMiB     int
	JobTimeoutMin    int
	LogRetentionDays int
	AssetDir         string // folder with the Dockerfile (the repository root)
}

// Defaults are what cdk.json sets; every key can be overridden with -c.
var Defaults = Config{SourceBuckets: []string{"aws-naip"}, MaxVcpus: 256, JobVcpus: 1, JobMemoryMiB: 2048,
	JobTimeoutMin: 120, LogRetentionDays: 30, AssetDir: "."}

// ConfigFrom reads quicklook:* context keys over the defaults.
func ConfigFrom(node constructs.Node) (Config, error) {
	c := Defaults
	get := func(key string) (string, bool) {
		v := node.TryGetContext(jsii.String("quicklook:" + key))
		if v == nil {
			return "", false
		}
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
	list := func(key string, into *[]string) {
		if v, ok := get(key); ok {
			*into = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					*into = append(*into, s)
				}
			}
		}
	}
	list("sourceBuckets", &c.SourceBuckets)
	list("sourcePrefixes", &c.SourcePrefixes)
	if v, ok := get("thumbBucket"); ok {
		c.ThumbBucket = v
	}
	if v, ok := get("vpcId"); ok {
		c.VpcID = v
	}
	ints := map[string]*int{"maxVcpus": &c.MaxVcpus, "onDemandMaxVcpus": &c.OnDemandMaxVcpus, "jobVcpus": &c.JobVcpus,
		"jobMemoryMiB": &c.JobMemoryMiB, "jobTimeoutMinutes": &c.JobTimeoutMin, "logRetentionDays": &c.LogRetentionDays}
	for k, p := range ints {
		if v, ok := get(k); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return c, fmt.Errorf("context quicklook:%s=%q: want a whole number", k, v)
			}
			*p = n
		}
	}
	if len(c.SourceBuckets) == 0 {
		return c, fmt.Errorf("context quicklook:sourceBuckets: name at least one bucket to read")
	}
	if c.JobVcpus < 1 || c.JobMemoryMiB < 512 || c.MaxVcpus < c.JobVcpus || c.JobTimeoutMin < 1 {
		return c, fmt.Errorf("context: jobVcpus >= 1, jobMemoryMiB >= 512, maxVcpus >= jobVcpus and jobTimeoutMinutes >= 1 are required")
	}
	return c, nil
}

// The job definition's contract (docs/design.md, "AWS Batch"): the
// command, the exit code to retry on and the attempts are the ones the
// submitter and the local executor use.
var (
	jobCommand       = runspec.Command
	exitTransient    = strconv.Itoa(runspec.ExitTransient)
	jobRetryAttempts = float64(runspec.Attempts)
)

// NewStack defines everything a team needs to run quicklook in its account.
func NewStack(scope constructs.Construct, id string, cfg Config, props *awscdk.StackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), props)

	// Network: public subnets only (no NAT gateway to pay for), S3 through a
	// gateway endpoint; or an existing VPC.
	var vpc awsec2.IVpc
	if cfg.VpcID != "" {
		vpc = awsec2.Vpc_FromLookup(stack, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: jsii.String(cfg.VpcID)})
	} else {
		v := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
			MaxAzs:      jsii.Number(3),
			NatGateways: jsii.Number(0),
			SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
				Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(20),
			}},
			GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
				"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			},
		})
		v.AddFlowLog(jsii.String("RejectedFlows"), &awsec2.FlowLogOptions{
			TrafficType: awsec2.FlowLogTrafficType_REJECT,
			Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
				Retention: retention(cfg.LogRetentionDays), RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
			}), nil),
		})
		vpc = v
	}
	subnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}

	// Compute: Spot first (price-capacity optimised, scaling from zero), an
	// optional on-demand environment behind it in the same queue.
	lt := awsec2.NewLaunchTemplate(stack, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		RequireImdsv2:           jsii.Bool(true),
		HttpPutResponseHopLimit: jsii.Number(1), // containers use their task role, never the instance's
	})
	spot := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("Spot"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: vpc, VpcSubnets: subnets, Spot: jsii.Bool(true),
		AllocationStrategy: awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED,
		MinvCpus:           jsii.Number(0), MaxvCpus: jsii.Number(float64(cfg.MaxVcpus)), LaunchTemplate: lt,
	})
	envs := []*awsbatch.OrderedComputeEnvironment{{ComputeEnvironment: spot, Order: jsii.Number(1)}}
	if cfg.OnDemandMaxVcpus > 0 {
		od := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("OnDemand"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
			Vpc: vpc, VpcSubnets: subnets, Spot: jsii.Bool(false),
			AllocationStrategy: awsbatch.AllocationStrategy_BEST_FIT_PROGRESSIVE,
			MinvCpus:           jsii.Number(0), MaxvCpus: jsii.Number(float64(cfg.OnDemandMaxVcpus)), LaunchTemplate: lt,
		})
		envs = append(envs, &awsbatch.OrderedComputeEnvironment{ComputeEnvironment: od, Order: jsii.Number(2)})
	}
	for _, e := range envs {
		if ce, ok := e.ComputeEnvironment.(awsbatch.IManagedEc2EcsComputeEnvironment); ok && ce.InstanceRole() != nil {
			cdknag.NagSuppressions_AddResourceSuppressions(ce.InstanceRole(), &[]*cdknag.NagPackSuppression{{
				Id:     jsii.String("AwsSolutions-IAM4"),
				Reason: jsii.String("ECS container instances need the AWS managed AmazonEC2ContainerServiceforEC2Role that Batch documents; jobs do not use this role (they have their own)."),
			}}, jsii.Bool(true))
		}
	}
	// Fair share: each run is a share (submit names it), so a new, urgent run
	// gets vCPUs beside a long backfill instead of queueing behind it; a
	// tenth of the capacity is kept for shares not yet running.
	scheduling := awsbatch.NewFairshareSchedulingPolicy(stack, jsii.String("Scheduling"), &awsbatch.FairshareSchedulingPolicyProps{
		ShareDecay: awscdk.Duration_Hours(jsii.Number(1)), ComputeReservation: jsii.Number(10),
	})
	queue := awsbatch.NewJobQueue(stack, jsii.String("Queue"), &awsbatch.JobQueueProps{ComputeEnvironments: &envs, SchedulingPolicy: scheduling})

	// Thumbnails: a private, encrypted, TLS-only bucket served by CloudFront
	// through origin access control; or an existing bucket.
	logs := awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(), Encryption: awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL: jsii.Bool(true), ObjectOwnership: awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		LifecycleRules: &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(90))}},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-S1"), Reason: jsii.String("This is the access-log bucket itself: logging it into itself would loop.")},
	}, jsii.Bool(true))
	var thumbs awss3.IBucket
	if cfg.ThumbBucket != "" {
		thumbs = awss3.Bucket_FromBucketName(stack, jsii.String("Thumbnails"), jsii.String(cfg.ThumbBucket))
	} else {
		thumbs = awss3.NewBucket(stack, jsii.String("Thumbnails"), &awss3.BucketProps{
			BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(), Encryption: awss3.BucketEncryption_S3_MANAGED,
			EnforceSSL: jsii.Bool(true), RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
			ServerAccessLogsBucket: logs, ServerAccessLogsPrefix: jsii.String("s3/"),
		})
	}
	cdn := awscloudfront.NewDistribution(stack, jsii.String("Cdn"), &awscloudfront.DistributionProps{
		Comment: jsii.String("quicklook thumbnails"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(thumbs, nil),
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:          awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
		},
		EnableLogging: jsii.Bool(true), LogBucket: logs, LogFilePrefix: jsii.String("cloudfront/"),
	})
	urlBase := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), cdn.DistributionDomainName()})

	// The job's role: read only the named sources, write only the thumbnails.
	role := awsiam.NewRole(stack, jsii.String("JobRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("quicklook job: read source imagery, write thumbnails"),
	})
	for _, b := range cfg.SourceBuckets {
		bucketArn := fmt.Sprintf("arn:%s:s3:::%s", *awscdk.Aws_PARTITION(), b)
		list := &awsiam.PolicyStatementProps{Sid: jsii.String("ListSource" + sid(b)), Actions: jsii.Strings("s3:ListBucket"), Resources: jsii.Strings(bucketArn)}
		objects := []string{bucketArn + "/*"}
		if len(cfg.SourcePrefixes) > 0 {
			var like []string
			objects = nil
			for _, p := range cfg.SourcePrefixes {
				like = append(like, p+"*")
				objects = append(objects, bucketArn+"/"+p+"*")
			}
			list.Conditions = &map[string]interface{}{"StringLike": map[string]interface{}{"s3:prefix": like}}
		}
		role.AddToPolicy(awsiam.NewPolicyStatement(list))
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadSource" + sid(b)), Actions: jsii.Strings("s3:GetObject"), Resources: jsii.Strings(objects...),
		}))
	}
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ListThumbnails"), Actions: jsii.Strings("s3:ListBucket"), Resources: &[]*string{thumbs.BucketArn()},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteThumbnails"),
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
		Resources: &[]*string{thumbs.ArnForObjects(jsii.String("*"))},
	}))

	logGroup := awslogs.NewLogGroup(stack, jsii.String("JobLogs"), &awslogs.LogGroupProps{
		Retention: retention(cfg.LogRetentionDays), RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	image := awsecs.ContainerImage_FromAsset(jsii.String(cfg.AssetDir), &awsecs.AssetImageProps{
		File: jsii.String("Dockerfile"), Platform: awsecrassets.Platform_LINUX_AMD64(),
	})
	dest := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("s3://"), thumbs.BucketName(), jsii.String("/")})
	def := awsbatch.NewEcsJobDefinition(stack, jsii.String("Job"), &awsbatch.EcsJobDefinitionProps{
		Container: awsbatch.NewEcsEc2ContainerDefinition(stack, jsii.String("Container"), &awsbatch.EcsEc2ContainerDefinitionProps{
			Image: image, Cpu: jsii.Number(float64(cfg.JobVcpus)), Memory: awscdk.Size_Mebibytes(jsii.Number(float64(cfg.JobMemoryMiB))),
			Command: jsii.Strings(jobCommand...), JobRole: role, ReadonlyRootFilesystem: jsii.Bool(true),
			Environment: &map[string]*string{
				"QUICKLOOK_CONCURRENCY": jsii.String(strconv.Itoa(4 * cfg.JobVcpus)),
				// The job prices its run with the vCPUs it holds (an EC2
				// container sees the host's CPUs).
				"QUICKLOOK_VCPUS": jsii.String(strconv.Itoa(cfg.JobVcpus)),
				// Each job writes its own contact-sheet page; submit status
				// rebuilds the index once the run is over.
				"QUICKLOOK_CONTACT_SHEET": jsii.String("page"),
				"QUICKLOOK_LOG_FORMAT":    jsii.String("json"),
				"QUICKLOOK_URL_BASE":      urlBase,
				// GDAL keeps a cache of decoded blocks: a fraction of the job's memory.
				"QUICKLOOK_GDAL_CACHE_MB": jsii.String(strconv.Itoa(max(64, cfg.JobMemoryMiB/16))),
			},
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("quicklook"), LogGroup: logGroup}),
		}),
		Parameters: &map[string]interface{}{
			"source": "s3://" + cfg.SourceBuckets[0], "prefix": "", "dest": dest,
		},
		RetryAttempts: jsii.Number(jobRetryAttempts),
		RetryStrategies: &[]awsbatch.RetryStrategy{
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: jsii.String(exitTransient)})),
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_SPOT_INSTANCE_RECLAIMED()),
			awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: jsii.String("*")})),
		},
		Timeout:       awscdk.Duration_Minutes(jsii.Number(float64(cfg.JobTimeoutMin))),
		PropagateTags: jsii.Bool(true),
	})

	out := func(name, desc string, v *string) {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	out("QueueName", "Batch job queue (--queue)", queue.JobQueueName())
	out("QueueArn", "Batch job queue ARN", queue.JobQueueArn())
	out("JobDefinitionName", "Batch job definition (--definition)", def.JobDefinitionName())
	out("JobDefinitionArn", "Batch job definition ARN", def.JobDefinitionArn())
	out("ThumbnailBucket", "thumbnail bucket (--dest s3://BUCKET/)", thumbs.BucketName())
	out("UrlBase", "thumbnail URL base (the indexer's --url-base)", urlBase)
	out("SubmitCommand", "run the whole collection", awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("bin/submit run --executor batch --queue "), queue.JobQueueName(),
		jsii.String(" --definition "), def.JobDefinitionName(),
		jsii.String(" --source s3://" + cfg.SourceBuckets[0] + " --dest "), dest,
		jsii.String(" --depth 2 --requester-pays --array"),
	}))

	// Wildcards, each where it is needed and nowhere else.
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Object-level S3 permissions name objects by key pattern: the job reads every image under the source prefixes (bucket/prefix*) and writes every thumbnail in its own bucket (bucket/*); no action is wildcarded."),
		AppliesTo: &[]interface{}{
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::[^*]+\*$/`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<Thumbnails[0-9A-F]+\.Arn>\/\*$/`)},
		},
	}}, jsii.Bool(true))
	if exec := def.Container().ExecutionRole(); exec != nil {
		cdknag.NagSuppressions_AddResourceSuppressions(exec, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("ecr:GetAuthorizationToken has no resource-level form; CDK grants it on * for pulling the job image, and scopes the rest to the image repository and log group."),
			AppliesTo: &[]interface{}{jsii.String("Resource::*")},
		}}, jsii.Bool(true))
	}
	suppress(stack)
	return stack
}

func sid(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func retention(days int) awslogs.RetentionDays {
	for _, d := range []struct {
		n int
		r awslogs.RetentionDays
	}{{1, awslogs.RetentionDays_ONE_DAY}, {3, awslogs.RetentionDays_THREE_DAYS}, {7, awslogs.RetentionDays_ONE_WEEK},
		{14, awslogs.RetentionDays_TWO_WEEKS}, {30, awslogs.RetentionDays_ONE_MONTH}, {90, awslogs.RetentionDays_THREE_MONTHS},
		{180, awslogs.RetentionDays_SIX_MONTHS}, {365, awslogs.RetentionDays_ONE_YEAR}} {
		if days <= d.n {
			return d.r
		}
	}
	return awslogs.RetentionDays_TEN_YEARS
}

// suppress records, next to the rule it silences, why each AwsSolutions
// finding does not apply to this stack.
func suppress(stack awscdk.Stack) {
	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-CFR1"), Reason: jsii.String("Thumbnails of public imagery are served worldwide; no geographic restriction is wanted.")},
		{Id: jsii.String("AwsSolutions-CFR2"), Reason: jsii.String("The distribution serves read-only, cacheable thumbnails from a private bucket via origin access control; a WAF web ACL is left to teams that need one.")},
		{Id: jsii.String("AwsSolutions-CFR4"), Reason: jsii.String("The default CloudFront certificate (*.cloudfront.net) is used; a minimum TLS version applies only with a custom certificate, which teams add with their own domain.")},
	}, jsii.Bool(true))
}
