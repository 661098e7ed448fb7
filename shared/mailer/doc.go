// Package mailer sends CryptoVault's transactional email (the email
// verification code) through one [Mailer] interface with two
// implementations, chosen by configuration (MAILER):
//
//   - [Outbox] ("log", the local default) writes each message to a file in an
//     outbox folder under the data folder, where a developer reads the code.
//   - [SES] ("ses", in AWS) sends through Amazon SES v2.
//
// A message body carries a secret (the verification code), so the body goes
// to exactly one place, the mail, and nowhere else: this package has no
// logger, its errors never include the body, and [Message] formats and logs
// without its Text. Recipient and subject are checked for line breaks before
// anything is sent, so a crafted address cannot inject mail headers.
//
// Typical wiring in a function's init:
//
//	var m mailer.Mailer
//	switch cfg.Mailer {
//	case "ses":
//		client, err := mailer.NewSESClient(ctx, "")
//		if err != nil { ... }
//		m = mailer.NewSES(client, cfg.SESFrom)
//	default:
//		m = mailer.NewOutbox(filepath.Join(dataDir, "outbox"))
//	}
package mailer
