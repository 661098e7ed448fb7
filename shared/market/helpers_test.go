package market

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// start is the tests' "now": 2026-11-28 09:15 UTC.
var start = time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)

// basePrices are realistic prices in 1e-8 USD, so that the tests exercise 8-decimal values.
var basePrices = map[string]money.Price{
	"BTC": 6_500_012_000_000, "ETH": 350_050_000_000, "USDT": 100_010_000, "BNB": 60_012_345_678,
	"SOL": 15_000_000_000, "XRP": 52_345_678, "USDC": 99_990_000, "ADA": 45_000_001,
	"DOGE": 15_123_456, "TRX": 12_000_000,
}

// testEnv is an engine, a warm client on it (the production client type), a settable clock, a
// scripted feed, and captured logs and metrics.
type testEnv struct {
	srv     *devdb.Server
	client  *mongodb.Client
	db      *mongo.Database
	clock   *fakeclock.Clock
	feed    *scriptedFeed
	logs    *logbuf.Buffer
	metrics *logbuf.Buffer
	// cmds records the client's commands; a find of the history is tagged with the coin it reads.
	cmds *cmdlog.Log
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	srv := testenv.DB(t)
	uri := srv.URI()
	e := &testEnv{
		srv:   srv,
		clock: fakeclock.New(start),
		feed:  &scriptedFeed{},
		logs:  &logbuf.Buffer{}, metrics: &logbuf.Buffer{},
		cmds: &cmdlog.Log{Tag: historySymbol},
	}
	e.client = mongodb.New(mongodb.Options{
		URI:      func(context.Context) (string, error) { return uri, nil },
		Database: "market_test",
		// Long enough for the concurrency tests, whose goroutines queue for a Lambda-sized pool
		// behind a proxy that runs one command at a time.
		ServerSelectionTimeout: 10 * time.Second,
		OperationTimeout:       20 * time.Second,
		Monitor:                e.cmds.Monitor(),
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.client.Disconnect(ctx)
	})
	ctx := testCtx(t)
	db, err := e.client.Database(ctx)
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	e.db = db
	if err := mongodb.EnsureIndexes(ctx, db, obs.Discard(), Indexes()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	return e
}

// store returns a Store on the environment's clock unless o sets another.
func (e *testEnv) store(o StoreOptions) *Store {
	if o.Now == nil {
		o.Now = e.clock.Now
	}
	return NewStore(e.client.Database, o)
}

// refresher returns a Refresher on the scripted feed with the environment's clock, logs and
// metrics unless o sets them. Backfill is off unless o asks for it: most tests are not about it.
func (e *testEnv) refresher(o RefresherOptions) *Refresher {
	if o.Now == nil {
		o.Now = e.clock.Now
	}
	if o.Logger == nil {
		o.Logger = obs.NewLogger(e.logs, slog.LevelDebug)
	}
	if o.Metrics == nil {
		o.Metrics = obs.NewMetrics(e.metrics, map[string]string{"Service": "prices"})
	}
	if o.BackfillDays == 0 {
		o.BackfillDays = -1
	}
	return NewRefresher(e.client.Database, e.feed, o)
}

// mustRefresh runs r and fails the test on an error.
func mustRefresh(t *testing.T, r *Refresher) Result {
	t.Helper()
	res, err := r.Refresh(testCtx(t))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return res
}

// finds is how many find commands the engine has run: the cache tests count round trips with it.
func (e *testEnv) finds() int { return e.srv.CommandCounts()["find"] }

// historySymbol tags a find of the history with the coin its filter names, "" for other commands.
func historySymbol(c cmdlog.Command, body bson.Raw) string {
	if c.Name != "find" || c.Collection != HistoryCollection {
		return ""
	}
	symbol, _ := body.Lookup("filter", "symbol").StringValueOK()
	return symbol
}

// historyFinds counts the finds of the history since m, by coin: the history cache tests count
// round trips with it.
func (e *testEnv) historyFinds(m cmdlog.Mark) map[string]int {
	n := map[string]int{}
	for _, c := range e.cmds.Since(m) {
		if c.Tag != "" {
			n[c.Tag]++
		}
	}
	return n
}

// rawPrice is a stored price document, decoded independently of the package's own types.
type rawPrice struct {
	Symbol    string    `bson:"_id"`
	ID        string    `bson:"id"`
	Name      string    `bson:"name"`
	Source    string    `bson:"source"`
	Price     int64     `bson:"price"`
	Change24h int64     `bson:"change_24h"`
	MarketCap int64     `bson:"market_cap"`
	Volume24h int64     `bson:"volume_24h"`
	QuotedAt  time.Time `bson:"quoted_at"`
	UpdatedAt time.Time `bson:"updated_at"`
	Held      *struct {
		Price int64     `bson:"price"`
		At    time.Time `bson:"at"`
	} `bson:"held"`
	Version int64 `bson:"version"`
}

// rawPrices reads the prices collection by symbol.
func (e *testEnv) rawPrices(t *testing.T) map[string]rawPrice {
	t.Helper()
	ctx := testCtx(t)
	cur, err := e.db.Collection(PricesCollection).Find(ctx, bson.D{})
	if err != nil {
		t.Fatalf("find prices: %v", err)
	}
	var docs []rawPrice
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("decode prices: %v", err)
	}
	m := map[string]rawPrice{}
	for _, d := range docs {
		m[d.Symbol] = d
	}
	return m
}

// rawBucket is a stored history bucket, decoded independently of the package's own types.
type rawBucket struct {
	ID        string           `bson:"_id"`
	Symbol    string           `bson:"symbol"`
	Day       time.Time        `bson:"day"`
	Points    map[string]int64 `bson:"points"`
	Compacted bool             `bson:"compacted"`
}

// rawBuckets reads symbol's history buckets by _id.
func (e *testEnv) rawBuckets(t *testing.T, symbol string) map[string]rawBucket {
	t.Helper()
	ctx := testCtx(t)
	cur, err := e.db.Collection(HistoryCollection).Find(ctx, bson.D{{Key: "symbol", Value: symbol}})
	if err != nil {
		t.Fatalf("find buckets: %v", err)
	}
	var docs []rawBucket
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("decode buckets: %v", err)
	}
	m := map[string]rawBucket{}
	for _, d := range docs {
		m[d.ID] = d
	}
	return m
}

// testCtx bounds a test's database calls so that a bug fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// scriptedFeed stands in for the upstream: it returns the quotes, history and errors the test
// scripts, and records what it was asked. The real feeds (CoinGecko, simulated, file) and their
// clients are tested in package feed; one test here runs the real file feed end to end.
type scriptedFeed struct {
	mu         sync.Mutex
	quotes     []feed.Quote
	err        error
	history    map[string][]feed.Point
	historyErr error

	// beforeQuotes, when set, runs once at the start of the next Quotes call (outside the lock):
	// a test makes another run happen exactly between a run's read and its write.
	beforeQuotes func()

	quoteCalls   int
	historyCalls map[string]int        // by symbol
	previous     map[string]feed.Quote // the previous quotes of the last Quotes call
}

func (f *scriptedFeed) Name() string { return "scripted" }

// set scripts the next Quotes calls.
func (f *scriptedFeed) set(quotes []feed.Quote, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quotes, f.err = quotes, err
}

// setHistory scripts History: points by symbol (coins not listed have none), or an error.
func (f *scriptedFeed) setHistory(points map[string][]feed.Point, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history, f.historyErr = points, err
}

func (f *scriptedFeed) Quotes(_ context.Context, previous map[string]feed.Quote) ([]feed.Quote, error) {
	f.mu.Lock()
	hook := f.beforeQuotes
	f.beforeQuotes = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quoteCalls++
	f.previous = maps.Clone(previous)
	if f.err != nil {
		return nil, f.err
	}
	return append([]feed.Quote(nil), f.quotes...), nil
}

func (f *scriptedFeed) History(_ context.Context, coin feed.Coin, _ int) ([]feed.Point, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.historyCalls == nil {
		f.historyCalls = map[string]int{}
	}
	f.historyCalls[coin.Symbol]++
	if f.historyErr != nil {
		return nil, f.historyErr
	}
	return append([]feed.Point(nil), f.history[coin.Symbol]...), nil
}

// lastPrevious is the previous quotes the last Quotes call got.
func (f *scriptedFeed) lastPrevious() map[string]feed.Quote {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.previous)
}

// calls is how often Quotes was called, and History by symbol.
func (f *scriptedFeed) calls() (quotes int, history map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quoteCalls, maps.Clone(f.historyCalls)
}

// quote is a feed quote of symbol at price with fixed secondary figures. It has no QuotedAt, so
// it counts as quoted at the refresh's time: each run on an advanced clock sees a newer quote.
func quote(symbol string, price money.Price) feed.Quote {
	return feed.Quote{
		Symbol: symbol, Price: price, Change24h: 250, MarketCap: 1_283_550_000_000, Volume24h: 45_000_000_000,
		Image: "https://img.example/" + strings.ToLower(symbol) + ".png",
	}
}

// quotesAt quotes every supported coin at its base price scaled by num/den (integer arithmetic).
func quotesAt(num, den int64) []feed.Quote {
	out := make([]feed.Quote, 0, len(feed.Coins))
	for _, c := range feed.Coins {
		out = append(out, quote(c.Symbol, scaled(basePrices[c.Symbol], num, den)))
	}
	return out
}

// scaled is p × num / den, truncated: test prices stay integers, as every price does.
func scaled(p money.Price, num, den int64) money.Price {
	return p * money.Price(num) / money.Price(den)
}

// emfLines decodes the EMF lines written so far.
func emfLines(t *testing.T, buf *logbuf.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("EMF line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// lastEMF is the last EMF line, failing the test when there is none.
func lastEMF(t *testing.T, buf *logbuf.Buffer) map[string]any {
	t.Helper()
	lines := emfLines(t, buf)
	if len(lines) == 0 {
		t.Fatal("no metrics emitted")
	}
	return lines[len(lines)-1]
}
