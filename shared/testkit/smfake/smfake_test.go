package smfake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/cryptovault/serverless/shared/testkit/smfake"
)

func get(t *testing.T, c *secretsmanager.Client, id, stage string) (*secretsmanager.GetSecretValueOutput, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	return c.GetSecretValue(ctx, in)
}

func TestGetSecretValueStages(t *testing.T) {
	s := smfake.Start(t)
	c := s.Client(t)
	v1 := s.Put("app/jwt", "one")
	v2 := s.Put("app/jwt", "two")

	tests := []struct {
		name, id, stage string
		want, wantVer   string
		notFound        bool
	}{
		{name: "default stage is current", id: "app/jwt", want: "two", wantVer: v2},
		{name: "current", id: "app/jwt", stage: smfake.StageCurrent, want: "two", wantVer: v2},
		{name: "previous", id: "app/jwt", stage: smfake.StagePrevious, want: "one", wantVer: v1},
		{name: "unknown stage", id: "app/jwt", stage: "AWSPENDING", notFound: true},
		{name: "unknown secret", id: "nope", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := get(t, c, tt.id, tt.stage)
			if tt.notFound {
				var rnf *types.ResourceNotFoundException
				if !errors.As(err, &rnf) {
					t.Fatalf("err = %v, want *types.ResourceNotFoundException", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.SecretString); got != tt.want {
				t.Errorf("SecretString = %q, want %q", got, tt.want)
			}
			if got := aws.ToString(out.VersionId); got != tt.wantVer {
				t.Errorf("VersionId = %q, want %q", got, tt.wantVer)
			}
			if out.CreatedDate == nil || time.Since(*out.CreatedDate) > time.Minute {
				t.Errorf("CreatedDate = %v, want about now", out.CreatedDate)
			}
		})
	}

	// The ARN works as SecretId too.
	out, err := get(t, c, "app/jwt", "")
	if err != nil {
		t.Fatal(err)
	}
	byARN, err := get(t, c, aws.ToString(out.ARN), smfake.StagePrevious)
	if err != nil || aws.ToString(byARN.SecretString) != "one" {
		t.Fatalf("by ARN: %v, %v", byARN, err)
	}
	if got := s.Calls(); got != len(tests)+2 {
		t.Errorf("Calls() = %d, want %d", got, len(tests)+2)
	}
}

func TestPutSecretValueRotates(t *testing.T) {
	s := smfake.Start(t)
	c := s.Client(t)
	s.Put("db", "v1")

	put, err := c.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("db"), SecretString: aws.String("v2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(put.VersionStages) != 1 || put.VersionStages[0] != smfake.StageCurrent {
		t.Errorf("VersionStages = %v, want [AWSCURRENT]", put.VersionStages)
	}
	s.Put("db", "v3")
	for stage, want := range map[string]string{smfake.StageCurrent: "v3", smfake.StagePrevious: "v2"} {
		out, err := get(t, c, "db", stage)
		if err != nil || aws.ToString(out.SecretString) != want {
			t.Errorf("%s = %v, %v; want %q", stage, out, err, want)
		}
	}

	_, err = c.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("missing"), SecretString: aws.String("x"),
	})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("PutSecretValue on a missing secret: err = %v, want ResourceNotFoundException", err)
	}
}

func TestDown(t *testing.T) {
	s := smfake.Start(t)
	c := s.Client(t)
	s.Put("k", "v")
	s.SetDown(true)

	_, err := get(t, c, "k", "")
	var apiErr smithy.APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a network error", err)
	}
	if got := s.Calls(); got != 0 {
		t.Errorf("Calls() = %d while down, want 0", got)
	}
	if got := s.Attempts(); got != 2 {
		t.Errorf("Attempts() = %d, want 2 (the client's bounded retries)", got)
	}

	s.SetDown(false)
	if out, err := get(t, c, "k", ""); err != nil || aws.ToString(out.SecretString) != "v" {
		t.Fatalf("after recovery: %v, %v", out, err)
	}
}

func TestSetFailure(t *testing.T) {
	s := smfake.Start(t)
	c := s.Client(t)
	s.Put("k", "v")

	tests := []struct {
		errType string
		status  int
		check   func(error) bool
	}{
		{"AccessDeniedException", 400, func(err error) bool {
			var e smithy.APIError
			return errors.As(err, &e) && e.ErrorCode() == "AccessDeniedException"
		}},
		{"InternalServiceError", 500, func(err error) bool {
			var e *types.InternalServiceError
			return errors.As(err, &e)
		}},
		{"DecryptionFailure", 400, func(err error) bool {
			var e *types.DecryptionFailure
			return errors.As(err, &e)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.errType, func(t *testing.T) {
			s.SetFailure(tt.errType, tt.status)
			_, err := get(t, c, "k", "")
			if !tt.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
		})
	}
	s.SetFailure("", 0)
	if _, err := get(t, c, "k", ""); err != nil {
		t.Fatal(err)
	}
}

func TestHold(t *testing.T) {
	s := smfake.Start(t)
	c := s.Client(t)
	s.Put("k", "v")
	s.Hold()

	done := make(chan error, 1)
	go func() {
		_, err := get(t, c, "k", "")
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Attempts() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("request finished while held: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	s.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
