package trading_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// TestLimitBuyFillsOnce: a limit buy below the market rests with its reservation; the price file
// moves the market across it; the refresh's matcher run — overlapping two more runs — fills it
// exactly once, at its limit price, and nothing is left reserved. A later run changes nothing.
func TestLimitBuyFillsOnce(t *testing.T) {
	h := newHarness(t)
	users := []*user{h.newUser("u1"), h.newUser("u2")}
	var ids []string
	for _, u := range users {
		for _, amount := range []string{"0.01", "0.02"} {
			o := u.placed(limitOrder("limit", "buy", "BTC/USDT", amount, "60000"))
			if o["status"] != "open" {
				t.Fatalf("limit buy below the market: %v", o)
			}
			ids = append(ids, o["id"].(string))
		}
	}
	if acc := h.Account("u1"); acc.Cash-acc.CashAvailable != 60_060+120_120 { // 600.60 + 1201.20
		t.Fatalf("u1 reserves %d cents", acc.Cash-acc.CashAvailable)
	}
	h.move("BTC", "60500") // above the limit: nothing fills
	for _, id := range ids {
		if st := h.storedOrder(id).Status; st != "open" {
			t.Fatalf("order %s is %s at 60500", id, st)
		}
	}

	// Cross the limit: the refresh's own matcher run and two more, at once. The account updates
	// are delayed (outside the engine's lock), so every run reads the orders as open before any
	// of them fills one.
	h.Server.Inject(devdb.Fault{Command: "findAndModify", Delay: 100 * time.Millisecond})
	h.prices["BTC"] = "59000"
	h.writePrices()
	h.Clock.Advance(market.DefaultCacheTTL + time.Second)
	now := h.Clock.Now()
	crossed := []market.Price{{Symbol: "BTC", Price: 5_900_000_000_000, UpdatedAt: now}}
	var wg sync.WaitGroup
	wg.Go(func() { h.refresh() })
	for range 2 {
		wg.Go(func() {
			if err := h.matcher.Run(testCtx(t), crossed); err != nil {
				t.Errorf("overlapping run: %v", err)
			}
		})
	}
	wg.Wait()
	h.Server.ClearFaults()
	if lost := h.matcherLost(); lost == 0 {
		t.Fatal("no run found an order closed by another: the runs did not overlap")
	}

	for _, id := range ids {
		o := h.storedOrder(id)
		if o.Status != "filled" || o.FilledPrice == nil || *o.FilledPrice != 6_000_000_000_000 {
			t.Fatalf("order %s: %+v; want filled at the limit price 60000", id, o)
		}
	}
	for _, u := range users {
		acc := h.Account(u.id)
		if acc.CashAvailable != acc.Cash || acc.Holdings["BTC"] != 3_000_000 || len(acc.Open) != 0 {
			t.Fatalf("%s after the fill: %+v", u.id, acc)
		}
		// 0.01 at 60000: 600.00 + 0.60 fee; 0.02: 1200.00 + 1.20.
		if want := int64(moneyenv.StartCash) - 60_060 - 120_120; acc.Cash != want {
			t.Fatalf("%s: cash %d, want %d", u.id, acc.Cash, want)
		}
		if n := countOf(h.auditActions(u.id), audit.ActionOrderFilled); n != 2 {
			t.Fatalf("%s: %d ORDER_FILLED entries, want 2", u.id, n)
		}
		h.assertInvariant(u.id)
	}

	// One more run, with the same prices: nothing left to do.
	before := len(h.Entries("u1"))
	if err := h.matcher.Run(testCtx(t), crossed); err != nil {
		t.Fatal(err)
	}
	h.move("BTC", "58000")
	if after := len(h.Entries("u1")); after != before {
		t.Fatalf("%d entries after more runs, were %d", after, before)
	}
}

// TestStopOrders: a stop-loss sell triggers on the way down and executes at the refresh's price; a
// stop buy triggers on the way up, taking the difference above its reservation from the available
// cash — and is rejected, its reservation released, when there is not enough.
func TestStopOrders(t *testing.T) {
	h := newHarness(t)
	seller, rich, poor := h.newUser("seller"), h.newUser("rich"), h.newUser("poor")
	seller.give("BTC", "1")

	stopSell := seller.placed(limitOrder("stop", "sell", "BTC/USD", "0.5", "60000"))["id"].(string)
	stopBuy := rich.placed(limitOrder("stop", "buy", "BTC/USD", "0.1", "66000"))["id"].(string)
	rejected := poor.placed(limitOrder("stop", "buy", "BTC/USD", "0.1", "66000"))["id"].(string)
	// poor spends everything the stop does not hold back (6606.60 reserved).
	if _, err := h.Ledger.Apply(testCtx(t), ledger.Change{UserID: "poor", Entries: []ledger.Entry{
		{Type: ledger.TypeWithdrawal, Symbol: ledger.CashSymbol, Amount: 1_000_000 - 660_660, Value: 1_000_000 - 660_660},
	}}); err != nil {
		t.Fatal(err)
	}

	h.move("BTC", "61000") // neither triggers
	if h.storedOrder(stopSell).Status != "open" || h.storedOrder(stopBuy).Status != "open" {
		t.Fatal("a stop triggered early")
	}
	h.move("BTC", "70000.5") // the buys trigger: 0.1 at 70000.50 costs 7000.05 + 7.01 (7.00005 up)
	buy := h.storedOrder(stopBuy)
	if buy.Status != "filled" || *buy.FilledPrice != 7_000_050_000_000 || buy.Total != 700_706 {
		t.Fatalf("stop buy %+v; want filled at 70000.5 for 7007.06", buy)
	}
	if acc := h.Account("rich"); acc.Cash != int64(moneyenv.StartCash)-700_706 || acc.CashAvailable != acc.Cash {
		t.Fatalf("rich: %+v", acc)
	}
	rej := h.storedOrder(rejected)
	if rej.Status != "rejected" || rej.FilledPrice != nil || rej.Total != 0 {
		t.Fatalf("poor's stop buy %+v; want rejected", rej)
	}
	if acc := h.Account("poor"); acc.Cash != 660_660 || acc.CashAvailable != 660_660 || acc.Holdings["BTC"] != 0 {
		t.Fatalf("poor after the rejection: %+v; want the reservation released, nothing bought", acc)
	}
	if countOf(h.auditActions("poor"), trading.ActionOrderRejected) != 1 {
		t.Fatalf("poor's audit: %v", h.auditActions("poor"))
	}

	h.move("BTC", "59999.99") // the stop-loss triggers, at this refresh's price
	sell := h.storedOrder(stopSell)
	// 0.5 × 59999.99 = 29999.995 → 29999.99 (down); fee 30.00 (29.999995 up).
	if sell.Status != "filled" || *sell.FilledPrice != 5_999_999_000_000 || sell.Fee != 3_000 || sell.Total != 2_999_999-3_000 {
		t.Fatalf("stop sell %+v", sell)
	}
	for _, u := range []string{"seller", "rich", "poor"} {
		h.assertInvariant(u)
	}
}

// TestExpiry: a resting order that has not filled after 30 days is expired by the matcher, and its
// reservation released.
func TestExpiry(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.give("ETH", "2")
	buy := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.01", "10000"))["id"].(string)
	sell := u.placed(limitOrder("limit", "sell", "ETH/USD", "1.5", "9000"))["id"].(string)
	h.Clock.Advance(trading.OrderLifetime - time.Minute)
	h.refresh()
	if h.storedOrder(buy).Status != "open" {
		t.Fatal("expired early")
	}
	h.Clock.Advance(time.Minute)
	h.refresh()
	for _, id := range []string{buy, sell} {
		if st := h.storedOrder(id).Status; st != "expired" {
			t.Fatalf("order %s is %s after 30 days", id, st)
		}
	}
	acc := h.Account("u1")
	if acc.CashAvailable != acc.Cash || acc.Available["ETH"] != acc.Holdings["ETH"] || len(acc.Open) != 0 {
		t.Fatalf("after expiry: %+v", acc)
	}
	if n := countOf(h.auditActions("u1"), trading.ActionOrderExpired); n != 2 {
		t.Fatalf("%d ORDER_EXPIRED entries", n)
	}
	testenv.Expect(t, u.cancel(buy), http.StatusConflict, trading.CodeOrderNotOpen)
	h.assertInvariant("u1")
}

// TestImmediateFills: a limit order already marketable and a stop whose trigger is met execute at
// once at the current price, like a market order.
func TestImmediateFills(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.give("BTC", "1")
	tests := []struct{ typ, side, price string }{
		{"limit", "buy", "70000"}, // the market (65000.12) is below the limit
		{"limit", "sell", "60000"},
		{"stop", "sell", "70000"}, // the market is already below the stop
		{"stop", "buy", "60000"},
		{"limit", "buy", "65000.12"}, // at the limit exactly
	}
	for _, tt := range tests {
		o := u.placed(limitOrder(tt.typ, tt.side, "BTC/USD", "0.01", tt.price))
		if o["status"] != "filled" || o["filled_price"] != 65000.12 || o["order_type"] != tt.typ || o["price"] == nil {
			t.Errorf("%s %s at %s: %v; want filled at once at 65000.12", tt.typ, tt.side, tt.price, o)
		}
	}
	if acc := h.Account("u1"); len(acc.Open) != 0 || acc.CashAvailable != acc.Cash {
		t.Fatalf("something rests: %+v", acc)
	}
	h.assertInvariant("u1")
}

// TestStalePricesTriggerNothing: a price the refresh did not renew for longer than PRICE_MAX_AGE
// fills nothing, as trading refuses it; expiry still runs.
func TestStalePricesTriggerNothing(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	id := u.placed(limitOrder("limit", "buy", "SOL/USD", "1", "140"))["id"].(string)
	stale := []market.Price{{Symbol: "SOL", Price: money.Price(100_00000000), UpdatedAt: h.Clock.Now().Add(-market.DefaultMaxAge - time.Second)}}
	if err := h.matcher.Run(testCtx(t), stale); err != nil {
		t.Fatal(err)
	}
	if st := h.storedOrder(id).Status; st != "open" {
		t.Fatalf("a stale price filled the order: %s", st)
	}
}
