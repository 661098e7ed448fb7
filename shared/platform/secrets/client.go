package secrets

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
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// API is the subset of the Secrets Manager client this package uses. It is an
// interface so that callers can decorate the client (tracing, metrics); it is
// satisfied by *secretsmanager.Client.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ API = (*secretsmanager.Client)(nil)

// Client limits. A Lambda init phase has about 10 s in total, and a request
// has its own deadline, so a dead endpoint must fail fast: at most two
// attempts, each bounded, with a short pause between them. The Cache adds its
// own backoff on top, so the SDK does not need to retry harder.
const (
	clientMaxAttempts    = 2
	clientAttemptTimeout = 2 * time.Second
	clientConnectTimeout = time.Second
	clientMaxBackoff     = 500 * time.Millisecond
)

// NewClient builds the Secrets Manager client used by the Lambda functions.
//
// Configuration comes from config.LoadDefaultConfig, so the region, the
// credentials and an endpoint override (AWS_ENDPOINT_URL_SECRETS_MANAGER or
// AWS_ENDPOINT_URL) are taken from the environment as usual. endpoint, when
// not empty, overrides the endpoint explicitly (tests, local stacks).
//
// Retries are bounded (two attempts, sub-second backoff, no client-side retry
// quota that would replace the real error with "quota exceeded") and every
// attempt has a short timeout, so that an unreachable endpoint cannot consume
// the Lambda init budget. NewClient does not contact Secrets Manager; it fails
// only on configuration errors (unreadable shared config, no region).
func NewClient(ctx context.Context, endpoint string) (*secretsmanager.Client, error) {
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
		return nil, fmt.Errorf("secrets: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		// Every call would fail; say so at init rather than on each request.
		return nil, errors.New("secrets: no AWS region configured (set AWS_REGION)")
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
