package awsconfig_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/cryptovault/serverless/shared/platform/awsconfig"
)

// Values of the test environment. The secret and token are what the error messages must never
// quote.
const (
	testRegion = "eu-west-1"
	testKeyID  = "AKIDAWSCONFIGTEST"
	testSecret = "awsconfig-test-secret-value"
	testToken  = "awsconfig-test-session-token"
)

// unset is the value that removes a variable in setEnv (t.Setenv cannot unset, and the SDK's
// clients tell an unset AWS_ENDPOINT_URL from an empty one).
const unset = "\x00unset"

// setEnv gives Load a known environment: a region and static credentials, no endpoint variable,
// then vars on top. Every change is undone when the test ends.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	base := map[string]string{
		"AWS_REGION":                          testRegion,
		"AWS_DEFAULT_REGION":                  unset,
		"AWS_ACCESS_KEY_ID":                   testKeyID,
		"AWS_SECRET_ACCESS_KEY":               testSecret,
		"AWS_SESSION_TOKEN":                   unset,
		"AWS_ENDPOINT_URL":                    unset,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER":    unset,
		"AWS_ENDPOINT_URL_SESV2":              unset,
		"AWS_ENDPOINT_URL_LAMBDA":             unset,
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": unset,
	}
	for k, v := range vars {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, "") // records the original value for the cleanup
		if v == unset {
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Setenv(k, v)
	}
}

func TestLoadRegion(t *testing.T) {
	tests := []struct {
		name          string
		region, deflt string
		want          string
		wantErr       bool
	}{
		{name: "AWS_REGION", region: "eu-west-1", deflt: unset, want: "eu-west-1"},
		{name: "AWS_REGION wins", region: "eu-west-1", deflt: "us-east-1", want: "eu-west-1"},
		{name: "AWS_DEFAULT_REGION", region: unset, deflt: "us-east-1", want: "us-east-1"},
		{name: "empty AWS_REGION falls back", region: "", deflt: "us-east-1", want: "us-east-1"},
		{name: "missing", region: unset, deflt: unset, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, map[string]string{"AWS_REGION": tt.region, "AWS_DEFAULT_REGION": tt.deflt})
			cfg, err := awsconfig.Load(context.Background())
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
					t.Fatalf("err = %v, want one naming AWS_REGION", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.want {
				t.Errorf("Region = %q, want %q", cfg.Region, tt.want)
			}
		})
	}
}

func TestLoadCredentials(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    aws.Credentials // when no error
		wantErr string          // the error names the missing variables
	}{
		{
			name: "access key",
			want: aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		},
		{
			name: "with session token",
			vars: map[string]string{"AWS_SESSION_TOKEN": testToken},
			want: aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testToken},
		},
		{
			name:    "missing",
			vars:    map[string]string{"AWS_ACCESS_KEY_ID": unset, "AWS_SECRET_ACCESS_KEY": unset},
			wantErr: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set",
		},
		{
			name:    "key id without secret",
			vars:    map[string]string{"AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": testToken},
			wantErr: "(AWS_SECRET_ACCESS_KEY not set",
		},
		{
			name:    "secret without key id",
			vars:    map[string]string{"AWS_ACCESS_KEY_ID": unset, "AWS_SESSION_TOKEN": testToken},
			wantErr: "(AWS_ACCESS_KEY_ID not set",
		},
		{
			name:    "session token alone",
			vars:    map[string]string{"AWS_ACCESS_KEY_ID": unset, "AWS_SECRET_ACCESS_KEY": unset, "AWS_SESSION_TOKEN": testToken},
			wantErr: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.vars)
			cfg, err := awsconfig.Load(context.Background())
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("Load succeeded, want an error")
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.wantErr) {
					t.Errorf("err = %q, want it to contain %q", msg, tt.wantErr)
				}
				for _, secret := range []string{testKeyID, testSecret, testToken} {
					if strings.Contains(msg, secret) {
						t.Errorf("err = %q quotes a credential value", msg)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessKeyID != tt.want.AccessKeyID || got.SecretAccessKey != tt.want.SecretAccessKey ||
				got.SessionToken != tt.want.SessionToken || got.CanExpire {
				t.Errorf("credentials = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestLoadEndpoints checks the endpoint rules where they take effect: in the options of SDK
// clients built from the configuration (Secrets Manager and SES v2, the two the functions use),
// and in Endpoint for calls made without a client.
func TestLoadEndpoints(t *testing.T) {
	const (
		global   = "http://127.0.0.1:4000"
		sm       = "http://127.0.0.1:4001"
		lambdaEP = "http://127.0.0.1:4002"
	)
	tests := []struct {
		name                        string
		vars                        map[string]string
		wantBase                    string // cfg.BaseEndpoint; "" for nil
		wantSM, wantSES, wantLambda string // the clients' and Endpoint("Lambda")'s; "" = the public one
		wantErr                     bool
	}{
		{name: "none"},
		{
			name:     "global only",
			vars:     map[string]string{"AWS_ENDPOINT_URL": global},
			wantBase: global, wantSM: global, wantSES: global, wantLambda: global,
		},
		{
			name:   "service-specific only",
			vars:   map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm, "AWS_ENDPOINT_URL_LAMBDA": lambdaEP},
			wantSM: sm, wantLambda: lambdaEP,
		},
		{
			name:   "service-specific with an empty global",
			vars:   map[string]string{"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm},
			wantSM: sm,
		},
		{
			name: "both: the specific one wins",
			vars: map[string]string{
				"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm, "AWS_ENDPOINT_URL_LAMBDA": lambdaEP,
			},
			wantBase: global, wantSM: sm, wantSES: global, wantLambda: lambdaEP,
		},
		{
			name: "ignore flag",
			vars: map[string]string{
				"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm, "AWS_ENDPOINT_URL_LAMBDA": lambdaEP,
				"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE",
			},
		},
		{
			name: "ignore flag false",
			vars: map[string]string{
				"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm,
				"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false",
			},
			wantBase: global, wantSM: sm, wantSES: global, wantLambda: global,
		},
		{
			name:    "bad ignore flag",
			vars:    map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"},
			wantErr: true,
		},
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.vars)
			cfg, err := awsconfig.Load(context.Background())
			lambdaGot, lambdaErr := awsconfig.Endpoint("Lambda")
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
					t.Errorf("Load: err = %v, want one naming the variable", err)
				}
				if lambdaErr == nil {
					t.Error("Endpoint succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lambdaErr != nil {
				t.Fatal(lambdaErr)
			}
			if got := deref(cfg.BaseEndpoint); got != tt.wantBase {
				t.Errorf("cfg.BaseEndpoint = %q, want %q", got, tt.wantBase)
			}
			if got := deref(secretsmanager.NewFromConfig(cfg).Options().BaseEndpoint); got != tt.wantSM {
				t.Errorf("Secrets Manager endpoint = %q, want %q", got, tt.wantSM)
			}
			if got := deref(sesv2.NewFromConfig(cfg).Options().BaseEndpoint); got != tt.wantSES {
				t.Errorf("SES v2 endpoint = %q, want %q", got, tt.wantSES)
			}
			if lambdaGot != tt.wantLambda {
				t.Errorf(`Endpoint("Lambda") = %q, want %q`, lambdaGot, tt.wantLambda)
			}
		})
	}
}

// TestSecretsManagerClientReachesConfiguredEndpoint: a real Secrets Manager client built from
// Load's configuration sends its request to AWS_ENDPOINT_URL_SECRETS_MANAGER (not to
// AWS_ENDPOINT_URL, which points at a closed port), signed with the environment's credentials.
func TestSecretsManagerClientReachesConfiguredEndpoint(t *testing.T) {
	var (
		mu  sync.Mutex
		got []*http.Request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"Name": "db", "SecretString": "value"})
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	setEnv(t, map[string]string{
		"AWS_SESSION_TOKEN":                testToken,
		"AWS_ENDPOINT_URL":                 closed.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
	})

	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(),
		&secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(out.SecretString) != "value" {
		t.Errorf("SecretString = %q", aws.ToString(out.SecretString))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the endpoint received %d requests, want 1", len(got))
	}
	r := got[0]
	if target := r.Header.Get("X-Amz-Target"); target != "secretsmanager.GetSecretValue" {
		t.Errorf("X-Amz-Target = %q", target)
	}
	auth := r.Header.Get("Authorization")
	if !strings.Contains(auth, "Credential="+testKeyID+"/") || !strings.Contains(auth, "/"+testRegion+"/secretsmanager/aws4_request") {
		t.Errorf("Authorization = %q, want a SigV4 signature by %s for %s/secretsmanager", auth, testKeyID, testRegion)
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != testToken {
		t.Errorf("X-Amz-Security-Token = %q, want the session token", tok)
	}
}
