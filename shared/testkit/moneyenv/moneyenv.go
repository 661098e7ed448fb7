// Package moneyenv is what the tests of a money function (transactions, orders, portfolio) build
// it on: the dependencies every function takes, on an embedded database and a fake clock that the
// real guard and ledger share; users with an open account and access tokens minted at the clock's
// time; the market of a price file stored by the real refresher; and the ledger invariant checked
// on what is stored (moneycheck). What is a function's own (its wiring, its routes, its stored
// shapes) stays in its package's harness. Test-only: never linked into a Lambda binary.
package moneyenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// StartCash is every test user's opening balance: 10000.00, the default STARTING_CASH_USD.
const StartCash money.USD = 1_000_000

// ClockBase is the time every environment's clock starts at.
var ClockBase = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// Env is one test's environment, on a fresh embedded database.
type Env struct {
	*testenv.Env // Deps, and the logs and metrics they write
	t            *testing.T

	Server *devdb.Server
	Clock  *fakeclock.Clock
	// Tokens and Guard are the real ones on Clock: moving it expires tokens and sessions as time
	// would.
	Tokens *auth.Tokens
	Guard  *auth.Guard
	// Ledger is a ledger on Clock, for a test's own movements and flushes.
	Ledger *ledger.Ledger
	DB     *mongo.Database
	// Commands records every command of Deps' client, for the round-trip tests.
	Commands cmdlog.Log
}

// New starts the environment of t. The function under test, and its indexes, are the caller's.
func New(t *testing.T) *Env {
	t.Helper()
	e := &Env{t: t, Server: testenv.DB(t), Clock: fakeclock.New(ClockBase)}
	cfg := testenv.Config(t, e.Server.URI(), nil)
	e.Env = testenv.NewDeps(t, cfg, app.Options{Monitor: e.Commands.Monitor()})
	d := e.Deps

	e.Tokens = auth.NewTokens(auth.TokensOptions{Keys: d.Keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Now: e.Clock.Now})
	e.Guard = auth.NewGuard(e.Tokens, auth.NewRevocations(auth.RevocationsOptions{DB: d.Mongo.Database, Logger: d.Logger, Now: e.Clock.Now}))
	e.Ledger = ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger, Now: e.Clock.Now})
	db, err := d.Mongo.Database(e.ctx())
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	e.DB = db
	return e
}

// ctx bounds a call of the environment's, so that a stuck database fails the test instead of
// hanging it.
func (e *Env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(e.t.Context(), 60*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// OpenAccount opens userID's account with StartCash, as signup does.
func (e *Env) OpenAccount(userID string) {
	e.t.Helper()
	if err := e.Ledger.OpenAccount(e.ctx(), userID, StartCash); err != nil {
		e.t.Fatalf("OpenAccount(%s): %v", userID, err)
	}
}

// Header is the header of a request of userID's: the frontend's (testenv.JSONHeader) with an
// access token minted at the clock's time, so that moving the clock between requests never
// expires it, and the Idempotency-Key when key is not empty. An empty userID sends no token.
func (e *Env) Header(userID, key string) http.Header {
	e.t.Helper()
	header := testenv.JSONHeader()
	if userID != "" {
		tok, _, err := e.Tokens.Issue(e.ctx(), userID, "session-"+userID)
		if err != nil {
			e.t.Fatalf("token of %s: %v", userID, err)
		}
		header.Set("Authorization", "Bearer "+tok)
	}
	if key != "" {
		header.Set(idempotency.HeaderName, key)
	}
	return header
}

// Account reads userID's account as stored.
func (e *Env) Account(userID string) moneycheck.Account {
	e.t.Helper()
	return moneycheck.ReadAccount(e.t, e.DB, userID)
}

// Entries reads userID's entries in transactions: those still pending in the account are not there
// until a flush.
func (e *Env) Entries(userID string) []moneycheck.Entry {
	e.t.Helper()
	return moneycheck.ReadEntries(e.t, e.DB, userID)
}

// Flush moves userID's pending entries to transactions.
func (e *Env) Flush(userID string) {
	e.t.Helper()
	if err := e.Ledger.Flush(e.ctx(), userID); err != nil {
		e.t.Fatalf("Flush(%s): %v", userID, err)
	}
}

// AssertLedger flushes userID's ledger and fails the test on each violation of the ledger
// invariant: an entry still pending, a balance that is not the sum of its entries, one negative or
// below what is available of it (moneycheck.State.Balances). It returns the state it checked, for
// a function's own invariants beside (an orders function's reservations, say).
func (e *Env) AssertLedger(userID string) moneycheck.State {
	e.t.Helper()
	e.Flush(userID)
	s := moneycheck.Read(e.t, e.DB, userID)
	for _, err := range append(s.Flushed(), s.Balances()...) {
		e.t.Error(err)
	}
	return s
}

// NewRefresher is the prices function's refresher on Clock, storing the prices of the file at path
// (the file feed, as PRICE_FEED=file:PATH: write it with pricefile) without history backfill.
// after, when not nil, runs after each refresh that changed a price, as the orders matcher does.
func (e *Env) NewRefresher(path string, after func(context.Context, []market.Price) error) *market.Refresher {
	e.t.Helper()
	f, err := feed.New(e.ctx(), "file:"+path, feed.Options{Now: e.Clock.Now})
	if err != nil {
		e.t.Fatalf("file feed: %v", err)
	}
	return market.NewRefresher(e.Deps.Mongo.Database, f, market.RefresherOptions{
		Now: e.Clock.Now, Logger: e.Deps.Logger, AfterRefresh: after, BackfillDays: -1,
	})
}
