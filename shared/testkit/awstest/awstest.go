// Package awstest holds what tests of AWS clients share: a real SDK configuration pointed at a
// local endpoint (the fakes in shared/testkit speak the services' protocols), and an environment
// in which awsconfig.Load sees nothing of the developer's machine.
package awstest

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region of Config and IsolateEnv's default.
const Region = "us-east-1"

// Config is an SDK configuration for a client of a local endpoint: static credentials (requests
// are still SigV4-signed, so a fake can check them), Region, and at most two attempts with a
// tiny backoff so that failure tests stay fast. Build a client with <service>.NewFromConfig.
func Config(endpoint, accessKeyID, secretAccessKey string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   awshttp.NewBuildableClient().WithTimeout(5 * time.Second),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 2
				o.MaxBackoff = 10 * time.Millisecond
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// IsolateEnv gives awsconfig.Load a predictable environment for the rest of the test: region
// (empty for none), fake static credentials, and no endpoint override of any service — every
// AWS_ENDPOINT_URL* variable of the developer's environment is cleared.
func IsolateEnv(t testing.TB, region string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_ENDPOINT_URL") {
			t.Setenv(name, "")
		}
	}
	for k, v := range map[string]string{
		"AWS_REGION":                          region,
		"AWS_DEFAULT_REGION":                  "",
		"AWS_ACCESS_KEY_ID":                   "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY":               "test-secret-key",
		"AWS_SESSION_TOKEN":                   "",
		"AWS_ENDPOINT_URL":                    "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
	} {
		t.Setenv(k, v)
	}
}
