package ledger

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
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

// rawAccount is the stored account, decoded independently of the package's own types.
type rawAccount struct {
	Cash          int64            `bson:"cash"`
	CashAvailable int64            `bson:"cash_available"`
	Holdings      map[string]int64 `bson:"holdings"`
	Available     map[string]int64 `bson:"available"`
	Pending       bson.M           `bson:"pending"`
	Version       int64            `bson:"version"`
}

// rawEntry is a stored ledger entry, decoded independently of the package's own types.
type rawEntry struct {
	ID     string `bson:"_id"`
	UserID string `bson:"user_id"`
	Type   string `bson:"type"`
	Symbol string `bson:"symbol"`
	Amount int64  `bson:"amount"`
	Value  int64  `bson:"value"`
	Status string `bson:"status"`
}

func readAccount(t *testing.T, db *mongo.Database, userID string) rawAccount {
	t.Helper()
	var acc rawAccount
	if err := db.Collection(AccountsCollection).FindOne(testCtx(t), bson.D{{Key: "_id", Value: userID}}).Decode(&acc); err != nil {
		t.Fatalf("read account %s: %v", userID, err)
	}
	return acc
}

func readEntries(t *testing.T, db *mongo.Database, userID string) []rawEntry {
	t.Helper()
	ctx := testCtx(t)
	cur, err := db.Collection(TransactionsCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		t.Fatalf("find entries of %s: %v", userID, err)
	}
	var out []rawEntry
	if err := cur.All(ctx, &out); err != nil {
		t.Fatalf("decode entries of %s: %v", userID, err)
	}
	return out
}

// assertInvariant recomputes userID's balances from transactions, in Go and with its own reading
// of the entry types (not Entry.effect), and compares them with the account. It also checks that
// nothing is pending (call it after a flush), that no balance or available amount is negative,
// and that available never exceeds its balance.
func assertInvariant(t *testing.T, db *mongo.Database, userID string) {
	t.Helper()
	acc := readAccount(t, db, userID)
	entries := readEntries(t, db, userID)
	if len(acc.Pending) != 0 {
		t.Errorf("%s: %d entries still pending after a flush", userID, len(acc.Pending))
	}
	cash := int64(0)
	holdings := map[string]int64{}
	for _, e := range entries {
		if e.Status != StatusCompleted {
			t.Errorf("%s: entry %s has status %q", userID, e.ID, e.Status)
		}
		switch e.Type {
		case "deposit":
			cash += e.Amount
		case "withdrawal", "fee":
			cash -= e.Amount
		case "buy":
			cash -= e.Value
			holdings[e.Symbol] += e.Amount
		case "sell":
			cash += e.Value
			holdings[e.Symbol] -= e.Amount
		case "adjustment":
			holdings[e.Symbol] += e.Amount
		default:
			t.Errorf("%s: entry %s has unknown type %q", userID, e.ID, e.Type)
		}
	}
	if acc.Cash != cash {
		t.Errorf("%s: cash %d, ledger says %d (%d entries)", userID, acc.Cash, cash, len(entries))
	}
	for sym := range union(holdings, acc.Holdings) {
		if acc.Holdings[sym] != holdings[sym] {
			t.Errorf("%s: holdings.%s %d, ledger says %d", userID, sym, acc.Holdings[sym], holdings[sym])
		}
	}
	if acc.Cash < 0 || acc.CashAvailable < 0 || acc.CashAvailable > acc.Cash {
		t.Errorf("%s: cash %d, cash_available %d: negative or available above balance", userID, acc.Cash, acc.CashAvailable)
	}
	for sym := range union(acc.Available, acc.Holdings) {
		h, a := acc.Holdings[sym], acc.Available[sym]
		if h < 0 || a < 0 || a > h {
			t.Errorf("%s: holdings.%s %d, available.%s %d: negative or available above balance", userID, sym, h, sym, a)
		}
	}
}

func union(a, b map[string]int64) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
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
