package transactions

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// New builds the transactions function behind the process's auth guard.
func New(d *app.Deps) (*lambdahttp.Function, error) {
	return NewFunction(d, d.Auth().Guard.Require, time.Now)
}

// NewFunction builds the transactions function. require is the auth guard (auth.Guard.Require):
// it answers 401 without a valid session and puts the caller in the context. now is the clock of
// the ledger, the idempotency records and the audit entries (nil = time.Now); tests pass theirs.
func NewFunction(d *app.Deps, require func(web.HandlerFunc) web.HandlerFunc, now func() time.Time) (*lambdahttp.Function, error) {
	if require == nil {
		// Every route is a user's money: refuse to build them unguarded.
		return nil, errors.New("transactions: NewFunction needs the auth guard")
	}
	return newFunction(d, newService(d, now), require), nil
}

func newFunction(d *app.Deps, s *service, require func(web.HandlerFunc) web.HandlerFunc) *lambdahttp.Function {
	rt := d.Router()
	s.routes(rt, require)
	return &lambdahttp.Function{
		Name: Name, HTTP: d.HTTP(Name, rt), Routes: rt.Routes(), Logger: d.Logger, Indexes: Indexes(),
	}
}

// service holds the function's dependencies.
type service struct {
	db     func(ctx context.Context) (*mongo.Database, error)
	ledger *ledger.Ledger
	idem   *idempotency.Store
	audit  *audit.Writer
	now    func() time.Time
	log    *slog.Logger

	// afterApply, when set (tests only), runs right after a cash movement is committed and before
	// anything else, so a test can fail or crash the request exactly there.
	afterApply func() error
}

func newService(d *app.Deps, now func() time.Time) *service {
	if now == nil {
		now = time.Now
	}
	db := d.Mongo.Database
	return &service{
		db:     db,
		ledger: ledger.New(db, ledger.Options{Logger: d.Logger, Now: now}),
		idem:   idempotency.NewStore(db, now, idempotency.WithLogger(d.Logger)),
		audit:  audit.NewWriter(db, d.Logger, now),
		now:    now,
		log:    d.Logger,
	}
}

// routes registers the routes on rt, each behind require. The literal stats path has two
// segments, so it never competes with {id}.
func (s *service) routes(rt *web.Router, require func(web.HandlerFunc) web.HandlerFunc) {
	rt.Handle("GET /api/transactions", require(s.list))
	rt.Handle("POST /api/transactions", require(s.create))
	rt.Handle("GET /api/transactions/stats/overview", require(s.stats))
	rt.Handle("GET /api/transactions/{id}", require(s.get))
}
