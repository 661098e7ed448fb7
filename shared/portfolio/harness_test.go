package portfolio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// startCash is every test user's opening balance: 10000.00, the default STARTING_CASH_USD.
const startCash money.USD = 1_000_000

var clockBase = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// defaultQuotes is the market of most tests, in the file feed's format: BTC and ETH (by its id)
// with 24 h changes, DOGE with 8 decimals; the other coins have no stored price.
const defaultQuotes = `[
  {"symbol": "BTC", "price": "65000.12", "change_24h": "2.5"},
  {"symbol": "ethereum", "price": 3500.5, "change_24h": -1.25},
  {"symbol": "DOGE", "price": "0.15123456", "change_24h": "0"}
]`

// harness is the portfolio function on a fresh embedded database, wired as NewFunction wires it
// but with the real guard, ledger, idempotency store and audit writer on an injected clock, and
// prices stored by the real refresher from the real file feed.
type harness struct {
	t         *testing.T
	srv       *devdb.Server
	env       *testenv.Env
	clock     *fakeclock.Clock
	fn        *lambdahttp.Function
	ledger    *ledger.Ledger
	tokens    *auth.Tokens
	guard     *auth.Guard
	db        *mongo.Database
	pricePath string
	refresher *market.Refresher
	sells     *sells
	// cancel, when set, replaces the stand-in's CancelOpenSells (race and failure tests).
	cancel   atomic.Pointer[func(ctx context.Context, userID, symbol string) error]
	commands cmdlog.Log
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, srv: testenv.DB(t), clock: fakeclock.New(clockBase)}
	cfg := testenv.Config(t, h.srv.URI(), nil)
	h.env = testenv.NewDeps(t, cfg, app.Options{Monitor: h.commands.Monitor()})
	d := h.env.Deps

	h.tokens = auth.NewTokens(auth.TokensOptions{Keys: d.Keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Now: h.clock.Now})
	revocations := auth.NewRevocations(auth.RevocationsOptions{DB: d.Mongo.Database, Logger: d.Logger, Now: h.clock.Now})
	h.guard = auth.NewGuard(h.tokens, revocations)
	h.ledger = ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger, Now: h.clock.Now})
	h.sells = &sells{l: h.ledger, reserved: map[string]money.Quantity{}}

	// Every read of the harness's store goes to the database once the clock moves (setPrices
	// moves it), so each request sees the last refresh; the round-trip test builds its own store
	// with the production cache TTL.
	h.fn = h.function(h.store(time.Nanosecond))

	ctx := testCtx(t)
	app.EnsureIndexes(ctx, d, h.fn.Indexes)
	db, err := d.Mongo.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db

	h.pricePath = filepath.Join(t.TempDir(), "prices.json")
	f, err := feed.New(ctx, "file:"+h.pricePath, feed.Options{Now: h.clock.Now})
	if err != nil {
		t.Fatalf("feed.New: %v", err)
	}
	h.refresher = market.NewRefresher(d.Mongo.Database, f, market.RefresherOptions{Now: h.clock.Now, Logger: d.Logger, BackfillDays: -1})
	h.setPrices(defaultQuotes)
	return h
}

// store is a price store on the harness clock with the given cache TTL.
func (h *harness) store(ttl time.Duration) *market.Store {
	return market.NewStore(h.env.Deps.Mongo.Database, market.StoreOptions{Now: h.clock.Now, CacheTTL: ttl})
}

// function builds the portfolio function on prices, with the harness's guard and clock and the
// stand-in for trading's CancelOpenSells.
func (h *harness) function(prices *market.Store) *lambdahttp.Function {
	d := h.env.Deps
	db := d.Mongo.Database
	s := portfolio.NewService(db, prices,
		ledger.New(db, ledger.Options{Logger: d.Logger, Now: h.clock.Now}),
		idempotency.NewStore(db, h.clock.Now, idempotency.WithLogger(d.Logger)),
		audit.NewWriter(db, d.Logger, h.clock.Now),
		portfolio.Options{Now: h.clock.Now, Logger: d.Logger, CancelOpenSells: h.cancelOpenSells})
	rt := d.Router()
	s.Routes(rt, h.guard.Require)
	return &lambdahttp.Function{
		Name: portfolio.Name, HTTP: d.HTTP(portfolio.Name, rt), Routes: rt.Routes(), Logger: d.Logger,
		Indexes: portfolio.Indexes(),
	}
}

func (h *harness) cancelOpenSells(ctx context.Context, userID, symbol string) error {
	if f := h.cancel.Load(); f != nil {
		return (*f)(ctx, userID, symbol)
	}
	return h.sells.CancelOpenSells(ctx, userID, symbol)
}

// onCancel replaces the CancelOpenSells the service calls, until t ends.
func (h *harness) onCancel(t *testing.T, f func(ctx context.Context, userID, symbol string) error) {
	h.cancel.Store(&f)
	t.Cleanup(func() { h.cancel.Store(nil) })
}

// setPrices writes quotes (a JSON array in the file feed's format) to the price file, runs one
// refresh, and moves the clock a millisecond so that the store's next read sees it.
func (h *harness) setPrices(quotes string) {
	h.t.Helper()
	tmp := h.pricePath + ".tmp"
	if err := os.WriteFile(tmp, []byte(`{"quotes": `+quotes+`}`), 0o600); err != nil {
		h.t.Fatal(err)
	}
	// Rename over the file so that the feed never reads half of it.
	if err := os.Rename(tmp, h.pricePath); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.refresher.Refresh(testCtx(h.t))
	if err != nil || res.FeedError != nil {
		h.t.Fatalf("refresh: %v, feed error %v", err, res.FeedError)
	}
	h.clock.Advance(time.Millisecond)
}

// testCtx bounds a test's direct database calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sells stands in for the trading package's open sell orders, which this package only cancels
// through Options.CancelOpenSells: place reserves coins through the ledger as placing a limit
// sell does, and CancelOpenSells releases every reservation of the coin as trading's cancel does.
// Trading tests its own cancel; here only the contract matters (after the call nothing of the
// coin is reserved) and that the portfolio calls it before removing.
type sells struct {
	l        *ledger.Ledger
	mu       sync.Mutex
	reserved map[string]money.Quantity // by user id + "/" + symbol
	calls    []string                  // user id + "/" + symbol of each CancelOpenSells
}

// place reserves q of symbol for userID, as an open sell order would.
func (o *sells) place(t *testing.T, userID, symbol string, q money.Quantity) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.l.Apply(testCtx(t), ledger.Change{UserID: userID, ReserveHoldings: map[string]money.Quantity{symbol: q}}); err != nil {
		t.Fatalf("reserve %s %s: %v", q, symbol, err)
	}
	o.reserved[userID+"/"+symbol] += q
}

// CancelOpenSells releases what place reserved; a coin without orders costs no command.
func (o *sells) CancelOpenSells(ctx context.Context, userID, symbol string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := userID + "/" + symbol
	o.calls = append(o.calls, key)
	q := o.reserved[key]
	if q == 0 {
		return nil
	}
	if _, err := o.l.Apply(ctx, ledger.Change{UserID: userID, ReserveHoldings: map[string]money.Quantity{symbol: -q}}); err != nil {
		return err
	}
	delete(o.reserved, key)
	return nil
}

func (o *sells) callsMade() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.calls...)
}

// user is a test user.
type user struct {
	h  *harness
	id string
}

// newUser opens id's account with startCash, as signup does.
func (h *harness) newUser(id string) *user {
	h.t.Helper()
	if err := h.ledger.OpenAccount(testCtx(h.t), id, startCash); err != nil {
		h.t.Fatalf("OpenAccount(%s): %v", id, err)
	}
	return &user{h: h, id: id}
}

// adjust books an adjustment directly through the ledger (test setup independent of POST).
func (u *user) adjust(symbol string, q money.Quantity) {
	u.h.t.Helper()
	if _, err := u.h.ledger.Apply(testCtx(u.h.t), ledger.Change{UserID: u.id, Entries: []ledger.Entry{{
		Type: ledger.TypeAdjustment, Symbol: symbol, Amount: int64(q), Description: "test setup",
	}}}); err != nil {
		u.h.t.Fatalf("adjust %s %s: %v", q, symbol, err)
	}
}

// do sends a request as the user through fn (the harness's function when nil), with a token
// minted now and the Idempotency-Key header when key is not empty. An empty user id sends no
// token.
func (u *user) doOn(fn *lambdahttp.Function, method, path, body, key string) testenv.Response {
	u.h.t.Helper()
	if fn == nil {
		fn = u.h.fn
	}
	header := testenv.JSONHeader()
	if u.id != "" {
		tok, _, err := u.h.tokens.Issue(context.Background(), u.id, "session-"+u.id)
		if err != nil {
			u.h.t.Fatal(err)
		}
		header.Set("Authorization", "Bearer "+tok)
	}
	if key != "" {
		header.Set(idempotency.HeaderName, key)
	}
	resource := ""
	if strings.HasPrefix(path, "/api/portfolio/holding/") {
		resource = "/api/portfolio/holding/{symbol}"
	}
	return testenv.Do(u.h.t, fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: header, Body: body})
}

func (u *user) do(method, path, body, key string) testenv.Response {
	u.h.t.Helper()
	return u.doOn(nil, method, path, body, key)
}

func (u *user) portfolio() testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodGet, "/api/portfolio", "", "")
}

func (u *user) holding(symbol string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodGet, "/api/portfolio/holding/"+symbol, "", "")
}

func (u *user) add(body, key string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodPost, "/api/portfolio/holding", body, key)
}

func (u *user) remove(symbol string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodDelete, "/api/portfolio/holding/"+symbol, "", "")
}

// addBody is a POST body; amount is JSON text (a number or a quoted string).
func addBody(symbol, amount string) string {
	return fmt.Sprintf(`{"symbol":%q,"amount":%s}`, symbol, amount)
}

// expect fails the test unless r has the status (and, for errors, the envelope and code), and
// returns the decoded body.
func expect(t *testing.T, r testenv.Response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	body := r.JSON(t)
	if code != "" && body["code"] != code {
		t.Fatalf("code %v, want %s: %s", body["code"], code, r.Body)
	}
	if status >= 400 && (body["error"] == nil || body["error"] != body["detail"] || body["request_id"] == nil) {
		t.Fatalf("not the error envelope: %s", r.Body)
	}
	return body
}

// The frontend's view of the answers: its field names, each value kept as raw JSON so that the
// tests see the exact text the browser parses (a number, not a string; "32500.06", not 32500.06
// as a float).
type (
	frontPortfolio struct {
		TotalBalance  json.RawMessage `json:"totalBalance"`
		CashBalance   json.RawMessage `json:"cashBalance"`
		AvailableCash json.RawMessage `json:"availableCash"`
		HoldingsValue json.RawMessage `json:"holdingsValue"`
		Holdings      []frontHolding  `json:"holdings"`
		UpdatedAt     string          `json:"updatedAt"`
	}
	frontHolding struct {
		Symbol     string          `json:"symbol"`
		Name       string          `json:"name"`
		Amount     json.RawMessage `json:"amount"`
		Available  json.RawMessage `json:"available"`
		Price      json.RawMessage `json:"price"`
		Value      json.RawMessage `json:"value"`
		Allocation json.RawMessage `json:"allocation"`
		Change     json.RawMessage `json:"change"`
	}
)

// Exact key sets of the objects: a renamed or extra field fails the tests.
var (
	portfolioKeys = []string{"availableCash", "cashBalance", "holdings", "holdingsValue", "totalBalance", "updatedAt"}
	holdingKeys   = []string{"allocation", "amount", "available", "change", "name", "price", "symbol", "value"}
)

// decodePortfolio decodes a 200 of GET /api/portfolio as the frontend reads it, checking the
// key sets.
func decodePortfolio(t *testing.T, r testenv.Response) frontPortfolio {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &outer); err != nil || len(outer) != 1 || outer["portfolio"] == nil {
		t.Fatalf("want {portfolio}: %s", r.Body)
	}
	checkKeys(t, outer["portfolio"], portfolioKeys)
	var p frontPortfolio
	if err := json.Unmarshal(outer["portfolio"], &p); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Holdings []json.RawMessage `json:"holdings"`
	}
	_ = json.Unmarshal(outer["portfolio"], &raw)
	if raw.Holdings == nil {
		t.Fatalf("holdings must be a list, never null: %s", r.Body)
	}
	for _, h := range raw.Holdings {
		checkKeys(t, h, holdingKeys)
	}
	return p
}

// decodeHolding decodes the "holding" member of a response.
func decodeHolding(t *testing.T, r testenv.Response) frontHolding {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &outer); err != nil || outer["holding"] == nil {
		t.Fatalf("want {holding}: %s", r.Body)
	}
	checkKeys(t, outer["holding"], holdingKeys)
	var h frontHolding
	if err := json.Unmarshal(outer["holding"], &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func checkKeys(t *testing.T, obj json.RawMessage, want []string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("not an object: %s", obj)
	}
	if len(m) != len(want) {
		t.Fatalf("keys of %s, want exactly %v", obj, want)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Fatalf("no %q in %s", k, obj)
		}
	}
}

// num returns the text of a JSON number, failing on a string, null or anything else: the
// frontend calls toFixed on these.
func num(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	s := string(raw)
	if s == "" || s == "null" || s[0] == '"' || !json.Valid(raw) {
		t.Fatalf("%s is not a JSON number", s)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("%s is not a JSON number", s)
	}
	return s
}

// holdingRow is a holding's figures as JSON text, for comparisons.
type holdingRow struct {
	Symbol, Name, Amount, Available, Price, Value, Allocation, Change string
}

// row renders h; a null price or change is "null".
func row(t *testing.T, h frontHolding) holdingRow {
	t.Helper()
	orNull := func(raw json.RawMessage) string {
		if string(raw) == "null" {
			return "null"
		}
		return num(t, raw)
	}
	return holdingRow{
		Symbol: h.Symbol, Name: h.Name, Amount: num(t, h.Amount), Available: num(t, h.Available),
		Price: orNull(h.Price), Value: num(t, h.Value), Allocation: num(t, h.Allocation), Change: orNull(h.Change),
	}
}

// rawAccount and rawEntry are the stored shapes, decoded independently of the packages' types.
type rawAccount struct {
	Cash          int64            `bson:"cash"`
	CashAvailable int64            `bson:"cash_available"`
	Holdings      map[string]int64 `bson:"holdings"`
	Available     map[string]int64 `bson:"available"`
	Pending       bson.M           `bson:"pending"`
	Markers       map[string]any   `bson:"idem"`
}

type rawEntry struct {
	ID     string `bson:"_id"`
	Type   string `bson:"type"`
	Symbol string `bson:"symbol"`
	Amount int64  `bson:"amount"`
	Price  *int64 `bson:"price"`
	Value  int64  `bson:"value"`
}

func (h *harness) account(userID string) rawAccount {
	h.t.Helper()
	var a rawAccount
	if err := h.db.Collection(ledger.AccountsCollection).FindOne(testCtx(h.t), bson.D{{Key: "_id", Value: userID}}).Decode(&a); err != nil {
		h.t.Fatalf("read account %s: %v", userID, err)
	}
	return a
}

// entries returns userID's flushed entries of symbol, oldest first.
func (h *harness) entries(userID, symbol string) []rawEntry {
	h.t.Helper()
	ctx := testCtx(h.t)
	if err := h.ledger.Flush(ctx, userID); err != nil {
		h.t.Fatalf("Flush(%s): %v", userID, err)
	}
	filter := bson.D{{Key: "user_id", Value: userID}}
	if symbol != "" {
		filter = append(filter, bson.E{Key: "symbol", Value: symbol})
	}
	cur, err := h.db.Collection(ledger.TransactionsCollection).Find(ctx, filter)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []rawEntry
	if err := cur.All(ctx, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// assertInvariant flushes userID's ledger, then recomputes every balance from the entries with
// this test's own reading of the types and compares: balance == sum of the ledger, nothing
// pending, nothing negative, available never above its balance.
func (h *harness) assertInvariant(userID string) {
	h.t.Helper()
	var cash int64
	holdings := map[string]int64{}
	for _, e := range h.entries(userID, "") {
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
			h.t.Errorf("%s: entry %s of unknown type %q", userID, e.ID, e.Type)
		}
	}
	acc := h.account(userID)
	if acc.Cash != cash || acc.Cash < 0 || acc.CashAvailable < 0 || acc.CashAvailable > acc.Cash || len(acc.Pending) != 0 {
		h.t.Errorf("%s: cash %d (available %d), ledger says %d, %d pending", userID, acc.Cash, acc.CashAvailable, cash, len(acc.Pending))
	}
	for sym, q := range acc.Holdings {
		if q != holdings[sym] || q < 0 || acc.Available[sym] < 0 || acc.Available[sym] > q {
			h.t.Errorf("%s: holdings.%s %d (available %d), ledger says %d", userID, sym, q, acc.Available[sym], holdings[sym])
		}
	}
	for sym, q := range holdings {
		if acc.Holdings[sym] != q {
			h.t.Errorf("%s: holdings.%s %d, ledger says %d", userID, sym, acc.Holdings[sym], q)
		}
	}
}

// auditActions returns userID's audit actions, oldest first.
func (h *harness) auditActions(userID string) []auditRow {
	h.t.Helper()
	ctx := testCtx(h.t)
	cur, err := h.db.Collection(audit.Collection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []auditRow
	if err := cur.All(ctx, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

type auditRow struct {
	Action   string         `bson:"action"`
	Resource string         `bson:"resource"`
	Details  map[string]any `bson:"details"`
}

// assertNoSecrets fails if a token or the signing key reached a log line.
func (h *harness) assertNoSecrets() {
	h.t.Helper()
	logs := h.env.Logs.String()
	for _, v := range []string{testenv.JWTSecret, "Bearer "} {
		if strings.Contains(logs, v) {
			h.t.Errorf("a secret (%.8s…) appears in the logs", v)
		}
	}
}
