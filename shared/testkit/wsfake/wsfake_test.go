package wsfake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cryptovault/serverless/shared/testkit/wsfake"
)

// call sends one request signed with creds for service in region.
func call(t *testing.T, method, target string, body []byte, creds aws.Credentials, service, region string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if service != "" {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(raw)
}

func TestManagementAPI(t *testing.T) {
	fake := wsfake.Start(t)
	fake.Connect("live/+=", "to-delete")
	good, _ := fake.Config().Credentials.Retrieve(context.Background())
	wrong := aws.Credentials{AccessKeyID: wsfake.AccessKeyID, SecretAccessKey: "not-the-key"}
	at := func(id string) string { return fake.Endpoint() + "/@connections/" + url.PathEscape(id) }
	tests := []struct {
		name, method, target string
		body                 string
		creds                aws.Credentials
		service, region      string
		status               int
		errType              string
	}{
		{"post to a live connection (escaped id)", "POST", at("live/+="), `{"type":"pong"}`, good, "execute-api", wsfake.Region, 200, ""},
		{"post to an unknown connection", "POST", at("nobody"), `x`, good, "execute-api", wsfake.Region, 410, "GoneException"},
		{"get a live connection", "GET", at("live/+="), ``, good, "execute-api", wsfake.Region, 200, ""},
		{"delete a live connection", "DELETE", at("to-delete"), ``, good, "execute-api", wsfake.Region, 204, ""},
		{"post after delete", "POST", at("to-delete"), `x`, good, "execute-api", wsfake.Region, 410, "GoneException"},
		{"unsigned", "POST", at("live/+="), `x`, good, "", "", 403, "ForbiddenException"},
		{"wrong secret", "POST", at("live/+="), `x`, wrong, "execute-api", wsfake.Region, 403, "ForbiddenException"},
		{"signed for another service", "POST", at("live/+="), `x`, good, "lambda", wsfake.Region, 403, "ForbiddenException"},
		{"signed for another region", "POST", at("live/+="), `x`, good, "execute-api", "eu-west-1", 403, "ForbiddenException"},
		{"over 128 KB", "POST", at("live/+="), strings.Repeat("x", 128<<10+1), good, "execute-api", wsfake.Region, 413, "PayloadTooLargeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, errType, body := call(t, tt.method, tt.target, []byte(tt.body), tt.creds, tt.service, tt.region)
			if status != tt.status || errType != tt.errType {
				t.Errorf("%d %q (%s), want %d %q", status, errType, body, tt.status, tt.errType)
			}
		})
	}
	if got := fake.Messages("live/+="); len(got) != 1 || string(got[0]) != `{"type":"pong"}` {
		t.Errorf("messages %q", got)
	}
	if fake.Posts() != 1 || fake.Live("to-delete") {
		t.Errorf("posts %d, to-delete live %v", fake.Posts(), fake.Live("to-delete"))
	}
}

func TestFailureInjection(t *testing.T) {
	fake := wsfake.Start(t)
	fake.Connect("c")
	creds, _ := fake.Config().Credentials.Retrieve(context.Background())
	target := fake.Endpoint() + "/@connections/c"
	fake.SetFailure(http.StatusTooManyRequests, "LimitExceededException", 2)
	for i, want := range []int{429, 429, 200} {
		if status, _, _ := call(t, "POST", target, []byte("x"), creds, "execute-api", wsfake.Region); status != want {
			t.Errorf("request %d: %d, want %d", i, status, want)
		}
	}
	fake.SetLatency(50 * time.Millisecond)
	start := time.Now()
	call(t, "POST", target, []byte("x"), creds, "execute-api", wsfake.Region)
	if time.Since(start) < 50*time.Millisecond {
		t.Error("latency not applied")
	}
	if fake.Requests() != 4 || fake.MaxInFlight() != 1 {
		t.Errorf("requests %d, max in flight %d", fake.Requests(), fake.MaxInFlight())
	}
}
