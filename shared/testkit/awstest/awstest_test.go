package awstest_test

import (
	"context"
	"os"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/awsconfig"
	"github.com/cryptovault/serverless/shared/testkit/awstest"
)

// TestIsolateEnv: whatever the developer's shell sets, awsconfig sees the test's region, the fake
// credentials and no endpoint override.
func TestIsolateEnv(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_SOME_SERVICE", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_SESSION_TOKEN", "developer-token")
	t.Setenv("AWS_DEFAULT_REGION", "ap-south-1")

	awstest.IsolateEnv(t, "eu-west-1")

	for _, name := range []string{"AWS_ENDPOINT_URL_SOME_SERVICE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"} {
		if v := os.Getenv(name); v != "" {
			t.Errorf("%s = %q after IsolateEnv, want empty", name, v)
		}
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.BaseEndpoint != nil || creds.AccessKeyID != "AKIDTEST" || creds.SessionToken != "" {
		t.Errorf("config = region %q, endpoint %v, key %q, token set %v", cfg.Region, cfg.BaseEndpoint, creds.AccessKeyID, creds.SessionToken != "")
	}
	if ep, err := awsconfig.Endpoint("Some Service"); err != nil || ep != "" {
		t.Errorf("endpoint of Some Service = %q, %v; want none", ep, err)
	}
}
