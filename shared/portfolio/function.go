package portfolio

import (
	"context"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
)

// NewFunction builds the portfolio function on the process's dependencies, behind the process's
// auth guard (d.Auth().Guard.Require). cancelOpenSells is trading's
// (*trading.Service).CancelOpenSells (see Options.CancelOpenSells; nil: nothing to cancel). The
// error is for the app.Build signature; building does no I/O and cannot fail today.
func NewFunction(d *app.Deps, cancelOpenSells func(ctx context.Context, userID, symbol string) error) (*lambdahttp.Function, error) {
	db := d.Mongo.Database
	s := NewService(db, market.NewStoreFor(d),
		ledger.New(db, ledger.Options{Logger: d.Logger}),
		idempotency.NewStore(db, nil, idempotency.WithLogger(d.Logger)),
		audit.NewWriter(db, d.Logger, nil),
		Options{Logger: d.Logger, CancelOpenSells: cancelOpenSells})
	rt := d.Router()
	s.Routes(rt, d.Auth().Guard.Require)
	return &lambdahttp.Function{
		Name: Name, HTTP: d.HTTP(Name, rt), Routes: rt.Routes(), Logger: d.Logger, Indexes: Indexes(),
	}, nil
}
