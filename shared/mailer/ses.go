package mailer

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SESAPI is the part of the SES v2 client that SES uses. It is an interface
// so that callers can decorate the client (tracing, metrics); it is satisfied
// by *sesv2.Client.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

var _ SESAPI = (*sesv2.Client)(nil)

// charsetUTF8 is declared on both subject and body: without it SES assumes
// 7-bit ASCII and mangles any other character.
const charsetUTF8 = "UTF-8"

// SES is the Mailer used in AWS: it sends each message with Amazon SES v2
// SendEmail as Simple content (a UTF-8 subject and plain-text body; SES
// builds the MIME message). The sender must be an identity verified in SES.
type SES struct {
	api     SESAPI
	from    string
	fromErr error
}

// NewSES returns a Mailer sending through api from the address from, which
// may carry a display name ("CryptoVault <no-reply@example.com>"). A from
// address that is not a single valid address makes every Send fail with an
// error wrapping [ErrInvalidMessage]; configuration validation
// (SES_FROM) is expected to catch it at startup.
func NewSES(api SESAPI, from string) *SES {
	s := &SES{api: api, from: from}
	if err := checkAddress(from, true); err != nil {
		s.fromErr = fmt.Errorf("%w: sender: %v", ErrInvalidMessage, err)
	}
	return s
}

// Send sends m with one SendEmail call. Network errors and throttling are
// retried by the SDK client (see [NewSESClient]). A returned error wraps the
// SDK's, so callers can inspect it with errors.As (for example
// *types.MessageRejected); it never contains the body.
func (s *SES) Send(ctx context.Context, m Message) error {
	if s.fromErr != nil {
		return s.fromErr
	}
	if err := m.validate(); err != nil {
		return err
	}
	_, err := s.api.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String(charsetUTF8)},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String(charsetUTF8)},
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("mailer: SES SendEmail: %w", err)
	}
	return nil
}
