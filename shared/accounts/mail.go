package accounts

import (
	"context"
	"fmt"

	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/platform/app"
)

// newMailer builds the configured mailer (MAILER): Amazon SES, or the outbox folder. It lives
// here, not in app, because the auth function is the only one that sends mail: the SES client
// (about 1 MiB of binary) is linked into its bootstrap alone.
func newMailer(ctx context.Context, d *app.Deps) (mailer.Mailer, error) {
	if d.Config.Mailer != "ses" {
		return mailer.NewOutbox(d.OutboxDir()), nil
	}
	client, err := mailer.NewSESClient(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("ses client: %w", err)
	}
	return mailer.NewSES(client, d.Config.SESFrom), nil
}
