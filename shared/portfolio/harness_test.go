package portfolio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// defaultQuotes is the market of most tests, in the file feed's format: BTC and ETH (by its id)
// with 24 h changes, DOGE with 8 decimals; the other coins have no stored price.
const defaultQuotes = `[
  {"symbol": "BTC", "price": "65000.12", "change_24h": "2.5"},
  {"symbol": "ethereum", "price": 3500.5, "change_24h": -1.25},
  {"symbol": "DOGE", "price": "0.15123456", "change_24h": "0"}
]`

// harness is the portfolio function on a money test environment (moneyenv), wired as NewFunction
// wires it but with the real guard, ledger, idempotency store and audit writer on the
// environment's clock, and prices stored by the real refresher from the real file feed.
type harness struct {
	*moneyenv.Env
	t         *testing.T
	fn        *lambdahttp.Function
	pricePath string
	refresher *market.Refresher
	sells     *sells
	// cancel, when set, replaces the stand-in's CancelOpenSells (race and failure tests).
	cancel atomic.Pointer[func(ctx context.Context, userID, symbol string) error]
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{Env: moneyenv.New(t), t: t}
	h.sells = &sells{l: h.Ledger, reserved: map[string]money.Quantity{}}

	// Every read of the harness's store goes to the database once the clock moves (setPrices
	// moves it), so each request sees the last refresh; the round-trip test builds its own store
	// with the production cache TTL.
	h.fn = h.function(h.store(time.Nanosecond))
	app.EnsureIndexes(testCtx(t), h.Deps, h.fn.Indexes)

	h.pricePath = filepath.Join(t.TempDir(), "prices.json")
	h.refresher = h.NewRefresher(h.pricePath, nil)
	h.setPrices(defaultQuotes)
	return h
}

// store is a price store on the harness clock with the given cache TTL.
func (h *harness) store(ttl time.Duration) *market.Store {
	return market.NewStore(h.Deps.Mongo.Database, market.StoreOptions{Now: h.Clock.Now, CacheTTL: ttl})
}

// function builds the portfolio function on prices, with the harness's guard and clock and the
// stand-in for trading's CancelOpenSells.
func (h *harness) function(prices *market.Store) *lambdahttp.Function {
	d := h.Deps
	db := d.Mongo.Database
	s := portfolio.NewService(db, prices,
		ledger.New(db, ledger.Options{Logger: d.Logger, Now: h.Clock.Now}),
		idempotency.NewStore(db, h.Clock.Now, idempotency.WithLogger(d.Logger)),
		audit.NewWriter(db, d.Logger, h.Clock.Now),
		portfolio.Options{Now: h.Clock.Now, Logger: d.Logger, CancelOpenSells: h.cancelOpenSells})
	rt := d.Router()
	s.Routes(rt, h.Guard.Require)
	return &lambdahttp.Function{
		Name: portfolio.Name, HTTP: d.HTTP(portfolio.Name, rt), Routes: rt.Routes(), Logger: d.Logger,
		Indexes: portfolio.Indexes(),
	}
}

// cancelOpenSells is the service's Options.CancelOpenSells: it notes what the removal's read saw
// reserved, then runs the test's replacement or the stand-in, whatever that is (the production
// wiring's skip when nothing is reserved is NewFunction's, tested there).
func (h *harness) cancelOpenSells(ctx context.Context, userID, symbol string, reserved money.Quantity) error {
	h.sells.noteReserved(reserved)
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
	pricefile.WriteQuotes(h.t, h.pricePath, quotes)
	res, err := h.refresher.Refresh(testCtx(h.t))
	if err != nil || res.FeedError != nil {
		h.t.Fatalf("refresh: %v, feed error %v", err, res.FeedError)
	}
	h.Clock.Advance(time.Millisecond)
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
	seen     []money.Quantity          // what the removal's read showed reserved, per call
}

func (o *sells) noteReserved(q money.Quantity) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, q)
}

func (o *sells) reservedSeen() []money.Quantity {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]money.Quantity(nil), o.seen...)
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

// newUser opens id's account with moneyenv.StartCash, as signup does.
func (h *harness) newUser(id string) *user {
	h.t.Helper()
	h.OpenAccount(id)
	return &user{h: h, id: id}
}

// adjust books an adjustment directly through the ledger (test setup independent of POST).
func (u *user) adjust(symbol string, q money.Quantity) {
	u.h.t.Helper()
	if _, err := u.h.Ledger.Apply(testCtx(u.h.t), ledger.Change{UserID: u.id, Entries: []ledger.Entry{{
		Type: ledger.TypeAdjustment, Symbol: symbol, Amount: int64(q), Description: "test setup",
	}}}); err != nil {
		u.h.t.Fatalf("adjust %s %s: %v", q, symbol, err)
	}
}

// doOn sends a request as the user (see moneyenv.Env.Header) through fn, the harness's function
// when nil.
func (u *user) doOn(fn *lambdahttp.Function, method, path, body, key string) testenv.Response {
	u.h.t.Helper()
	if fn == nil {
		fn = u.h.fn
	}
	resource := ""
	if strings.HasPrefix(path, "/api/portfolio/holding/") {
		resource = "/api/portfolio/holding/{symbol}"
	}
	return testenv.Do(u.h.t, fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: u.h.Header(u.id, key), Body: body})
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

// entries returns userID's entries of symbol (of every asset when empty), oldest first, after a
// flush.
func (h *harness) entries(userID, symbol string) []moneycheck.Entry {
	h.t.Helper()
	h.Flush(userID)
	var out []moneycheck.Entry
	for _, e := range h.Entries(userID) {
		if symbol == "" || e.Symbol == symbol {
			out = append(out, e)
		}
	}
	return out
}

// auditActions returns userID's audit actions, oldest first.
func (h *harness) auditActions(userID string) []auditRow {
	h.t.Helper()
	ctx := testCtx(h.t)
	cur, err := h.DB.Collection(audit.Collection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
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
