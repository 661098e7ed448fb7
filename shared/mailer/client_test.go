package mailer_test

import (
	"context"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/testkit/awstest"
	"github.com/cryptovault/serverless/shared/testkit/sesfake"
)

func TestNewSESClient(t *testing.T) {
	tests := []struct {
		name    string
		region  string
		envURL  bool // endpoint from AWS_ENDPOINT_URL_SESV2
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
			fake := sesfake.Start(t)
			endpoint := ""
			if tt.argURL {
				endpoint = fake.URL()
			}
			if tt.envURL {
				t.Setenv("AWS_ENDPOINT_URL_SESV2", fake.URL())
			}

			client, err := mailer.NewSESClient(context.Background(), endpoint)
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewSESClient succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = mailer.NewSES(client, "no-reply@example.com").Send(ctxT(t),
				mailer.Message{To: "alice@example.com", Subject: "Verify", Text: secretBody})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(fake.Messages()); n != 1 {
				t.Errorf("SES received %d messages, want 1", n)
			}
		})
	}
}

// A dead endpoint must fail fast (bounded attempts): a signup is waiting.
func TestNewSESClientFailsFastWhenDown(t *testing.T) {
	awstest.IsolateEnv(t, "us-east-1")
	fake := sesfake.Start(t)
	fake.SetDown(true)
	client, err := mailer.NewSESClient(context.Background(), fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = mailer.NewSES(client, "no-reply@example.com").Send(ctxT(t),
		mailer.Message{To: "alice@example.com", Subject: "Verify", Text: secretBody})
	if err == nil {
		t.Fatal("Send succeeded against a dead endpoint")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("failure took %v", elapsed)
	}
	if got := fake.Attempts(); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}
