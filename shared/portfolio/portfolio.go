package portfolio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "portfolio"

// CodeHoldingChanged is the 409 of a DELETE whose holding kept changing under it (sell orders
// placed or filled between each read and update) until the attempts ran out; a retry usually
// succeeds.
const CodeHoldingChanged = "HOLDING_CHANGED"

// Options configures a Service. Zero fields take defaults.
type Options struct {
	// Now is the clock of updatedAt when nothing else dates a portfolio (default time.Now).
	Now func() time.Time
	// Logger receives warnings the client does not see (default: discard).
	Logger *slog.Logger
	// CancelOpenSells cancels the user's open sell orders of symbol, releasing their reserved
	// coins; DELETE calls it between its read of the account and its update (remove.go), with
	// reserved, what that read shows reserved of the coin (holdings minus available). When
	// reserved is 0 no sell order of the coin is open — only open sell orders reserve coins, each
	// a positive amount — so an implementation may return at once without a command; an order
	// placed after the read is caught by the update's conditions. NewFunction wraps trading's
	// (*trading.Service).CancelOpenSells so, passed as a function so that this package does not
	// depend on trading. nil means there are never orders to cancel.
	CancelOpenSells func(ctx context.Context, userID, symbol string, reserved money.Quantity) error
}

// Service serves the portfolio routes. It is safe for concurrent use.
type Service struct {
	db              func(ctx context.Context) (*mongo.Database, error)
	prices          *market.Store
	ledger          *ledger.Ledger
	idem            *idempotency.Store
	audit           *audit.Writer
	now             func() time.Time
	log             *slog.Logger
	cancelOpenSells func(ctx context.Context, userID, symbol string, reserved money.Quantity) error
}

// NewService returns the portfolio service. db is the warm client's database (it reads ledger
// entries by id when an idempotent request is re-run); prices is the process's price store (its
// cache is per instance, so share one); l, idem and a are the ledger, the idempotency store and
// the audit writer the routes write through. It does no I/O.
func NewService(db func(ctx context.Context) (*mongo.Database, error), prices *market.Store, l *ledger.Ledger,
	idem *idempotency.Store, a *audit.Writer, o Options) *Service {
	s := &Service{
		db: db, prices: prices, ledger: l, idem: idem, audit: a,
		now: o.Now, log: o.Logger, cancelOpenSells: o.CancelOpenSells,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Routes registers the portfolio routes on rt, each behind require (auth.Guard.Require: 401
// without a valid session, the caller in the context otherwise). It panics when require is nil:
// every route is a user's money, and serving them unguarded is a wiring bug to catch at init.
func (s *Service) Routes(rt *web.Router, require func(web.HandlerFunc) web.HandlerFunc) {
	if require == nil {
		panic("portfolio: Routes needs the auth guard")
	}
	rt.Handle("GET /api/portfolio", require(s.getPortfolio))
	rt.Handle("GET /api/portfolio/holding/{symbol}", require(s.getHolding))
	rt.Handle("POST /api/portfolio/holding", require(s.add))
	rt.Handle("DELETE /api/portfolio/holding/{symbol}", require(s.remove))
}

// Indexes are the indexes of every query the function makes: the ledger's, the idempotency
// records', the audit writer's and the guard's revocation query. Prices are read whole (one small
// document per coin), which needs none.
func Indexes() []mongodb.Index {
	return slices.Concat(ledger.Indexes(), idempotency.Indexes(), audit.Indexes(), auth.Indexes())
}

// callerID is the authenticated user's id. The guard answers 401 first; this only matters if a
// route were ever registered without it.
func callerID(r *http.Request) (string, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return "", web.NewError(http.StatusUnauthorized, auth.CodeUnauthenticated, "Authentication required")
	}
	return p.UserID, nil
}

// holdingNotFound is the 404 of a coin that is not held, not supported, or held by someone else
// (the last is never visible: every query is the caller's): indistinguishable on purpose.
func holdingNotFound() error {
	return web.NewError(http.StatusNotFound, web.CodeNotFound, "Holding not found")
}

// accountNotFound is the POST's answer for a caller without an account (see the package
// documentation): 404 rather than a 500 for a broken signup.
func accountNotFound(cause error) error {
	e := web.NewError(http.StatusNotFound, web.CodeNotFound, "Account not found")
	e.Cause = cause
	return e
}

// holdingChanged is the 409 of a removal that lost every race (see remove.go).
func holdingChanged(cause error) error {
	e := web.NewError(http.StatusConflict, CodeHoldingChanged,
		"The holding changed while it was being removed; please retry")
	e.Cause = cause
	return e
}

// isNoAccount reports the ledger's "no account" error.
func isNoAccount(err error) bool { return errors.Is(err, ledger.ErrNoAccount) }
