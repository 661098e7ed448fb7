package sesfake_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/cryptovault/serverless/shared/testkit/sesfake"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func simpleInput(from string, to []string, subject, text string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &types.Destination{ToAddresses: to},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(subject), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(text), Charset: aws.String("UTF-8")}},
		}},
	}
}

func TestSendEmailIsRecorded(t *testing.T) {
	s := sesfake.Start(t)
	c := s.Client(t)
	in := simpleInput("CryptoVault <no-reply@example.com>", []string{"alice@example.com"}, "Grüße", "line 1\nline 2")
	in.Destination.CcAddresses = []string{"bob@example.com"}
	in.Content.Simple.Body.Html = &types.Content{Data: aws.String("<p>hi</p>")}

	out, err := c.SendEmail(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("recorded %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if got := aws.ToString(out.MessageId); got == "" || got != m.ID {
		t.Errorf("MessageId = %q, recorded ID %q", got, m.ID)
	}
	want := sesfake.Message{
		ID: m.ID, From: "CryptoVault <no-reply@example.com>",
		To: []string{"alice@example.com"}, Cc: []string{"bob@example.com"},
		Subject: "Grüße", SubjectCharset: "UTF-8",
		Text: "line 1\nline 2", TextCharset: "UTF-8", HTML: "<p>hi</p>",
	}
	if m.From != want.From || !slices.Equal(m.To, want.To) || !slices.Equal(m.Cc, want.Cc) || m.Bcc != nil ||
		m.Subject != want.Subject || m.SubjectCharset != want.SubjectCharset ||
		m.Text != want.Text || m.TextCharset != want.TextCharset || m.HTML != want.HTML || m.HTMLCharset != "" {
		t.Errorf("recorded %+v\nwant     %+v", m, want)
	}
	if s.Attempts() != 1 {
		t.Errorf("Attempts() = %d, want 1", s.Attempts())
	}
}

// Injected failures decode into the SDK's modelled error types, and the
// retryable ones are retried by the SDK (two attempts with Client).
func TestSetFailure(t *testing.T) {
	tests := []struct {
		status       int
		errType      string
		as           func(error) bool
		wantAttempts int
	}{
		{400, "MessageRejected", func(err error) bool { var e *types.MessageRejected; return errors.As(err, &e) }, 1},
		{400, "SendingPausedException", func(err error) bool { var e *types.SendingPausedException; return errors.As(err, &e) }, 1},
		{400, "MailFromDomainNotVerifiedException", func(err error) bool { var e *types.MailFromDomainNotVerifiedException; return errors.As(err, &e) }, 1},
		{429, "TooManyRequestsException", func(err error) bool { var e *types.TooManyRequestsException; return errors.As(err, &e) }, 2},
		{500, "InternalFailure", func(err error) bool {
			var e smithy.APIError
			return errors.As(err, &e) && e.ErrorCode() == "InternalFailure"
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.errType, func(t *testing.T) {
			s := sesfake.Start(t)
			s.SetFailure(tt.status, tt.errType)
			_, err := s.Client(t).SendEmail(ctxT(t), simpleInput("a@example.com", []string{"b@example.com"}, "s", "t"))
			if !tt.as(err) {
				t.Fatalf("err = %v, want a %s", err, tt.errType)
			}
			if got := s.Attempts(); got != tt.wantAttempts {
				t.Errorf("Attempts() = %d, want %d", got, tt.wantAttempts)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("recorded %d messages during a failure", n)
			}

			s.SetFailure(0, "")
			if _, err := s.Client(t).SendEmail(ctxT(t), simpleInput("a@example.com", []string{"b@example.com"}, "s", "t")); err != nil {
				t.Errorf("after clearing the failure: %v", err)
			}
		})
	}
}

// Requests SES would refuse are refused with BadRequestException.
func TestSendEmailBadRequest(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = "r@example.com"
	}
	tests := []struct {
		name string
		edit func(*sesv2.SendEmailInput)
	}{
		{"no sender", func(in *sesv2.SendEmailInput) { in.FromEmailAddress = nil }},
		{"no destination", func(in *sesv2.SendEmailInput) { in.Destination = nil }},
		{"no recipients", func(in *sesv2.SendEmailInput) { in.Destination.ToAddresses = nil }},
		{"too many recipients", func(in *sesv2.SendEmailInput) { in.Destination.ToAddresses = many }},
		{"header injection in recipient", func(in *sesv2.SendEmailInput) {
			in.Destination.ToAddresses = []string{"b@example.com\r\nBcc: x@example.com"}
		}},
		{"header injection in subject", func(in *sesv2.SendEmailInput) {
			in.Content.Simple.Subject.Data = aws.String("hi\r\nBcc: x@example.com")
		}},
		{"no body", func(in *sesv2.SendEmailInput) { in.Content.Simple.Body = &types.Body{} }},
		{"raw content", func(in *sesv2.SendEmailInput) {
			in.Content = &types.EmailContent{Raw: &types.RawMessage{Data: []byte("To: b@example.com\r\n\r\nhi")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sesfake.Start(t)
			in := simpleInput("a@example.com", []string{"b@example.com"}, "s", "t")
			tt.edit(in)
			_, err := s.Client(t).SendEmail(ctxT(t), in)
			var bad *types.BadRequestException
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want *types.BadRequestException", err)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("recorded %d messages", n)
			}
		})
	}
}

func TestSetDown(t *testing.T) {
	s := sesfake.Start(t)
	c := s.Client(t)
	in := simpleInput("a@example.com", []string{"b@example.com"}, "s", "t")

	s.SetDown(true)
	_, err := c.SendEmail(ctxT(t), in)
	var apiErr smithy.APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a network error", err)
	}
	if got := s.Attempts(); got != 2 {
		t.Errorf("Attempts() = %d, want 2 (the SDK retries a dropped connection once)", got)
	}

	s.SetDown(false)
	if _, err := c.SendEmail(ctxT(t), in); err != nil {
		t.Fatalf("after coming back up: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("recorded %d messages, want 1", n)
	}
}

// The fake insists on what the real endpoint insists on, so a client that
// is misconfigured (unsigned, wrong operation) fails here as it would in AWS.
func TestRawRequestsRefused(t *testing.T) {
	s := sesfake.Start(t)
	tests := []struct {
		name, method, path, auth string
		wantStatus               int
		wantType                 string
	}{
		{"unsigned", http.MethodPost, "/v2/email/outbound-emails", "", http.StatusForbidden, "MissingAuthenticationTokenException"},
		{"signed for another service", http.MethodPost, "/v2/email/outbound-emails",
			"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
			http.StatusForbidden, "InvalidSignatureException"},
		{"unknown operation", http.MethodGet, "/v2/email/identities", "", http.StatusNotFound, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctxT(t), tt.method, s.URL()+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tt.wantStatus, tt.wantType)
			}
		})
	}
}
