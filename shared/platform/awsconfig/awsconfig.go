// Package awsconfig loads the AWS SDK configuration every client of the service uses: the
// region, credentials and endpoint overrides from the environment as usual, with retries and
// timeouts bounded for Lambda.
package awsconfig

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
)

// Client limits. A Lambda init phase has about 10 s in total and a request has its own deadline,
// so a dead endpoint must fail fast: at most two attempts, each bounded, with a short pause
// between them. Callers add their own backoff (the secrets cache) where they need one. The
// client-side retry quota is off: when exhausted it replaces the real error with "quota exceeded".
const (
	MaxAttempts    = 2
	AttemptTimeout = 2 * time.Second
	ConnectTimeout = time.Second
	MaxBackoff     = 500 * time.Millisecond
)

// Load returns the configuration. It does not contact AWS; it fails only on configuration errors
// (unreadable shared config, no region — every call would fail, so say so at init).
func Load(ctx context.Context) (aws.Config, error) {
	httpClient := awshttp.NewBuildableClient().
		WithTimeout(AttemptTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = ConnectTimeout })
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = MaxAttempts
				o.MaxBackoff = MaxBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region configured (set AWS_REGION)")
	}
	return cfg, nil
}
