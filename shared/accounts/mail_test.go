package accounts_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/accounts"
	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/testkit/awstest"
	"github.com/cryptovault/serverless/shared/testkit/sesfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestFunctionMailer builds the auth function as Lambda does (accounts.New) for each MAILER and
// signs up: the verification mail must reach the outbox folder or Amazon SES (a local endpoint
// that speaks the SES v2 protocol), and a mailer that cannot be built fails the function's init.
func TestFunctionMailer(t *testing.T) {
	db := testenv.DB(t)
	tests := []struct {
		name    string
		env     map[string]string // configuration variables
		region  string            // AWS_REGION ("" for none)
		sesURL  bool              // AWS_ENDPOINT_URL_SESV2 is the local SES endpoint
		wantErr string
	}{
		{name: "outbox", env: map[string]string{"MAILER": "log"}},
		{
			name:   "ses",
			env:    map[string]string{"MAILER": "ses", "SES_FROM": "no-reply@example.com"},
			region: "eu-west-1", sesURL: true,
		},
		{
			name:    "ses without a region",
			env:     map[string]string{"MAILER": "ses", "SES_FROM": "no-reply@example.com"},
			wantErr: "ses client",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ses := sesfake.Start(t)
			awstest.IsolateEnv(t, tt.region)
			if tt.sesURL {
				t.Setenv("AWS_ENDPOINT_URL_SESV2", ses.URL())
			}
			outbox := t.TempDir()
			cfg := testenv.Config(t, db.URI(), tt.env)
			env := testenv.NewDeps(t, cfg, app.Options{OutboxDir: outbox})

			fn, err := accounts.New(env.Deps)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("accounts.New error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			email := strings.ReplaceAll(tt.name, " ", "-") + "@example.com"
			r := testenv.Do(t, fn, testenv.Request{Method: http.MethodPost, Path: "/api/auth/signup", Header: testenv.JSONHeader(),
				Body: `{"email":"` + email + `","password":"Correct horse battery 9","name":"Mail Test"}`})
			if r.Status != http.StatusCreated && r.Status != http.StatusOK {
				t.Fatalf("signup: %d %s", r.Status, r.Body)
			}

			var got []string
			if tt.env["MAILER"] == "ses" {
				for _, m := range ses.Messages() {
					got = append(got, strings.Join(m.To, ","))
				}
			} else {
				msgs, err := mailer.NewOutbox(outbox).Messages()
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					got = append(got, m.To)
				}
			}
			if len(got) != 1 || got[0] != email {
				t.Errorf("verification mails to %v, want one to %s", got, email)
			}
		})
	}
}
