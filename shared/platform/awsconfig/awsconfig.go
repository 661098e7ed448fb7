// Package awsconfig builds the AWS SDK configuration every client of the service uses: the
// region, credentials and endpoint overrides from environment variables only, with retries and
// timeouts bounded for Lambda.
//
// Why environment variables only: the SDK's config.LoadDefaultConfig links its whole credential
// chain (shared config and credentials files, SSO and SSO-OIDC, STS assume-role and web identity,
// sign-in, credential processes, EC2 instance metadata), which added 1.5–1.8 MiB to every
// bootstrap, enough to push several over the 12 MiB target, and it reads the shared files on
// every cold start. A Lambda function needs none of it: Lambda hands it its region (AWS_REGION)
// and its execution role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) in environment variables, and `sam local invoke` / `sam local start-api`
// export the region and credentials of the profile they run with in the same variables. Shared
// profiles (AWS_PROFILE, ~/.aws), SSO and instance metadata are therefore not supported by the
// Lambda binaries; a developer runs the local server, which does not use AWS, or SAM CLI.
//
// The variables read, with the SDK's own names and semantics:
//
//   - AWS_REGION, else AWS_DEFAULT_REGION: required.
//   - AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: required; AWS_SESSION_TOKEN: optional.
//   - AWS_ENDPOINT_URL: the endpoint of every service (aws.Config.BaseEndpoint).
//   - AWS_ENDPOINT_URL_<SERVICE>: the endpoint of one service, ahead of AWS_ENDPOINT_URL. SERVICE
//     is the service's SDK ID upper-cased with spaces as underscores: SECRETS_MANAGER, SESV2,
//     LAMBDA.
//   - AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true: ignore both endpoint variables.
//
// The service-specific endpoints reach the SDK's clients the way LoadDefaultConfig's do: every
// generated client asks the entries of aws.Config.ConfigSources for GetServiceBaseEndpoint(ctx,
// sdkID) when it is built (internal/configsources), so one small source of ours keeps every
// client working unchanged.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
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

// The environment variables Load reads (the SDK's names).
const (
	envRegion          = "AWS_REGION"
	envDefaultRegion   = "AWS_DEFAULT_REGION"
	envAccessKeyID     = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	envSessionToken    = "AWS_SESSION_TOKEN"
	envEndpointURL     = "AWS_ENDPOINT_URL"
	envIgnoreEndpoints = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
)

// Load returns the configuration. It does not contact AWS; it fails only on configuration errors
// (no region, no or half-set credentials, a bad AWS_IGNORE_CONFIGURED_ENDPOINT_URLS): every call
// would fail, so say so at init. Errors name the variables, never their values.
func Load(_ context.Context) (aws.Config, error) {
	var problems []error
	region := os.Getenv(envRegion)
	if region == "" {
		region = os.Getenv(envDefaultRegion)
	}
	if region == "" {
		problems = append(problems, errors.New("no AWS region configured (set "+envRegion+")"))
	}
	creds, err := staticCredentials()
	if err != nil {
		problems = append(problems, err)
	}
	ignore, err := ignoreConfiguredEndpoints()
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", errors.Join(problems...))
	}

	httpClient := awshttp.NewBuildableClient().
		WithTimeout(AttemptTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = ConnectTimeout })
	cfg := aws.Config{
		Region:      region,
		Credentials: creds,
		HTTPClient:  httpClient,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = MaxAttempts
				o.MaxBackoff = MaxBackoff
				o.RateLimiter = ratelimit.None
			})
		},
		// As with LoadDefaultConfig, the SDK's warnings go to stderr (CloudWatch in Lambda); a
		// client without a logger would drop them.
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{endpointSource{ignore: ignore}},
	}
	if v := os.Getenv(envEndpointURL); v != "" && !ignore {
		cfg.BaseEndpoint = aws.String(v)
	}
	return cfg, nil
}

// staticCredentials is the access key of the environment. Both halves are required: a key id
// without its secret is a broken deployment, not "no credentials", so it is reported as such.
func staticCredentials() (aws.CredentialsProvider, error) {
	id, secret := os.Getenv(envAccessKeyID), os.Getenv(envSecretAccessKey)
	var missing []string
	if id == "" {
		missing = append(missing, envAccessKeyID)
	}
	if secret == "" {
		missing = append(missing, envSecretAccessKey)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no AWS credentials configured (%s not set; %s and %s are required, %s is optional)",
			strings.Join(missing, " and "), envAccessKeyID, envSecretAccessKey, envSessionToken)
	}
	return credentials.NewStaticCredentialsProvider(id, secret, os.Getenv(envSessionToken)), nil
}

// ignoreConfiguredEndpoints reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS as the SDK does: unset or
// empty is false, "true"/"false" in any case, anything else an error.
func ignoreConfiguredEndpoints() (bool, error) {
	switch v := os.Getenv(envIgnoreEndpoints); {
	case v == "", strings.EqualFold(v, "false"):
		return false, nil
	case strings.EqualFold(v, "true"):
		return true, nil
	default:
		return false, fmt.Errorf("%s must be true or false", envIgnoreEndpoints)
	}
}

// serviceEndpointVar is the variable that overrides the endpoint of the service with SDK ID sdkID
// ("Secrets Manager" → AWS_ENDPOINT_URL_SECRETS_MANAGER), as the SDK names it.
func serviceEndpointVar(sdkID string) string {
	return envEndpointURL + "_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
}

// Endpoint is the endpoint the environment configures for the service with SDK ID sdkID, by the
// rules an SDK client built from Load's configuration follows: "" when
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, else AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL, else "" (the service's public endpoint). It is for calls made without an SDK
// client (the stream's Lambda invoke), so that they honour the same variables.
func Endpoint(sdkID string) (string, error) {
	ignore, err := ignoreConfiguredEndpoints()
	if err != nil || ignore {
		return "", err
	}
	if v := os.Getenv(serviceEndpointVar(sdkID)); v != "" {
		return v, nil
	}
	return os.Getenv(envEndpointURL), nil
}

// endpointSource is the entry of aws.Config.ConfigSources that gives the SDK's clients their
// service-specific endpoint. The clients find it by its methods (the interfaces of the SDK's
// internal/configsources, ServiceBaseEndpointProvider and IgnoreConfiguredEndpointsProvider), so
// it needs no import. A client's own resolveBaseEndpoint starts from cfg.BaseEndpoint
// (AWS_ENDPOINT_URL), keeps it when AWS_ENDPOINT_URL is set and AWS_ENDPOINT_URL_<SERVICE> is
// not, and otherwise asks this source; that gives the service-specific variable precedence.
type endpointSource struct {
	ignore bool // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
}

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SERVICE> for sdkID, read when the client is
// built, as the SDK's own environment source does.
func (s endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if s.ignore {
		return "", false, nil
	}
	v := os.Getenv(serviceEndpointVar(sdkID))
	return v, v != "", nil
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, which the clients
// check before asking for a service endpoint.
func (s endpointSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return s.ignore, s.ignore, nil
}
