package trading_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// basePrices is the market every test starts from.
var basePrices = map[string]string{"BTC": "65000.12", "ETH": "3500", "SOL": "150.5"}

// harness is the orders function on a money test environment (moneyenv), wired as New wires it but
// on the environment's clock with the real guard, plus the market driven by a price file (the file
// feed, as PRICE_FEED=file:PATH) through the real refresher, whose AfterRefresh is the matcher.
type harness struct {
	*moneyenv.Env
	t         *testing.T
	svc       *trading.Service
	fn        *lambdahttp.Function
	matcher   *trading.Matcher
	refresher *market.Refresher
	priceFile string
	prices    map[string]string
	// hook, when set, runs at each step of an order transition (see trading.SetHook).
	hook atomic.Pointer[func(string) error]
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{Env: moneyenv.New(t), t: t, prices: maps.Clone(basePrices)}
	h.svc = trading.NewServiceFor(h.Deps, trading.Options{Now: h.Clock.Now})
	trading.SetHook(h.svc, func(step string) error {
		if f := h.hook.Load(); f != nil {
			return (*f)(step)
		}
		return nil
	})
	fn, err := trading.NewFunction(h.Deps, h.svc, h.Guard.Require)
	if err != nil {
		t.Fatal(err)
	}
	h.fn = fn
	h.matcher = trading.NewMatcher(h.svc)

	h.priceFile = filepath.Join(t.TempDir(), "prices.json")
	h.writePrices()
	h.refresher = h.NewRefresher(h.priceFile, h.matcher.Run)
	app.EnsureIndexes(testCtx(t), h.Deps, slices.Concat(h.fn.Indexes, market.Indexes()))
	h.refresh()
	return h
}

// testCtx bounds a test's direct database calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// writePrices writes h.prices to the price file.
func (h *harness) writePrices() {
	h.t.Helper()
	pricefile.Write(h.t, h.priceFile, h.prices)
}

// refresh runs one refresh of the prices function: store the file's prices, then the matcher.
func (h *harness) refresh() market.Result {
	h.t.Helper()
	res, err := h.refresher.Refresh(testCtx(h.t))
	if err != nil {
		h.t.Fatalf("Refresh: %v", err)
	}
	return res
}

// move sets symbol's price in the file, lets the price caches expire, and runs one refresh (and
// so the matcher).
func (h *harness) move(symbol, price string) {
	h.t.Helper()
	h.prices[symbol] = price
	h.writePrices()
	h.Clock.Advance(market.DefaultCacheTTL + time.Second)
	h.refresh()
}

// matcherLost sums, over the matcher runs logged so far, the orders a run found closed by another
// run first.
func (h *harness) matcherLost() int {
	h.t.Helper()
	n := 0
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		var rec struct {
			Msg  string `json:"message"`
			Lost int    `json:"closed_elsewhere"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "trading: matcher run" {
			n += rec.Lost
		}
	}
	return n
}

// user is a test user with an open account.
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

// give adds coins held elsewhere to the user's account (an adjustment, as the portfolio does).
func (u *user) give(symbol, amount string) {
	u.h.t.Helper()
	q, err := money.ParseQuantity(amount)
	if err != nil {
		u.h.t.Fatal(err)
	}
	if _, err := u.h.Ledger.Apply(testCtx(u.h.t), ledger.Change{UserID: u.id, Entries: []ledger.Entry{
		{Type: ledger.TypeAdjustment, Symbol: symbol, Amount: int64(q)},
	}}); err != nil {
		u.h.t.Fatalf("give %s %s: %v", amount, symbol, err)
	}
}

// do sends a request as the user (see moneyenv.Env.Header).
func (u *user) do(method, path, body, key string) testenv.Response {
	u.h.t.Helper()
	resource := ""
	if rest, ok := strings.CutPrefix(strings.SplitN(path, "?", 2)[0], "/api/orders/"); ok {
		resource = "/api/orders/{id}"
		if strings.HasSuffix(rest, "/cancel") {
			resource = "/api/orders/{id}/cancel"
		}
	}
	return testenv.Do(u.h.t, u.h.fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: u.h.Header(u.id, key), Body: body})
}

// order is POST /api/orders.
func (u *user) order(body, key string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodPost, "/api/orders", body, key)
}

func (u *user) get(path string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodGet, path, "", "")
}

func (u *user) cancel(id string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodPost, "/api/orders/"+id+"/cancel", "", "")
}

// market, limit and stop are POST bodies.
func marketOrder(side, pair, amount string) string {
	return fmt.Sprintf(`{"trading_pair":%q,"order_type":"market","side":%q,"amount":%s}`, pair, side, amount)
}

func limitOrder(typ, side, pair, amount, price string) string {
	return fmt.Sprintf(`{"trading_pair":%q,"order_type":%q,"side":%q,"amount":%s,"price":%s}`, pair, typ, side, amount, price)
}

// orderOf returns the "order" object of a response.
func orderOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	o, ok := body["order"].(map[string]any)
	if !ok {
		t.Fatalf("no order in %v", body)
	}
	return o
}

// placed sends an order that must succeed and returns its "order".
func (u *user) placed(body string) map[string]any {
	u.h.t.Helper()
	return orderOf(u.h.t, testenv.Expect(u.h.t, u.order(body, ""), http.StatusCreated, ""))
}

// orders reads the user's orders as stored.
func (h *harness) orders(userID string) []moneycheck.Order {
	h.t.Helper()
	return moneycheck.ReadOrders(h.t, h.DB, userID)
}

func (h *harness) storedOrder(id string) moneycheck.Order {
	h.t.Helper()
	var o moneycheck.Order
	if err := h.DB.Collection(trading.OrdersCollection).FindOne(testCtx(h.t), bson.D{{Key: "_id", Value: id}}).Decode(&o); err != nil {
		h.t.Fatalf("read order %s: %v", id, err)
	}
	return o
}

// auditActions lists the user's audit actions.
func (h *harness) auditActions(userID string) []string {
	h.t.Helper()
	ctx := testCtx(h.t)
	cur, err := h.DB.Collection(audit.Collection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		h.t.Fatal(err)
	}
	var rows []struct {
		Action string `bson:"action"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Action)
	}
	slices.Sort(out)
	return out
}

// assertInvariant checks userID's ledger (moneyenv.Env.AssertLedger) and, on the same state, the
// orders' invariant (moneycheck.State.Reservations) with the orders as stored: every order write
// must have happened.
func (h *harness) assertInvariant(userID string) {
	h.t.Helper()
	for _, err := range h.AssertLedger(userID).Reservations() {
		h.t.Error(err)
	}
}
