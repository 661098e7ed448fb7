package trading

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/stream"
)

// Options configures a Service. Zero fields take defaults.
type Options struct {
	// Now is the clock of order times, expiry and the matcher (default time.Now). Pass the same
	// clock to the ledger, the idempotency store and the audit writer.
	Now func() time.Time
	// Logger receives warnings about writes left for repair (default: discard).
	Logger *slog.Logger
	// PriceMaxAge is PRICE_MAX_AGE: the matcher ignores prices older than this, as trading
	// refuses them (default market.DefaultMaxAge).
	PriceMaxAge time.Duration
	// Metrics receives OrdersFilled (EMF) for the dashboard; nil publishes nothing.
	Metrics *obs.Metrics
}

// Service places, reads and cancels orders, and backs the matcher. It is safe for concurrent
// use, and any number of Services (Lambda instances, the prices function) may work on the same
// database at once.
type Service struct {
	db      func(ctx context.Context) (*mongo.Database, error)
	prices  *market.Store
	ledger  *ledger.Ledger
	idem    *idempotency.Store
	audit   *audit.Writer
	now     func() time.Time
	log     *slog.Logger
	maxAge  time.Duration
	metrics *obs.Metrics

	// hook, when set (tests only), runs at the named steps (see the step constants) and can
	// fail or crash the operation exactly there.
	hook func(step string) error
}

// Steps reported to the test hook.
const (
	stepCommitted = "committed" // an account update of an order transition is acknowledged
	stepWritten   = "written"   // the matcher's writes after its account update are done
)

// NewService returns a Service on the database that db returns (the warm client's Database),
// reading prices from prices and booking through ledger, idem and audit. It does no I/O.
func NewService(db func(ctx context.Context) (*mongo.Database, error), prices *market.Store, ledger *ledger.Ledger,
	idem *idempotency.Store, audit *audit.Writer, o Options) *Service {
	s := &Service{db: db, prices: prices, ledger: ledger, idem: idem, audit: audit, now: o.Now, log: o.Logger, maxAge: o.PriceMaxAge, metrics: o.Metrics}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxAge <= 0 {
		s.maxAge = market.DefaultMaxAge
	}
	return s
}

// NewServiceFor builds a Service and its collaborators from the platform dependencies, all on
// the clock o.Now; o.Logger and o.PriceMaxAge default to the process's logger and PRICE_MAX_AGE.
func NewServiceFor(d *app.Deps, o Options) *Service {
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.PriceMaxAge <= 0 {
		o.PriceMaxAge = d.Config.PriceMaxAge
	}
	if o.Metrics == nil {
		o.Metrics = d.Metrics(Name)
	}
	db := d.Mongo.Database
	return NewService(db,
		market.NewStore(db, market.StoreOptions{Now: o.Now, MaxAge: o.PriceMaxAge}),
		ledger.New(db, ledger.Options{Logger: o.Logger, Now: o.Now}),
		idempotency.NewStore(db, o.Now, idempotency.WithLogger(o.Logger)),
		audit.NewWriter(db, o.Logger, o.Now),
		o)
}

// Routes registers the orders routes on rt, each behind require (the auth guard).
func (s *Service) Routes(rt *web.Router, require func(web.HandlerFunc) web.HandlerFunc) {
	rt.Handle("GET /api/orders", require(s.list))
	rt.Handle("POST /api/orders", require(s.create))
	rt.Handle("GET /api/orders/{id}", require(s.get))
	rt.Handle("POST /api/orders/{id}/cancel", require(s.cancel))
}

// New builds the orders function behind the process's auth guard.
func New(d *app.Deps) (*lambdahttp.Function, error) {
	return NewFunction(d, NewServiceFor(d, Options{}), d.Auth().Guard.Require)
}

// NewFunction builds the orders function from s. require is the auth guard (auth.Guard.Require):
// it answers 401 without a valid session and puts the caller in the context; tests pass a guard
// on their own clock.
func NewFunction(d *app.Deps, s *Service, require func(web.HandlerFunc) web.HandlerFunc) (*lambdahttp.Function, error) {
	if require == nil {
		// Every route is a user's money: refuse to build them unguarded.
		return nil, errors.New("trading: NewFunction needs the auth guard")
	}
	rt := d.Router()
	s.Routes(rt, require)
	return &lambdahttp.Function{
		Name: Name, HTTP: d.HTTP(Name, rt), Routes: rt.Routes(), Logger: d.Logger, Indexes: Indexes(),
	}, nil
}

// NewPricesFunction builds the scheduled prices function with the order matcher as its
// AfterRefresh hook: the catalog's builder for the prices function (market.NewPricesFunction
// runs without it). Its indexes include the matcher's.
func NewPricesFunction(d *app.Deps) (*lambdahttp.Function, error) {
	// The matcher first: fills should not wait for the broadcast to thousands of sockets.
	fn, err := market.NewPricesFunctionWith(MatcherHook, stream.AfterRefresh)(d)
	if err != nil {
		return nil, err
	}
	fn.Indexes = slices.Concat(fn.Indexes, Indexes())
	return fn, nil
}

// MatcherHook builds the matcher's Run as an after-refresh step of the prices function from the
// platform dependencies, doing no I/O. Its signature is that of a hook list entry of the prices
// function (market.AfterRefreshHook), for a prices function that runs more than the matcher (the
// WebSocket broadcast); such a function should also ensure Indexes(), as NewPricesFunction does.
func MatcherHook(d *app.Deps) (func(ctx context.Context, prices []market.Price) error, error) {
	return NewMatcher(NewServiceFor(d, Options{})).Run, nil
}

// timestamp is the current time as BSON stores it, so that a returned order equals the stored one.
func (s *Service) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

// stepped runs the test hook.
func (s *Service) stepped(step string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(step)
}

// countFill publishes one OrdersFilled (EMF: a log line, no network call) for the dashboard.
func (s *Service) countFill(ctx context.Context) {
	if s.metrics == nil {
		return
	}
	if err := s.metrics.Emit(obs.Metric{Name: "OrdersFilled", Unit: obs.Count, Value: 1}); err != nil {
		s.log.ErrorContext(ctx, "metric not written", "metric", "OrdersFilled", "error", err.Error())
	}
}
