package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cryptovault/serverless/shared/mailer"
)

type mailOnce struct {
	once sync.Once
	m    mailer.Mailer
	err  error
}

// Mailer returns the configured mailer (MAILER): the outbox folder, or Amazon SES, built on first
// use so only the function that sends mail pays for the SES client.
func (d *Deps) Mailer(ctx context.Context) (mailer.Mailer, error) {
	d.mail.once.Do(func() {
		switch d.Config.Mailer {
		case "ses":
			client, err := mailer.NewSESClient(ctx, "")
			if err != nil {
				d.mail.err = fmt.Errorf("ses client: %w", err)
				return
			}
			d.mail.m = mailer.NewSES(client, d.Config.SESFrom)
		default:
			dir := d.outboxDir
			if dir == "" {
				dir = filepath.Join(os.TempDir(), "cryptovault-outbox")
			}
			d.mail.m = mailer.NewOutbox(dir)
		}
	})
	return d.mail.m, d.mail.err
}
