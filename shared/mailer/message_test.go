package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/testkit/sesfake"
)

// secretBody stands for a body holding a verification code: it must never
// show up in an error or a formatted Message.
const secretBody = "Your verification code is 493817."

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// target is one Mailer implementation and a way to count what it sent.
type target struct {
	name   string
	mailer mailer.Mailer
	sent   func(t *testing.T) int
}

// targets returns both implementations, fresh, so that every rule is checked
// against each: the validation is shared, but each Send must call it.
func targets(t *testing.T) []target {
	t.Helper()
	box := mailer.NewOutbox(t.TempDir())
	fake := sesfake.Start(t)
	return []target{
		{name: "outbox", mailer: box, sent: func(t *testing.T) int {
			msgs, err := box.Messages()
			if err != nil {
				t.Fatal(err)
			}
			return len(msgs)
		}},
		{name: "ses", mailer: mailer.NewSES(fake.Client(t), "CryptoVault <no-reply@example.com>"),
			sent: func(*testing.T) int { return fake.Attempts() }},
	}
}

func TestSendValidatesMessage(t *testing.T) {
	valid := mailer.Message{To: "alice@example.com", Subject: "Verify your email", Text: secretBody}
	tests := []struct {
		name  string
		edit  func(*mailer.Message)
		valid bool
	}{
		{name: "valid", edit: func(*mailer.Message) {}, valid: true},
		{name: "non-ASCII subject and body", edit: func(m *mailer.Message) {
			m.Subject, m.Text = "Bestätigen Sie Ihre E-Mail", "Grüße — "+secretBody
		}, valid: true},
		{name: "empty recipient", edit: func(m *mailer.Message) { m.To = "" }},
		{name: "recipient header injection CRLF", edit: func(m *mailer.Message) { m.To = "alice@example.com\r\nBcc: evil@example.com" }},
		{name: "recipient header injection LF", edit: func(m *mailer.Message) { m.To = "alice@example.com\nBcc: evil@example.com" }},
		{name: "two recipients", edit: func(m *mailer.Message) { m.To = "alice@example.com, evil@example.com" }},
		{name: "recipient with display name", edit: func(m *mailer.Message) { m.To = "Alice <alice@example.com>" }},
		{name: "recipient with spaces", edit: func(m *mailer.Message) { m.To = " alice@example.com" }},
		{name: "recipient without domain", edit: func(m *mailer.Message) { m.To = "alice" }},
		{name: "recipient too long", edit: func(m *mailer.Message) { m.To = strings.Repeat("a", 250) + "@example.com" }},
		{name: "empty subject", edit: func(m *mailer.Message) { m.Subject = "" }},
		{name: "subject header injection CRLF", edit: func(m *mailer.Message) { m.Subject = "Hi\r\nBcc: evil@example.com" }},
		{name: "subject header injection LF", edit: func(m *mailer.Message) { m.Subject = "Hi\nBcc: evil@example.com" }},
		{name: "subject with NUL", edit: func(m *mailer.Message) { m.Subject = "Hi\x00" }},
		{name: "subject not UTF-8", edit: func(m *mailer.Message) { m.Subject = "Hi \xff" }},
		{name: "subject too long", edit: func(m *mailer.Message) { m.Subject = strings.Repeat("x", 501) }},
		{name: "empty body", edit: func(m *mailer.Message) { m.Text = "" }},
		{name: "body not UTF-8", edit: func(m *mailer.Message) { m.Text = secretBody + "\xff" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tg := range targets(t) {
				t.Run(tg.name, func(t *testing.T) {
					m := valid
					tt.edit(&m)
					err := tg.mailer.Send(ctxT(t), m)
					if tt.valid {
						if err != nil {
							t.Fatalf("Send: %v", err)
						}
						if n := tg.sent(t); n != 1 {
							t.Errorf("sent %d, want 1", n)
						}
						return
					}
					if !errors.Is(err, mailer.ErrInvalidMessage) {
						t.Fatalf("err = %v, want ErrInvalidMessage", err)
					}
					if strings.Contains(err.Error(), "493817") || strings.Contains(err.Error(), "evil@") {
						t.Errorf("error repeats the body or injected text: %v", err)
					}
					if n := tg.sent(t); n != 0 {
						t.Errorf("sent %d for an invalid message, want 0", n)
					}
				})
			}
		})
	}
}

// A Message that ends up in a log line or an error by accident still does
// not carry the code.
func TestMessageFormattingHidesBody(t *testing.T) {
	m := mailer.Message{To: "alice@example.com", Subject: "Verify your email", Text: secretBody}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("sending", "mail", m)

	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", m),
		"%+v":  fmt.Sprintf("%+v", m),
		"%#v":  fmt.Sprintf("%#v", m),
		"%s":   fmt.Sprintf("%s", m),
		"%d":   fmt.Sprintf("%d", m),
		"%x":   fmt.Sprintf("%x", m),
		"%q":   fmt.Sprintf("%q", m),
		"err":  fmt.Errorf("failed: %v", m).Error(),
		"ptr":  fmt.Sprintf("%v", &m),
		"slog": logged.String(),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, "493817") {
				t.Errorf("output contains the body: %s", out)
			}
			if !strings.Contains(out, "alice@example.com") {
				t.Errorf("output lacks the recipient: %s", out)
			}
		})
	}
}
