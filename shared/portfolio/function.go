package portfolio

import (
	"context"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
)

// NewFunction builds the portfolio function on the process's dependencies, behind the process's
// auth guard (d.Auth().Guard.Require). cancelOpenSells is trading's
// (*trading.Service).CancelOpenSells (nil: nothing to cancel); it is called only when the
// removal's read shows coins reserved (see Options.CancelOpenSells), so that removing a holding no
// order holds costs no lookup of orders. The error is for the app.Build signature; building does
// no I/O and cannot fail today.
func NewFunction(d *app.Deps, cancelOpenSells func(ctx context.Context, userID, symbol string) error) (*lambdahttp.Function, error) {
	db := d.Mongo.Database
	o := Options{Logger: d.Logger}
	if cancelOpenSells != nil {
		o.CancelOpenSells = func(ctx context.Context, userID, symbol string, reserved money.Quantity) error {
			if reserved <= 0 {
				return nil
			}
			return cancelOpenSells(ctx, userID, symbol)
		}
	}
	s := NewService(db, market.NewStoreFor(d),
		ledger.New(db, ledger.Options{Logger: d.Logger}),
		idempotency.NewStore(db, nil, idempotency.WithLogger(d.Logger)),
		audit.NewWriter(db, d.Logger, nil),
		o)
	rt := d.Router()
	s.Routes(rt, d.Auth().Guard.Require)
	return &lambdahttp.Function{
		Name: Name, HTTP: d.HTTP(Name, rt), Routes: rt.Routes(), Logger: d.Logger, Indexes: Indexes(),
	}, nil
}
