package mailer_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/testkit/sesfake"
)

// What SES receives, through the real SDK client, for our messages.
func TestSESSend(t *testing.T) {
	tests := []struct {
		name string
		from string
		msg  mailer.Message
	}{
		{"plain", "no-reply@example.com", mailer.Message{To: "alice@example.com", Subject: "Verify your email", Text: secretBody}},
		{"display name sender, non-ASCII", "CryptoVault <no-reply@example.com>",
			mailer.Message{To: "zoë@example.com", Subject: "Bestätigung ✓", Text: "Grüße\n" + secretBody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sesfake.Start(t)
			if err := mailer.NewSES(fake.Client(t), tt.from).Send(ctxT(t), tt.msg); err != nil {
				t.Fatal(err)
			}
			got := fake.Messages()
			if len(got) != 1 {
				t.Fatalf("SES received %d messages, want 1", len(got))
			}
			m := got[0]
			if m.From != tt.from || !slices.Equal(m.To, []string{tt.msg.To}) || m.Cc != nil || m.Bcc != nil {
				t.Errorf("envelope = from %q to %q cc %q bcc %q", m.From, m.To, m.Cc, m.Bcc)
			}
			if m.Subject != tt.msg.Subject || m.Text != tt.msg.Text || m.HTML != "" {
				t.Errorf("content = %q / %q / html %q", m.Subject, m.Text, m.HTML)
			}
			// Without an explicit charset SES assumes ASCII.
			if m.SubjectCharset != "UTF-8" || m.TextCharset != "UTF-8" {
				t.Errorf("charsets = %q, %q; want UTF-8", m.SubjectCharset, m.TextCharset)
			}
		})
	}
}

// SES failures reach the caller as the SDK's typed errors, wrapped, without
// the body; retryable ones are retried once.
func TestSESSendFailures(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(*sesfake.Server)
		check        func(error) bool
		wantAttempts int
	}{
		{
			name:         "message rejected",
			setup:        func(s *sesfake.Server) { s.SetFailure(400, "MessageRejected") },
			check:        func(err error) bool { var e *types.MessageRejected; return errors.As(err, &e) },
			wantAttempts: 1,
		},
		{
			name:         "throttled",
			setup:        func(s *sesfake.Server) { s.SetFailure(429, "TooManyRequestsException") },
			check:        func(err error) bool { var e *types.TooManyRequestsException; return errors.As(err, &e) },
			wantAttempts: 2,
		},
		{
			name:  "endpoint down",
			setup: func(s *sesfake.Server) { s.SetDown(true) },
			check: func(err error) bool {
				var e smithy.APIError
				return err != nil && !errors.As(err, &e)
			},
			wantAttempts: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sesfake.Start(t)
			tt.setup(fake)
			err := mailer.NewSES(fake.Client(t), "no-reply@example.com").Send(ctxT(t),
				mailer.Message{To: "alice@example.com", Subject: "Verify", Text: secretBody})
			if !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
			if errors.Is(err, mailer.ErrInvalidMessage) {
				t.Error("a delivery failure is reported as an invalid message")
			}
			if !strings.HasPrefix(err.Error(), "mailer: ") || strings.Contains(err.Error(), "493817") {
				t.Errorf("err = %v; want a mailer error without the body", err)
			}
			if got := fake.Attempts(); got != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tt.wantAttempts)
			}
		})
	}
}

// A bad sender is refused before SES is called.
func TestSESInvalidSender(t *testing.T) {
	for _, from := range []string{"", "not an address", "a@example.com, b@example.com", "no-reply@example.com\r\nBcc: evil@example.com"} {
		t.Run(from, func(t *testing.T) {
			fake := sesfake.Start(t)
			err := mailer.NewSES(fake.Client(t), from).Send(ctxT(t),
				mailer.Message{To: "alice@example.com", Subject: "Verify", Text: secretBody})
			if !errors.Is(err, mailer.ErrInvalidMessage) {
				t.Fatalf("err = %v, want ErrInvalidMessage", err)
			}
			if fake.Attempts() != 0 {
				t.Error("SES was called")
			}
		})
	}
}
