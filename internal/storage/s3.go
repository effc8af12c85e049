// S3 is the Store of a bucket (or an S3-compatible server): one backend,
// one file, as local.go is the other.

package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3 is a bucket, optionally below a base prefix (s3://BUCKET/BASE/), reached
// with the SDK's standard configuration: the credential chain (environment,
// profile, ECS task role, instance role), AWS_REGION, and
// AWS_ENDPOINT_URL_S3 for S3-compatible servers (path-style addressing).
// Throttling (503 SlowDown) is absorbed by the SDK's adaptive retries.
type S3 struct {
	client        *s3.Client
	bucket, base  string
	requesterPays bool
}

// s3DeleteBatch is DeleteObjects' limit.
const s3DeleteBatch = 1000

// maxAttempts is the SDK's standard AWS_MAX_ATTEMPTS, or 8: throttling
// bursts from S3 can outlast the SDK's default of 3.
func maxAttempts() int {
	if n, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && n > 0 {
		return n
	}
	return 8
}

// OpenS3 parses s3://BUCKET[/BASE/] and builds a client.
func OpenS3(ctx context.Context, location string, opts OpenOptions) (*S3, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not s3://BUCKET[/BASE/]", ErrNoBucket, location)
	}
	base := strings.TrimPrefix(u.Path, "/")
	if base != "" {
		if err := ValidatePrefix(base); err != nil {
			return nil, fmt.Errorf("%s: base: %w", location, err)
		}
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = maxAttempts() })
			})
		}),
	}
	if endpoint != "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		loadOpts = append(loadOpts, config.WithRegion("us-east-1"))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, &OpError{Op: "configure", Store: location, Kind: ErrDenied, Err: err}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.HTTPClient = countingClient{o.HTTPClient}
		if endpoint != "" {
			o.UsePathStyle = true
			// S3-compatible servers vary in their support of the newer
			// default checksums; send them only where the API requires.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return &S3{client: client, bucket: u.Host, base: base, requesterPays: opts.RequesterPays}, nil
}

// URL implements Store.
func (s *S3) URL() string { return "s3://" + s.bucket + "/" + s.base }

// Bucket and Base locate the store.
func (s *S3) Bucket() string { return s.bucket }
func (s *S3) Base() string   { return s.base }

func (s *S3) payer() types.RequestPayer {
	if s.requesterPays {
		return types.RequestPayerRequester
	}
	return ""
}

func (s *S3) opErr(op, key string, err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	return &OpError{Op: op, Store: "s3://" + s.bucket + "/" + s.base, Key: key, Kind: classifyS3(err), Err: err}
}

// classifyS3 maps S3 error codes to the kinds callers act on.
func classifyS3(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return ErrNotFound
		case "NoSuchBucket":
			return ErrNoBucket
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
			"InvalidToken", "ExpiredToken", "AccountProblem", "Forbidden", "InvalidObjectState":
			return ErrDenied
		case "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable":
			return ErrTransient
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 404:
			return ErrNotFound
		case code == 403 || code == 401:
			return ErrDenied
		case code == 429 || code >= 500:
			return ErrTransient
		}
		return nil
	}
	// No HTTP response at all: the network.
	return ErrTransient
}

// List implements Store, page by page (1,000 keys a page).
func (s *S3) List(ctx context.Context, prefix, delimiter string, fn func(Entry) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return s.opErr("list", prefix, err)
	}
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.base + prefix), RequestPayer: s.payer()}
	if delimiter != "" {
		in.Delimiter = &delimiter
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.opErr("list", prefix, err)
		}
		// S3 returns objects and common prefixes apart, each sorted: merge
		// them so callers see one key order, as from a folder.
		objs, cps := page.Contents, page.CommonPrefixes
		for len(objs) > 0 || len(cps) > 0 {
			var e Entry
			if len(cps) == 0 || (len(objs) > 0 && aws.ToString(objs[0].Key) < aws.ToString(cps[0].Prefix)) {
				o := objs[0]
				objs = objs[1:]
				e.Object = Object{Key: strings.TrimPrefix(aws.ToString(o.Key), s.base), Size: aws.ToInt64(o.Size),
					ETag: strings.Trim(aws.ToString(o.ETag), `"`), ModTime: aws.ToTime(o.LastModified)}
			} else {
				e.CommonPrefix = strings.TrimPrefix(aws.ToString(cps[0].Prefix), s.base)
				cps = cps[1:]
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// bodyRetries is how often a ranged read resumes after its response body
// broke off (a connection reset mid-body happens after the SDK has handed
// over the response, so its retries do not see it).
const bodyRetries = 4

// ReadAt implements Store with ranged GETs, resuming where a body broke off.
func (s *S3) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	if err := ValidateKey(key); err != nil {
		return 0, s.opErr("read", key, err)
	}
	n := 0
	var lastErr error
	for attempt := 0; attempt <= bodyRetries && n < len(p); attempt++ {
		if attempt > 0 {
			select { // brief, growing pause before resuming
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			case <-ctx.Done():
				return n, ctx.Err()
			}
		}
		got, eof, err := s.readRange(ctx, key, p[n:], off+int64(n))
		countBytes(ctx, int64(got), 0)
		n += got
		if eof {
			return n, io.EOF
		}
		if err == nil {
			return n, nil
		}
		var oe *OpError
		if errors.As(err, &oe) || ctx.Err() != nil {
			return n, err // an API error the SDK already retried, or the deadline
		}
		lastErr = err
	}
	if n == len(p) {
		return n, nil
	}
	return n, s.opErr("read", key, lastErr)
}

// Stream implements Store: one ranged GET whose body is handed on as it
// arrives; a body that breaks off is resumed with a ranged GET of the rest.
func (s *S3) Stream(ctx context.Context, key string, off, n int64, fn func([]byte) error) error {
	if err := ValidateKey(key); err != nil {
		return s.opErr("read", key, err)
	}
	var done int64
	var lastErr error
	for attempt := 0; attempt <= bodyRetries && done < n; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: &s.bucket, Key: aws.String(s.base + key), RequestPayer: s.payer(),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off+done, off+n-1)),
		})
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
				return nil // at or past the end
			}
			return s.opErr("read", key, err)
		}
		want := aws.ToInt64(out.ContentLength)
		var got int64
		var stopped error // fn's own error: never retried
		err = pump(ctx, out.Body, func(p []byte) error {
			got += int64(len(p))
			stopped = fn(p)
			return stopped
		})
		out.Body.Close()
		done += got
		if stopped != nil {
			return stopped
		}
		if err == nil && got == want {
			return nil // the range, or the object's end inside it
		}
		var oe *OpError
		if errors.As(err, &oe) || ctx.Err() != nil {
			return err
		}
		if err == nil {
			err = fmt.Errorf("response body ended after %d of %d bytes", got, want)
		}
		lastErr = err
	}
	if done >= n {
		return nil
	}
	return s.opErr("read", key, lastErr)
}

// readRange is one ranged GET; a body error comes back unwrapped so ReadAt
// can resume.
func (s *S3) readRange(ctx context.Context, key string, p []byte, off int64) (int, bool, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.base + key), RequestPayer: s.payer(),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			return 0, true, nil // at or past the end
		}
		return 0, false, s.opErr("read", key, err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p)
	switch {
	case err == nil:
		return n, false, nil
	case (err == io.ErrUnexpectedEOF || err == io.EOF) && out.ContentLength != nil && int64(n) == *out.ContentLength:
		return n, true, nil // the object ends inside the range
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("response body ended after %d of %d bytes", n, aws.ToInt64(out.ContentLength))
	}
	return n, false, err
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, s.opErr("get", key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key), RequestPayer: s.payer()})
	if err != nil {
		return nil, s.opErr("get", key, err)
	}
	return out.Body, nil
}

// Stat implements Store with a HEAD.
func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, s.opErr("stat", key, err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key), RequestPayer: s.payer()})
	if err != nil {
		return Object{}, s.opErr("stat", key, err)
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		ModTime: aws.ToTime(out.LastModified), Metadata: out.Metadata, ContentType: aws.ToString(out.ContentType)}, nil
}

// Put implements Store. A single PUT is atomic on S3.
func (s *S3) Put(ctx context.Context, key string, data []byte, opts PutOptions) error {
	if err := ValidateKey(key); err != nil {
		return s.opErr("put", key, err)
	}
	if strings.HasSuffix(key, "/") {
		return s.opErr("put", key, fmt.Errorf("%w: object key %q ends with /", ErrInvalid, key))
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), Metadata: opts.Metadata}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	if opts.CacheControl != "" {
		in.CacheControl = &opts.CacheControl
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.opErr("put", key, err)
	}
	countBytes(ctx, 0, int64(len(data)))
	return nil
}

// Copy implements Store with CopyObject, its metadata replaced.
func (s *S3) Copy(ctx context.Context, from, key string, opts PutOptions) error {
	for _, k := range []string{from, key} {
		if err := ValidateKey(k); err != nil {
			return s.opErr("copy", k, err)
		}
	}
	segments := strings.Split(s.bucket+"/"+s.base+from, "/")
	for i, seg := range segments {
		segments[i] = url.PathEscape(seg)
	}
	in := &s3.CopyObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key), CopySource: aws.String(strings.Join(segments, "/")),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: opts.Metadata}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	if opts.CacheControl != "" {
		in.CacheControl = &opts.CacheControl
	}
	if _, err := s.client.CopyObject(ctx, in); err != nil {
		return s.opErr("copy", key, err)
	}
	return nil
}

// Delete implements Store in batches of 1,000 keys.
func (s *S3) Delete(ctx context.Context, keys ...string) error {
	for len(keys) > 0 {
		n := min(len(keys), s3DeleteBatch)
		batch := keys[:n]
		keys = keys[n:]
		ids := make([]types.ObjectIdentifier, 0, len(batch))
		for _, k := range batch {
			if err := ValidateKey(k); err != nil {
				return s.opErr("delete", k, err)
			}
			ids = append(ids, types.ObjectIdentifier{Key: aws.String(s.base + k)})
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return s.opErr("delete", batch[0], err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return s.opErr("delete", strings.TrimPrefix(aws.ToString(e.Key), s.base),
				&smithy.GenericAPIError{Code: aws.ToString(e.Code), Message: aws.ToString(e.Message)})
		}
	}
	return nil
}

// CreateBucket makes the store's bucket (tests, demos and first-time set-up);
// a bucket that exists already and is ours is not an error.
func (s *S3) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return s.opErr("create bucket", "", err)
	}
	return nil
}
