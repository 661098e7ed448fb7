package ledger

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// startCash is the starting cash of test accounts: 10000.00, the default of STARTING_CASH_USD.
const startCash money.USD = 1_000_000

// testEnv is an engine, a warm client on it (the production client type) and a ledger.
type testEnv struct {
	srv    *devdb.Server
	client *mongodb.Client
	db     *mongo.Database
	ledger *Ledger
	logs   *logbuf.Buffer
	cmds   *cmdlog.Log // the commands of client
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	srv := testenv.DB(t)
	e := &testEnv{srv: srv, logs: &logbuf.Buffer{}, cmds: &cmdlog.Log{}}
	e.client = newClient(t, srv, 5*time.Second, e.cmds.Monitor())
	ctx := testCtx(t)
	db, err := e.client.Database(ctx)
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	e.db = db
	if err := mongodb.EnsureIndexes(ctx, db, slog.New(slog.DiscardHandler), Indexes()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	e.ledger = e.newLedger(e.client)
	return e
}

// newLedger returns another ledger on client, logging into the environment's buffer and with a
// clock that advances 1 ms per call, so that entries have distinct times in booking order.
func (e *testEnv) newLedger(client *mongodb.Client) *Ledger {
	return New(client.Database, Options{
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Now:    steppingClock(),
	})
}

// newClient is a warm client on srv. selection bounds server selection and connection checkout:
// long enough for the concurrency tests, whose goroutines queue for the 5 connections of a
// Lambda-sized pool behind a proxy that runs one command at a time; short in the outage test, so
// that requests fail fast while the engine is down. monitor, when not nil, sees its commands.
func newClient(t *testing.T, srv *devdb.Server, selection time.Duration, monitor *event.CommandMonitor) *mongodb.Client {
	t.Helper()
	uri := srv.URI()
	c := mongodb.New(mongodb.Options{
		URI:                    func(context.Context) (string, error) { return uri, nil },
		Database:               "ledger_test",
		ServerSelectionTimeout: selection,
		Monitor:                monitor,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return c
}

var clockBase = time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)

func steppingClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return clockBase.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

// testCtx bounds a test's database calls so that a bug fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openAccount opens userID's account with startCash or fails the test.
func (e *testEnv) openAccount(t *testing.T, userID string) {
	t.Helper()
	if err := e.ledger.OpenAccount(testCtx(t), userID, startCash); err != nil {
		t.Fatalf("OpenAccount(%s): %v", userID, err)
	}
}

// assertInvariant checks userID's account against the entries in transactions (moneycheck: read
// independently of this package's types and summed with its own reading of the entry types):
// nothing pending (call it after a flush), every balance the sum of its entries, every entry
// completed, no balance or available amount negative, none available above its balance.
func assertInvariant(t *testing.T, db *mongo.Database, userID string) {
	t.Helper()
	s := moneycheck.State{Account: moneycheck.ReadAccount(t, db, userID), Entries: moneycheck.ReadEntries(t, db, userID)}
	for _, err := range append(s.Flushed(), s.Balances()...) {
		t.Error(err)
	}
}

// mustFlush flushes userID, retrying for a while: after an outage the client needs a moment to
// find the engine again.
func mustFlush(t *testing.T, l *Ledger, userID string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := l.Flush(testCtx(t), userID)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Flush(%s) still failing: %v", userID, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pricePtr(p money.Price) *money.Price { return &p }
