package trading_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// TestMarketOrders: market orders fill at once at the server's price (a client price is ignored),
// with api.md's arithmetic, one buy or sell entry and one fee entry with the order id, and the
// balances moved in the same step.
func TestMarketOrders(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	if _, err := h.Ledger.Deposit(testCtx(t), "u1", 3_000_000, ""); err != nil { // 40000.00 in all
		t.Fatal(err)
	}
	tests := []struct {
		name, body              string
		side                    string
		filledPrice, fee, total string
		cash                    int64
		btc                     int64
	}{
		{"buy 0.5 BTC/USDT, client price ignored", `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":"0.5","price":1}`,
			"buy", "65000.12", "32.51", "32532.57", 4_000_000 - 3_253_257, 50_000_000},
		{"sell 0.5 BTC/USD", marketOrder("sell", "BTC/USD", "0.5"),
			"sell", "65000.12", "32.51", "32467.55", 4_000_000 - 3_253_257 + 3_246_755, 0},
		{"buy one satoshi", marketOrder("buy", "BTC/USD", "0.00000001"),
			"buy", "65000.12", "0.01", "0.02", 4_000_000 - 3_253_257 + 3_246_755 - 2, 1},
	}
	t.Cleanup(func() {
		// Every fill is an OrdersFilled count for the dashboard (EMF).
		if n := strings.Count(h.Metrics.String(), `"OrdersFilled":1`); n != len(tests) {
			t.Errorf("OrdersFilled published %d times for %d fills", n, len(tests))
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := u.order(tt.body, "")
			o := orderOf(t, testenv.Expect(t, r, http.StatusCreated, ""))
			for field, want := range map[string]string{"filled_price": tt.filledPrice, "fee": tt.fee, "total": tt.total} {
				if got := number(t, r.Body, "order", field); got != want {
					t.Errorf("%s = %s, want %s", field, got, want)
				}
			}
			if o["status"] != "filled" || o["price"] != nil || o["filled_at"] == nil || o["side"] != tt.side ||
				o["symbol"] != "BTC" || o["order_type"] != "market" || o["created_at"] != o["createdAt"] {
				t.Errorf("order %v", o)
			}
			acc := h.Account("u1")
			if acc.Cash != tt.cash || acc.CashAvailable != tt.cash || acc.Holdings["BTC"] != tt.btc || acc.Available["BTC"] != tt.btc {
				t.Errorf("cash %d/%d, BTC %d/%d; want %d and %d", acc.Cash, acc.CashAvailable, acc.Holdings["BTC"], acc.Available["BTC"], tt.cash, tt.btc)
			}
			stored := h.storedOrder(o["id"].(string))
			if stored.Status != "filled" || stored.ReservedCash != 0 {
				t.Errorf("stored order %+v", stored)
			}
		})
	}
	if got := h.auditActions("u1"); !slices.Equal(got, []string{audit.ActionOrderCreated, audit.ActionOrderCreated, audit.ActionOrderCreated}) {
		t.Errorf("audit actions %v", got)
	}
	h.assertInvariant("u1")
	h.AssertNoSecrets(t)
}

// TestPlaceErrors: each documented refusal of POST /api/orders, and that none of them changes
// anything.
func TestPlaceErrors(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.give("ETH", "1")
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"buy beyond the cash", marketOrder("buy", "BTC/USDT", "0.2"), 422, trading.CodeInsufficientFunds, ""},
		{"sell a coin not held", marketOrder("sell", "BTC/USDT", "0.1"), 422, trading.CodeInsufficientFunds, ""},
		{"sell more than held", marketOrder("sell", "ETH/USD", "1.00000001"), 422, trading.CodeInsufficientFunds, ""},
		{"limit buy reserving beyond the cash", limitOrder("limit", "buy", "BTC/USD", "1", "20000"), 422, trading.CodeInsufficientFunds, ""},
		{"limit sell reserving beyond the coins", limitOrder("limit", "sell", "ETH/USD", "2", "9000"), 422, trading.CodeInsufficientFunds, ""},
		{"sell whose fee exceeds its value", marketOrder("sell", "ETH/USD", "0.000001"), 422, web.CodeValidation, "amount"},
		{"order value out of range", limitOrder("limit", "buy", "BTC/USD", "1000000000", "1000000000"), 422, web.CodeValidation, "amount"},
		{"unsupported pair", marketOrder("buy", "DOT/USD", "1"), 422, web.CodeValidation, "trading_pair"},
		{"bad side", marketOrder("hold", "BTC/USD", "1"), 422, web.CodeValidation, "side"},
		{"bad type", `{"trading_pair":"BTC/USD","order_type":"trailing","side":"buy","amount":1}`, 422, web.CodeValidation, "order_type"},
		{"9 decimals", marketOrder("buy", "BTC/USD", "0.123456789"), 422, web.CodeValidation, "amount"},
		{"negative amount", marketOrder("buy", "BTC/USD", "-1"), 422, web.CodeValidation, "amount"},
		{"zero amount", marketOrder("buy", "BTC/USD", "0"), 422, web.CodeValidation, "amount"},
		{"1e400", marketOrder("buy", "BTC/USD", "1e400"), 422, web.CodeValidation, "amount"},
		{"NaN", marketOrder("buy", "BTC/USD", `"NaN"`), 422, web.CodeValidation, "amount"},
		{"limit without price", `{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":1}`, 422, web.CodeValidation, "price"},
		{"market with an invalid price", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":1,"price":"0"}`, 422, web.CodeValidation, "price"},
		{"not JSON", `{"trading_pair":`, 400, web.CodeInvalidJSON, ""},
	}
	before := h.Account("u1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := testenv.Expect(t, u.order(tt.body, ""), tt.status, tt.code)
			if tt.field != "" {
				if fields, _ := body["fields"].(map[string]any); fields[tt.field] == nil {
					t.Fatalf("no message for %s: %v", tt.field, body)
				}
			}
		})
	}
	if after := h.Account("u1"); after.Cash != before.Cash || after.CashAvailable != before.CashAvailable || after.Available["ETH"] != before.Available["ETH"] {
		t.Fatalf("a refused order moved the balances: %+v → %+v", before, after)
	}
	if n := len(h.orders("u1")); n != 0 {
		t.Fatalf("%d orders stored", n)
	}

	// Stale prices: trading refuses them (503 PRICE_STALE), market and resting orders alike.
	h.Clock.Advance(market.DefaultMaxAge + time.Minute)
	testenv.Expect(t, u.order(marketOrder("buy", "BTC/USD", "0.01"), ""), http.StatusServiceUnavailable, web.CodePriceStale)
	testenv.Expect(t, u.order(limitOrder("limit", "buy", "BTC/USD", "0.01", "100"), ""), http.StatusServiceUnavailable, web.CodePriceStale)
	h.move("BTC", h.prices["BTC"]) // a refresh, and the instance's cache expires
	testenv.Expect(t, u.order(marketOrder("buy", "BTC/USD", "0.01"), ""), http.StatusCreated, "")
	h.assertInvariant("u1")
}

// TestUnauthenticated: every route answers 401 without a token.
func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	anon := &user{h: h}
	for _, rq := range []struct{ method, path string }{
		{http.MethodGet, "/api/orders"},
		{http.MethodPost, "/api/orders"},
		{http.MethodGet, "/api/orders/0123456789abcdef01234567"},
		{http.MethodPost, "/api/orders/0123456789abcdef01234567/cancel"},
	} {
		testenv.Expect(t, anon.do(rq.method, rq.path, "", ""), http.StatusUnauthorized, "UNAUTHENTICATED")
	}
}

// TestListOrders: the caller's orders only, newest first, filtered by status and paged; bad
// parameters are 422, never clamped.
func TestListOrders(t *testing.T) {
	h := newHarness(t)
	u, other := h.newUser("u1"), h.newUser("u2")
	var ids []string
	for _, body := range []string{
		marketOrder("buy", "BTC/USD", "0.01"),
		limitOrder("limit", "buy", "ETH/USD", "0.1", "3000"),
		limitOrder("stop", "buy", "SOL/USDT", "1", "200"),
		marketOrder("buy", "ETH/USD", "0.1"),
	} {
		h.Clock.Advance(time.Second)
		ids = append(ids, u.placed(body)["id"].(string))
	}
	other.placed(marketOrder("buy", "ETH/USD", "0.2"))
	testenv.Expect(t, u.cancel(ids[2]), http.StatusOK, "")

	tests := []struct {
		query string
		want  []string
		total float64
	}{
		{"", []string{ids[3], ids[2], ids[1], ids[0]}, 4},
		{"?status=", []string{ids[3], ids[2], ids[1], ids[0]}, 4},
		{"?status=filled", []string{ids[3], ids[0]}, 2},
		{"?status=open", []string{ids[1]}, 1},
		{"?status=cancelled", []string{ids[2]}, 1},
		{"?status=expired", nil, 0},
		{"?limit=2&offset=1", []string{ids[2], ids[1]}, 4},
		{"?offset=10", nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			body := testenv.Expect(t, u.get("/api/orders"+tt.query), http.StatusOK, "")
			orders := body["orders"].([]any)
			var got []string
			for _, o := range orders {
				got = append(got, o.(map[string]any)["id"].(string))
			}
			if !slices.Equal(got, tt.want) || body["total"] != tt.total {
				t.Fatalf("orders %v (total %v), want %v (%v)", got, body["total"], tt.want, tt.total)
			}
		})
	}
	for _, bad := range []string{"?status=pending", "?status=open&status=filled", "?limit=0", "?limit=201", "?offset=-1", "?limit=x"} {
		testenv.Expect(t, u.get("/api/orders"+bad), http.StatusUnprocessableEntity, web.CodeValidation)
	}
	if body := testenv.Expect(t, h.newUser("u3").get("/api/orders"), http.StatusOK, ""); len(body["orders"].([]any)) != 0 || body["total"] != 0.0 {
		t.Fatalf("a user without orders got %v", body)
	}
}

// TestGetOrder: one order of the caller; another user's, an unknown and a malformed id are 404.
func TestGetOrder(t *testing.T) {
	h := newHarness(t)
	u, other := h.newUser("u1"), h.newUser("u2")
	placed := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.01", "60000"))
	id := placed["id"].(string)
	got := orderOf(t, testenv.Expect(t, u.get("/api/orders/"+id), http.StatusOK, ""))
	if fmt.Sprint(got) != fmt.Sprint(placed) {
		t.Fatalf("GET %v, POST said %v", got, placed)
	}
	if got["status"] != "open" || got["filled_price"] != nil || got["filled_at"] != nil || got["fee"] != 0.0 || got["total"] != 0.0 {
		t.Fatalf("open order %v", got)
	}
	// Another well-formed id: the same but for its last hex digit (which must really differ).
	last := "0"
	if id[23] == '0' {
		last = "1"
	}
	for _, path := range []string{"/api/orders/" + id[:23] + last, "/api/orders/not-an-id", "/api/orders/" + id + "x"} {
		testenv.Expect(t, u.get(path), http.StatusNotFound, web.CodeNotFound)
	}
	testenv.Expect(t, other.get("/api/orders/"+id), http.StatusNotFound, web.CodeNotFound)
	testenv.Expect(t, other.cancel(id), http.StatusNotFound, web.CodeNotFound)
}

// TestCancel: cancelling releases the reservation (cash for a buy, coins for a sell); a second
// cancel, or a cancel of a filled order, is 409 ORDER_NOT_OPEN.
func TestCancel(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.give("BTC", "1")
	buy := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.1", "60000"))
	sell := u.placed(limitOrder("limit", "sell", "BTC/USD", "0.4", "70000"))
	if acc := h.Account("u1"); acc.Cash-acc.CashAvailable != 600_600 || acc.Holdings["BTC"]-acc.Available["BTC"] != 40_000_000 {
		t.Fatalf("reserved %d cents and %d BTC units; want 6006.00 and 0.4", acc.Cash-acc.CashAvailable, acc.Holdings["BTC"]-acc.Available["BTC"])
	}
	h.assertInvariant("u1")

	for _, o := range []map[string]any{buy, sell} {
		body := testenv.Expect(t, u.cancel(o["id"].(string)), http.StatusOK, "")
		if c := orderOf(t, body); c["status"] != "cancelled" || c["id"] != o["id"] || body["message"] == nil {
			t.Fatalf("cancel answered %v", body)
		}
		testenv.Expect(t, u.cancel(o["id"].(string)), http.StatusConflict, trading.CodeOrderNotOpen)
	}
	if acc := h.Account("u1"); acc.CashAvailable != acc.Cash || acc.Available["BTC"] != acc.Holdings["BTC"] || len(acc.Open) != 0 {
		t.Fatalf("after the cancels: %+v", acc)
	}
	filled := u.placed(marketOrder("buy", "BTC/USD", "0.01"))
	testenv.Expect(t, u.cancel(filled["id"].(string)), http.StatusConflict, trading.CodeOrderNotOpen)
	testenv.Expect(t, u.cancel("0123456789abcdef01234567"), http.StatusNotFound, web.CodeNotFound)
	testenv.Expect(t, u.cancel("bad"), http.StatusNotFound, web.CodeNotFound)
	if n := countOf(h.auditActions("u1"), audit.ActionOrderCancelled); n != 2 {
		t.Fatalf("%d ORDER_CANCELLED entries, want 2", n)
	}
	h.assertInvariant("u1")
}

// TestIdempotentOrders: a retry with the same key and the same parsed order gets the first
// response byte for byte and books nothing; another order, or a key spent on another route, is
// 409 IDEMPOTENCY_KEY_REUSED; a 422 is stored too.
func TestIdempotentOrders(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	first := u.order(marketOrder("buy", "BTC/USDT", "0.05"), "k1")
	testenv.Expect(t, first, http.StatusCreated, "")
	h.move("BTC", "66000") // a retry is answered from the store, not re-priced
	for _, body := range []string{
		marketOrder("buy", "btc/usdt", `"0.050"`),
		`{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.05,"price":66000}`,
	} {
		r := u.order(body, "k1")
		if r.Status != http.StatusCreated || !bytes.Equal(r.Body, first.Body) || r.Header.Get(idempotency.ReplayedHeader) != "true" {
			t.Fatalf("retry %s: %d %s; want the first response", body, r.Status, r.Body)
		}
	}
	testenv.Expect(t, u.order(marketOrder("sell", "BTC/USDT", "0.05"), "k1"), http.StatusConflict, idempotency.CodeKeyReused)
	if n := len(h.orders("u1")); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}

	// A key spent on POST /api/transactions is refused here.
	ctx := testCtx(t)
	other := idempotency.NewStore(h.Deps.Mongo.Database, h.Clock.Now)
	c, _, err := other.Begin(ctx, "u1", "shared", "POST /api/transactions", `{"deposit":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(ctx, http.StatusCreated, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	testenv.Expect(t, u.order(marketOrder("buy", "BTC/USDT", "0.01"), "shared"), http.StatusConflict, idempotency.CodeKeyReused)

	// A refusal is an outcome: replayed even once the funds are there.
	refused := u.order(marketOrder("buy", "ETH/USD", "5"), "k2")
	testenv.Expect(t, refused, http.StatusUnprocessableEntity, trading.CodeInsufficientFunds)
	if _, err := h.Ledger.Deposit(ctx, "u1", 5_000_000, ""); err != nil {
		t.Fatal(err)
	}
	if again := u.order(marketOrder("buy", "ETH/USD", "5"), "k2"); !bytes.Equal(again.Body, refused.Body) {
		t.Fatalf("retry of a refusal: %s; want %s", again.Body, refused.Body)
	}
	testenv.Expect(t, u.order(marketOrder("buy", "ETH/USD", "1"), "\x01"), http.StatusUnprocessableEntity, web.CodeValidation)
	h.assertInvariant("u1")
}

// TestCancelOpenSells: the portfolio's hook cancels exactly the user's open sells of the coin,
// making the whole holding available; other orders and users are untouched.
func TestCancelOpenSells(t *testing.T) {
	h := newHarness(t)
	u, other := h.newUser("u1"), h.newUser("u2")
	u.give("BTC", "1")
	u.give("ETH", "1")
	other.give("BTC", "1")
	s1 := u.placed(limitOrder("limit", "sell", "BTC/USD", "0.3", "70000"))
	s2 := u.placed(limitOrder("stop", "sell", "BTC/USDT", "0.2", "60000"))
	keepETH := u.placed(limitOrder("limit", "sell", "ETH/USD", "0.5", "4000"))
	keepBuy := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.01", "60000"))
	keepOther := other.placed(limitOrder("limit", "sell", "BTC/USD", "0.5", "70000"))

	if err := h.svc.CancelOpenSells(testCtx(t), "u1", "btc"); err != nil {
		t.Fatalf("CancelOpenSells: %v", err)
	}
	for _, o := range []map[string]any{s1, s2} {
		if st := h.storedOrder(o["id"].(string)).Status; st != "cancelled" {
			t.Errorf("order %s is %s, want cancelled", o["id"], st)
		}
	}
	for _, o := range []map[string]any{keepETH, keepBuy, keepOther} {
		if st := h.storedOrder(o["id"].(string)).Status; st != "open" {
			t.Errorf("order %s is %s, want open", o["id"], st)
		}
	}
	if acc := h.Account("u1"); acc.Available["BTC"] != acc.Holdings["BTC"] {
		t.Fatalf("BTC available %d of %d", acc.Available["BTC"], acc.Holdings["BTC"])
	}
	if err := h.svc.CancelOpenSells(testCtx(t), "u1", "BTC"); err != nil { // nothing left: no-op
		t.Fatal(err)
	}
	h.assertInvariant("u1")
	h.assertInvariant("u2")
}

// number renders a JSON number field of a response as sent ("32500.06", "0.00").
func number(t *testing.T, raw []byte, path ...string) string {
	t.Helper()
	v := raw
	for _, p := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatalf("%s: not an object at %q", raw, p)
		}
		v = m[p]
	}
	return string(v)
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
