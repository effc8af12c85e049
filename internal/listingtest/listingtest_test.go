package listingtest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"quicklook/internal/listingtest"
	"quicklook/internal/s3test"
	"quicklook/internal/storage"
)

func client(t *testing.T, endpoint string) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(endpoint), true })
}

// page lists one page and renders it as text: keys, common prefixes,
// whether it is truncated.
func page(t *testing.T, c *s3.Client, bucket string, in s3.ListObjectsV2Input) (string, *string) {
	t.Helper()
	in.Bucket = aws.String(bucket)
	out, err := c.ListObjectsV2(context.Background(), &in)
	if err != nil {
		t.Fatalf("%+v: %v", in, err)
	}
	var b strings.Builder
	for _, o := range out.Contents {
		fmt.Fprintf(&b, "%s\n", aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		fmt.Fprintf(&b, "CP %s\n", aws.ToString(p.Prefix))
	}
	fmt.Fprintf(&b, "count %d truncated %v", aws.ToInt32(out.KeyCount), aws.ToBool(out.IsTruncated))
	return b.String(), out.NextContinuationToken
}

// The stand-in answers as S3 does: the same key space put into the real S3
// server lists the same, page by page, for every way of asking.
func TestListsAsTheS3ServerDoes(t *testing.T) {
	shape := listingtest.NAIP(7, 2600)
	real := s3test.Bucket(t, "listing")
	st, err := storage.OpenS3(context.Background(), real, storage.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{}
	for _, k := range shape.Keys() {
		objs[k] = nil
	}
	s3test.PutAll(t, st, objs)
	realClient := client(t, os.Getenv("AWS_ENDPOINT_URL_S3"))
	stand := listingtest.New(t, shape, 0)
	standClient := client(t, stand.URL)
	bucket := strings.TrimPrefix(real, "s3://")
	mid := shape.Keys()[1300]
	for _, in := range []s3.ListObjectsV2Input{
		{Delimiter: aws.String("/")},
		{Delimiter: aws.String("/"), MaxKeys: aws.Int32(7)},
		{Prefix: aws.String("tx/"), Delimiter: aws.String("/")},
		{Prefix: aws.String(shape.Blocks[3].Prefix), Delimiter: aws.String("/")},
		{Prefix: aws.String(shape.Blocks[3].Prefix), MaxKeys: aws.Int32(50)},
		{Prefix: aws.String(shape.Blocks[3].Prefix + "1"), Delimiter: aws.String("/")},
		{StartAfter: aws.String(mid), MaxKeys: aws.Int32(5)},
		{StartAfter: aws.String(mid[:10]), Delimiter: aws.String("/"), MaxKeys: aws.Int32(4)},
		{Prefix: aws.String("zz/")},
		{MaxKeys: aws.Int32(1000)},
	} {
		// Page through both, comparing each page.
		realIn, standIn := in, in
		for n := 0; ; n++ {
			want, realNext := page(t, realClient, bucket, realIn)
			got, standNext := page(t, standClient, bucket, standIn)
			if got != want {
				t.Fatalf("%+v page %d:\nstand-in:\n%s\nS3 server:\n%s", in, n, got, want)
			}
			if realNext == nil || n > 10 {
				break
			}
			realIn.ContinuationToken, standIn.ContinuationToken = realNext, standNext
		}
	}
}

func TestNAIPShape(t *testing.T) {
	shape := listingtest.NAIP(1, 1_300_000)
	if len(shape.Blocks) != 117 || shape.Total() != 1_300_000 {
		t.Fatalf("%d prefixes, %d keys", len(shape.Blocks), shape.Total())
	}
	largest := shape.Blocks[0]
	for _, b := range shape.Blocks {
		if b.Keys > largest.Keys {
			largest = b
		}
	}
	if !strings.HasPrefix(largest.Prefix, "tx/") || largest.Keys < 17_000 {
		t.Fatalf("largest prefix %s holds %d keys", largest.Prefix, largest.Keys)
	}
}
