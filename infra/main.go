// Command infra is the CDK app (run by cdk.json as `go run ./infra`): the
// Batch compute environments, queue and job definition, the thumbnail
// bucket behind CloudFront, and least-privilege IAM. Settings are context
// keys quicklook:* in cdk.json, overridable with `cdk synth -c key=value`.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFrom(app.Node())
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	var env *awscdk.Environment
	if acct, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); acct != "" && region != "" {
		env = &awscdk.Environment{Account: jsii.String(acct), Region: jsii.String(region)}
	}
	NewStack(app, "Quicklook", cfg, &awscdk.StackProps{Env: env, Description: jsii.String("quicklook: thumbnails of imagery in S3, on AWS Batch")})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}
