package mailer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// Client limits, the same as the Secrets Manager client's (see
// secrets.NewClient): a mail is sent while a request waits (signup,
// resend-verification), so a dead or slow SES endpoint must fail within a few
// seconds, not hang until the Lambda times out. SendEmail is not idempotent,
// so a retry after a lost response can send a mail twice; for a verification
// code that is harmless, and one retry is worth it for transient errors.
const (
	clientMaxAttempts    = 2
	clientAttemptTimeout = 2 * time.Second
	clientConnectTimeout = time.Second
	clientMaxBackoff     = 500 * time.Millisecond
)

// NewSESClient builds the SES v2 client used by the Lambda functions.
//
// Configuration comes from config.LoadDefaultConfig, so the region, the
// credentials and an endpoint override (AWS_ENDPOINT_URL_SESV2 or
// AWS_ENDPOINT_URL) are taken from the environment as usual. endpoint, when
// not empty, overrides the endpoint explicitly (tests, local stacks).
//
// Retries are bounded (two attempts, sub-second backoff, no client-side retry
// quota that would replace the real error with "quota exceeded") and every
// attempt has a short timeout. NewSESClient does not contact SES; it fails
// only on configuration errors (unreadable shared config, no region).
func NewSESClient(ctx context.Context, endpoint string) (*sesv2.Client, error) {
	httpClient := awshttp.NewBuildableClient().
		WithTimeout(clientAttemptTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = clientConnectTimeout })

	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = clientMaxAttempts
				o.MaxBackoff = clientMaxBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("mailer: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		// Every send would fail; say so at init rather than on each signup.
		return nil, errors.New("mailer: no AWS region configured (set AWS_REGION)")
	}
	return sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
