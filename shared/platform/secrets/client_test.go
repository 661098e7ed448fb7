package secrets_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/awstest"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
)

func TestNewClient(t *testing.T) {
	tests := []struct {
		name    string
		region  string
		envURL  bool // endpoint from AWS_ENDPOINT_URL_SECRETS_MANAGER
		argURL  bool // endpoint from the argument
		wantErr bool
	}{
		{name: "explicit endpoint", region: "us-east-1", argURL: true},
		{name: "endpoint from environment", region: "eu-west-1", envURL: true},
		{name: "no region", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			awstest.IsolateEnv(t, tt.region)
			srv := smfake.Start(t)
			srv.Put("db", dbValue)
			endpoint := ""
			if tt.argURL {
				endpoint = srv.URL()
			}
			if tt.envURL {
				t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL())
			}

			client, err := secrets.NewClient(context.Background(), endpoint)
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewClient succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cache := secrets.NewCache(client, secrets.CacheOptions{})
			if got, err := cache.Value(ctxT(t), "db", ""); err != nil || got != dbValue {
				t.Fatalf("Value = %q, %v", got, err)
			}
		})
	}
}

// A dead endpoint must fail fast (bounded attempts), not eat the init budget.
func TestNewClientFailsFastWhenDown(t *testing.T) {
	awstest.IsolateEnv(t, "us-east-1")
	srv := smfake.Start(t)
	srv.Put("db", dbValue)
	srv.SetDown(true)
	client, err := secrets.NewClient(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = secrets.NewCache(client, secrets.CacheOptions{}).Value(ctxT(t), "db", "")
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("failure took %v", elapsed)
	}
	if got := srv.Attempts(); got != 2 {
		t.Errorf("Attempts() = %d, want 2", got)
	}
}
