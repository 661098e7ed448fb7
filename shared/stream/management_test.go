package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/wsfake"
)

// TestManagementAPIPoster: only management endpoint URLs get a Poster; a post is bounded to API
// Gateway's message size before any request; a 410 is ErrGone; a missing region or credentials
// fail the call instead of sending it unsigned.
func TestManagementAPIPoster(t *testing.T) {
	fake := wsfake.Start(t)
	fake.Connect("live")
	api := managementAPI(fake, 2)
	for _, tt := range []struct {
		endpoint string
		ok       bool
	}{
		{"https://abc123.execute-api.eu-west-1.amazonaws.com/dev", true},
		{fake.Endpoint(), true},
		{"ftp://abc123/dev", false},
		{"https:///dev", false},
		{"https://abc123/dev?x=1", false},
		{"https://user:pw@abc123/dev", false},
		{"not a url at all", false},
	} {
		if _, err := api.Poster(tt.endpoint); (err == nil) != tt.ok {
			t.Errorf("Poster(%q): err %v, want ok %v", tt.endpoint, err, tt.ok)
		}
	}

	p, err := api.Poster(fake.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	tests := []struct {
		name, id string
		size     int
		wantErr  error // nil: delivered
		anyErr   bool
	}{
		{"delivered", "live", 10, nil, false},
		{"gone", "left", 10, stream.ErrGone, false},
		{"malformed id", "has space", 10, stream.ErrGone, false},
		{"too large", "live", stream.MaxPostBytes + 1, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.Requests()
			err := p.PostToConnection(ctx, tt.id, []byte(strings.Repeat("x", tt.size)))
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && (err != nil) != tt.anyErr:
				t.Errorf("err %v", err)
			}
			if tt.anyErr && fake.Requests() != before {
				t.Error("an oversize message was sent")
			}
		})
	}

	noRegion := stream.NewManagementAPI(func(context.Context) (aws.Config, error) {
		cfg := fake.Config()
		cfg.Region = ""
		return cfg, nil
	}, 1)
	p2, _ := noRegion.Poster(fake.Endpoint())
	if err := p2.PostToConnection(ctx, "live", []byte("x")); err == nil || errors.Is(err, stream.ErrGone) {
		t.Errorf("post without a region: %v", err)
	}
}
