package trading_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// startCash is every test user's opening balance: 10000.00, the default STARTING_CASH_USD.
const startCash money.USD = 1_000_000

var clockBase = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// basePrices is the market every test starts from.
var basePrices = map[string]string{"BTC": "65000.12", "ETH": "3500", "SOL": "150.5"}

// harness is the orders function on a fresh embedded database, wired as New wires it but on an
// injected clock with the real guard, plus the market driven by a price file (the file feed, as
// PRICE_FEED=file:PATH) through the real refresher, whose AfterRefresh is the matcher.
type harness struct {
	t         *testing.T
	srv       *devdb.Server
	env       *testenv.Env
	clock     *fakeclock.Clock
	svc       *trading.Service
	fn        *lambdahttp.Function
	matcher   *trading.Matcher
	refresher *market.Refresher
	ledger    *ledger.Ledger
	tokens    *auth.Tokens
	db        *mongo.Database
	priceFile string
	prices    map[string]string
	// hook, when set, runs at each step of an order transition (see trading.SetHook).
	hook     atomic.Pointer[func(string) error]
	commands cmdlog.Log
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, srv: testenv.DB(t), clock: fakeclock.New(clockBase), prices: maps.Clone(basePrices)}
	cfg := testenv.Config(t, h.srv.URI(), nil)
	h.env = testenv.NewDeps(t, cfg, app.Options{Monitor: h.commands.Monitor()})
	d := h.env.Deps

	h.tokens = auth.NewTokens(auth.TokensOptions{Keys: d.Keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Now: h.clock.Now})
	guard := auth.NewGuard(h.tokens, auth.NewRevocations(auth.RevocationsOptions{DB: d.Mongo.Database, Logger: d.Logger, Now: h.clock.Now}))
	h.svc = trading.NewServiceFor(d, trading.Options{Now: h.clock.Now})
	trading.SetHook(h.svc, func(step string) error {
		if f := h.hook.Load(); f != nil {
			return (*f)(step)
		}
		return nil
	})
	fn, err := trading.NewFunction(d, h.svc, guard.Require)
	if err != nil {
		t.Fatal(err)
	}
	h.fn = fn
	h.matcher = trading.NewMatcher(h.svc)
	h.ledger = ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger, Now: h.clock.Now})

	h.priceFile = filepath.Join(t.TempDir(), "prices.json")
	h.writePrices()
	f, err := feed.New(context.Background(), "file:"+h.priceFile, feed.Options{Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.refresher = market.NewRefresher(d.Mongo.Database, f, market.RefresherOptions{
		Now: h.clock.Now, Logger: d.Logger, AfterRefresh: h.matcher.Run, BackfillDays: -1,
	})

	ctx := testCtx(t)
	app.EnsureIndexes(ctx, d, slices.Concat(h.fn.Indexes, market.Indexes()))
	db, err := d.Mongo.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	h.refresh()
	return h
}

// testCtx bounds a test's direct database calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// writePrices writes h.prices to the price file as the file feed reads it: to a temporary file
// renamed over the path, so a refresh never sees half a file.
func (h *harness) writePrices() {
	h.t.Helper()
	type quote struct {
		Symbol string `json:"symbol"`
		Price  string `json:"price"`
	}
	var doc struct {
		Quotes []quote `json:"quotes"`
	}
	for _, sym := range slices.Sorted(maps.Keys(h.prices)) {
		doc.Quotes = append(doc.Quotes, quote{sym, h.prices[sym]})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		h.t.Fatal(err)
	}
	tmp := h.priceFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.priceFile); err != nil {
		h.t.Fatal(err)
	}
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
	h.clock.Advance(market.DefaultCacheTTL + time.Second)
	h.refresh()
}

// matcherLost sums, over the matcher runs logged so far, the orders a run found closed by another
// run first.
func (h *harness) matcherLost() int {
	h.t.Helper()
	n := 0
	for _, line := range strings.Split(h.env.Logs.String(), "\n") {
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

// newUser opens id's account with startCash, as signup does.
func (h *harness) newUser(id string) *user {
	h.t.Helper()
	if err := h.ledger.OpenAccount(testCtx(h.t), id, startCash); err != nil {
		h.t.Fatalf("OpenAccount(%s): %v", id, err)
	}
	return &user{h: h, id: id}
}

// give adds coins held elsewhere to the user's account (an adjustment, as the portfolio does).
func (u *user) give(symbol, amount string) {
	u.h.t.Helper()
	q, err := money.ParseQuantity(amount)
	if err != nil {
		u.h.t.Fatal(err)
	}
	if _, err := u.h.ledger.Apply(testCtx(u.h.t), ledger.Change{UserID: u.id, Entries: []ledger.Entry{
		{Type: ledger.TypeAdjustment, Symbol: symbol, Amount: int64(q)},
	}}); err != nil {
		u.h.t.Fatalf("give %s %s: %v", amount, symbol, err)
	}
}

// do sends a request as the user, with a token minted now (so moving the clock never expires it)
// and the Idempotency-Key header when key is not empty. An empty user id sends no token.
func (u *user) do(method, path, body, key string) testenv.Response {
	u.h.t.Helper()
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
	if rest, ok := strings.CutPrefix(strings.SplitN(path, "?", 2)[0], "/api/orders/"); ok {
		resource = "/api/orders/{id}"
		if strings.HasSuffix(rest, "/cancel") {
			resource = "/api/orders/{id}/cancel"
		}
	}
	return testenv.Do(u.h.t, u.h.fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: header, Body: body})
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
	return orderOf(u.h.t, expect(u.h.t, u.order(body, ""), http.StatusCreated, ""))
}

// rawAccount, rawEntry and rawOrder are the stored shapes, decoded independently of the
// packages' own types.
type rawAccount struct {
	Cash          int64             `bson:"cash"`
	CashAvailable int64             `bson:"cash_available"`
	Holdings      map[string]int64  `bson:"holdings"`
	Available     map[string]int64  `bson:"available"`
	Pending       bson.M            `bson:"pending"`
	Open          map[string]bson.M `bson:"open_orders"`
	Writes        map[string]bson.M `bson:"order_writes"`
	Markers       bson.M            `bson:"idem"`
}

type rawEntry struct {
	ID      string  `bson:"_id"`
	Type    string  `bson:"type"`
	Symbol  string  `bson:"symbol"`
	Amount  int64   `bson:"amount"`
	Value   int64   `bson:"value"`
	Price   *int64  `bson:"price"`
	OrderID *string `bson:"order_id"`
}

type rawOrder struct {
	ID             string `bson:"_id"`
	UserID         string `bson:"user_id"`
	Symbol         string `bson:"symbol"`
	Side           string `bson:"side"`
	Type           string `bson:"order_type"`
	Status         string `bson:"status"`
	Amount         int64  `bson:"amount"`
	FilledPrice    *int64 `bson:"filled_price"`
	Fee            int64  `bson:"fee"`
	Total          int64  `bson:"total"`
	ReservedCash   int64  `bson:"reserved_cash"`
	ReservedAmount int64  `bson:"reserved_amount"`
}

func (h *harness) account(userID string) rawAccount {
	h.t.Helper()
	var a rawAccount
	if err := h.db.Collection(ledger.AccountsCollection).FindOne(testCtx(h.t), bson.D{{Key: "_id", Value: userID}}).Decode(&a); err != nil {
		h.t.Fatalf("read account %s: %v", userID, err)
	}
	return a
}

func findAll[T any](h *harness, collection string, filter bson.D) []T {
	h.t.Helper()
	ctx := testCtx(h.t)
	cur, err := h.db.Collection(collection).Find(ctx, filter)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) entries(userID string) []rawEntry {
	h.t.Helper()
	return findAll[rawEntry](h, ledger.TransactionsCollection, bson.D{{Key: "user_id", Value: userID}})
}

func (h *harness) orders(userID string) []rawOrder {
	h.t.Helper()
	return findAll[rawOrder](h, trading.OrdersCollection, bson.D{{Key: "user_id", Value: userID}})
}

func (h *harness) storedOrder(id string) rawOrder {
	h.t.Helper()
	var o rawOrder
	if err := h.db.Collection(trading.OrdersCollection).FindOne(testCtx(h.t), bson.D{{Key: "_id", Value: id}}).Decode(&o); err != nil {
		h.t.Fatalf("read order %s: %v", id, err)
	}
	return o
}

// auditActions lists the user's audit actions.
func (h *harness) auditActions(userID string) []string {
	h.t.Helper()
	type row struct {
		Action string `bson:"action"`
	}
	var out []string
	for _, r := range findAll[row](h, audit.Collection, bson.D{{Key: "user_id", Value: userID}}) {
		out = append(out, r.Action)
	}
	slices.Sort(out)
	return out
}

// assertInvariant checks the user's account against the ledger and the orders, with this test's
// own reading of the entry types: after a flush nothing is pending; every balance equals the sum
// of its entries and none is negative; what the account holds back (cash − cash_available,
// holdings − available) equals the reservations of the open orders, which are exactly the
// account's open marks; every filled order has one trade and one fee entry matching it, and every
// entry of an order belongs to a filled one.
func (h *harness) assertInvariant(userID string) {
	h.t.Helper()
	if err := h.ledger.Flush(testCtx(h.t), userID); err != nil {
		h.t.Fatalf("Flush(%s): %v", userID, err)
	}
	acc := h.account(userID)
	if len(acc.Pending) != 0 {
		h.t.Errorf("%s: %d entries pending after a flush", userID, len(acc.Pending))
	}
	var cash int64
	holdings := map[string]int64{}
	byOrder := map[string][]rawEntry{}
	for _, e := range h.entries(userID) {
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
		if e.OrderID != nil {
			byOrder[*e.OrderID] = append(byOrder[*e.OrderID], e)
		}
	}
	if acc.Cash != cash || acc.Cash < 0 || acc.CashAvailable < 0 || acc.CashAvailable > acc.Cash {
		h.t.Errorf("%s: cash %d, available %d; the ledger says %d", userID, acc.Cash, acc.CashAvailable, cash)
	}
	for sym := range union(holdings, acc.Holdings) {
		if acc.Holdings[sym] != holdings[sym] || acc.Holdings[sym] < 0 || acc.Available[sym] < 0 || acc.Available[sym] > acc.Holdings[sym] {
			h.t.Errorf("%s: holdings.%s %d, available %d; the ledger says %d", userID, sym, acc.Holdings[sym], acc.Available[sym], holdings[sym])
		}
	}

	reservedCash := int64(0)
	reservedCoins := map[string]int64{}
	open := map[string]bool{}
	for _, o := range h.orders(userID) {
		entries := byOrder[o.ID]
		delete(byOrder, o.ID)
		switch o.Status {
		case "open":
			open[o.ID] = true
			reservedCash += o.ReservedCash
			reservedCoins[o.Symbol] += o.ReservedAmount
			if len(entries) != 0 {
				h.t.Errorf("%s: open order %s has %d entries", userID, o.ID, len(entries))
			}
		case "filled":
			h.assertFillEntries(userID, o, entries)
		default:
			if len(entries) != 0 {
				h.t.Errorf("%s: %s order %s has %d entries", userID, o.Status, o.ID, len(entries))
			}
		}
	}
	for id, es := range byOrder {
		h.t.Errorf("%s: %d entries of order %s, which is not in the orders collection", userID, len(es), id)
	}
	if held := acc.Cash - acc.CashAvailable; held != reservedCash {
		h.t.Errorf("%s: the account holds back %d cents, the open orders reserve %d", userID, held, reservedCash)
	}
	for sym := range union(reservedCoins, acc.Holdings) {
		if held := acc.Holdings[sym] - acc.Available[sym]; held != reservedCoins[sym] {
			h.t.Errorf("%s: the account holds back %d %s, the open orders reserve %d", userID, held, sym, reservedCoins[sym])
		}
	}
	for id := range acc.Open {
		if !open[id] {
			h.t.Errorf("%s: account mark of order %s, which is not open in the orders collection", userID, id)
		}
	}
	for id := range open {
		if _, ok := acc.Open[id]; !ok {
			h.t.Errorf("%s: open order %s has no account mark", userID, id)
		}
	}
}

// assertFillEntries: a filled order has exactly its trade entry and its fee entry, agreeing with
// the order's figures.
func (h *harness) assertFillEntries(userID string, o rawOrder, entries []rawEntry) {
	h.t.Helper()
	var trade, fee *rawEntry
	for i, e := range entries {
		switch e.Type {
		case o.Side:
			if trade != nil {
				h.t.Errorf("%s: order %s has two %s entries", userID, o.ID, e.Type)
			}
			trade = &entries[i]
		case "fee":
			if fee != nil {
				h.t.Errorf("%s: order %s has two fee entries", userID, o.ID)
			}
			fee = &entries[i]
		default:
			h.t.Errorf("%s: order %s has a %s entry", userID, o.ID, e.Type)
		}
	}
	if trade == nil || fee == nil {
		h.t.Errorf("%s: filled order %s has entries %v", userID, o.ID, entries)
		return
	}
	total := trade.Value + fee.Amount
	if o.Side == "sell" {
		total = trade.Value - fee.Amount
	}
	if trade.Amount != o.Amount || trade.Symbol != o.Symbol || fee.Amount != o.Fee || total != o.Total ||
		o.FilledPrice == nil || trade.Price == nil || *trade.Price != *o.FilledPrice {
		h.t.Errorf("%s: order %s (%+v) disagrees with its entries %+v, %+v", userID, o.ID, o, *trade, *fee)
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

// assertNoSecrets fails if a token or the signing key reached a log line.
func (h *harness) assertNoSecrets() {
	h.t.Helper()
	logs := h.env.Logs.String()
	for _, v := range []string{testenv.JWTSecret, "Bearer ", "eyJ"} {
		if strings.Contains(logs, v) {
			h.t.Errorf("a secret (%.8s…) appears in the logs", v)
		}
	}
}
