package accounts

import (
	"context"
	"slices"
	"time"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
)

// New builds the auth function.
func New(d *app.Deps) (*lambdahttp.Function, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := newMailer(ctx, d)
	if err != nil {
		return nil, err
	}
	kit := d.Auth()
	s := NewService(Options{
		DB: d.Mongo.Database, Config: d.Config, Logger: d.Logger,
		Tokens: kit.Tokens, Revocations: kit.Revocations,
		Ledger:  ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger}),
		Audit:   audit.NewWriter(d.Mongo.Database, d.Logger, time.Now),
		Mailer:  m,
		Metrics: d.Metrics(Name),
	})
	rt := d.Router()
	s.Routes(rt, kit.Guard.Require)
	return &lambdahttp.Function{
		Name: Name, HTTP: d.HTTP(Name, rt), Routes: rt.Routes(), Logger: d.Logger,
		Indexes: slices.Concat(Indexes(), auth.Indexes(), ledger.Indexes(), audit.Indexes()),
	}, nil
}
