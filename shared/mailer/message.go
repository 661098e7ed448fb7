package mailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mailer sends one message. Implementations are safe for concurrent use.
type Mailer interface {
	// Send delivers m, or returns an error saying why not. An invalid message
	// is refused before anything is sent, with an error wrapping
	// [ErrInvalidMessage].
	Send(ctx context.Context, m Message) error
}

// Message is a plain-text email to one recipient.
//
// Text usually holds a secret (a verification code), so Message does not
// print it: every fmt verb and slog show only To, Subject and the body's
// length.
type Message struct {
	// To is a single bare address ("alice@example.com"), no display name.
	To string
	// Subject is one line of UTF-8 text.
	Subject string
	// Text is the UTF-8 plain-text body.
	Text string
}

// ErrInvalidMessage is wrapped by the error a Mailer returns for a message it
// refuses to send (a bad recipient, a subject with a line break, no body).
// Such an error is a bug or hostile input, not a delivery failure, and is not
// worth retrying.
var ErrInvalidMessage = errors.New("mailer: invalid message")

// maxAddressLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxAddressLen = 254

// maxSubjectLen bounds the subject; ours are a few words.
const maxSubjectLen = 500

// String describes the message without its body.
func (m Message) String() string {
	return fmt.Sprintf("mail to %q subject %q (%d-byte body)", m.To, m.Subject, len(m.Text))
}

// Format prints String for every verb (%v, %+v, %#v, %d, ...), so that no
// verb falls back to printing the fields, Text included.
func (m Message) Format(f fmt.State, _ rune) { io.WriteString(f, m.String()) }

// LogValue logs the message without its body.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", m.To), slog.String("subject", m.Subject))
}

// validate checks what every Mailer requires of a message. Errors name the
// field and the problem, never the body.
func (m Message) validate() error {
	if err := checkAddress(m.To, false); err != nil {
		return fmt.Errorf("%w: recipient: %v", ErrInvalidMessage, err)
	}
	switch {
	case m.Subject == "":
		return fmt.Errorf("%w: subject is empty", ErrInvalidMessage)
	case len(m.Subject) > maxSubjectLen:
		return fmt.Errorf("%w: subject is longer than %d bytes", ErrInvalidMessage, maxSubjectLen)
	case !utf8.ValidString(m.Subject):
		return fmt.Errorf("%w: subject is not valid UTF-8", ErrInvalidMessage)
	case hasControl(m.Subject):
		// CR and LF would end the Subject header and start another one.
		return fmt.Errorf("%w: subject contains a line break or control character", ErrInvalidMessage)
	case m.Text == "":
		return fmt.Errorf("%w: body is empty", ErrInvalidMessage)
	case !utf8.ValidString(m.Text):
		return fmt.Errorf("%w: body is not valid UTF-8", ErrInvalidMessage)
	}
	return nil
}

// checkAddress accepts exactly one address. A recipient must be bare
// ("a@example.com"); a sender may carry a display name ("CryptoVault
// <no-reply@example.com>"), as SES allows. The reasons it gives do not repeat
// the address, which may hold injected header text.
func checkAddress(a string, displayName bool) error {
	switch {
	case a == "":
		return errors.New("empty address")
	case len(a) > maxAddressLen:
		return fmt.Errorf("address longer than %d bytes", maxAddressLen)
	case hasControl(a):
		// CR/LF is header injection ("a@x\r\nBcc: ..."); no control
		// character belongs in an address.
		return errors.New("address contains a line break or control character")
	}
	// ParseAddress refuses lists ("a@x, b@y") and malformed addresses.
	parsed, err := mail.ParseAddress(a)
	if err != nil {
		return errors.New("not a single valid email address")
	}
	if !displayName && (parsed.Name != "" || parsed.Address != a) {
		return errors.New("not a bare email address")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
