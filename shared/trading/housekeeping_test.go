package trading_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// TestAccountStaysSmall: what each order leaves in the account for later (recorded entries,
// written snapshots) is cleared by the account's next update, so after many orders the account
// holds only the last one's leftovers and the open orders' marks. Idempotency markers stay until
// no retry can need them, then go too.
func TestAccountStaysSmall(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	for i := range 10 {
		key := ""
		if i%2 == 0 {
			key = fmt.Sprintf("k%d", i)
		}
		testenv.Expect(t, u.order(marketOrder("buy", "ETH/USD", "0.01"), key), http.StatusCreated, "")
	}
	open := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.01", "100"))["id"].(string)
	acc := h.Account("u1")
	if len(acc.Pending) != 0 || len(acc.Writes) != 1 || len(acc.Open) != 1 || acc.Open[open] == nil {
		t.Fatalf("after 11 orders: %d pending, %d snapshots, open marks %v; want only the last order's snapshot and its mark",
			len(acc.Pending), len(acc.Writes), acc.Open)
	}
	if len(acc.Markers) != 5 {
		t.Fatalf("%d idempotency markers, want the 5 keyed orders'", len(acc.Markers))
	}

	// Once older than any retry could be, the markers ride out on the next updates.
	h.Clock.Advance(idempotency.MarkerRetention + time.Minute)
	h.move("ETH", h.prices["ETH"])
	u.placed(marketOrder("buy", "ETH/USD", "0.01")) // sees them stale
	u.placed(marketOrder("buy", "ETH/USD", "0.01")) // carries their removal
	if m := h.Account("u1").Markers; len(m) != 0 {
		t.Fatalf("markers %v left after their retention", m)
	}
	h.assertInvariant("u1")
}

// TestForeignMarkerDoesNotBlockRepair: a marker of another shape in the account (not a time) does
// not keep an order's interrupted write from being repaired.
func TestForeignMarkerDoesNotBlockRepair(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	if _, err := h.DB.Collection(ledger.AccountsCollection).UpdateOne(testCtx(t), bson.D{{Key: "_id", Value: "u1"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: idempotency.MarkerField + ".odd", Value: "not a time"}}}}); err != nil {
		t.Fatal(err)
	}
	h.once(trading.StepCommitted, inject(h, devdb.Fault{Command: "update", Times: 1, ErrorCode: 1}))
	first := u.placed(marketOrder("buy", "ETH/USD", "0.01"))["id"].(string)
	h.hook.Store(nil)
	u.placed(marketOrder("buy", "ETH/USD", "0.01"))
	if st := h.storedOrder(first).Status; st != "filled" {
		t.Fatalf("first order %s", st)
	}
	h.assertInvariant("u1")
}

// TestPricesFunction: the prices function built with the matcher (as the catalog will build it,
// on its own dependencies, with PRICE_FEED=file:PATH) fills a resting order on its scheduled run,
// and ensures the matcher's indexes; MatcherHook fits the prices function's hook list.
func TestPricesFunction(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	id := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.01", "60000"))["id"].(string)

	cfg := testenv.Config(t, h.Server.URI(), map[string]string{"PRICE_FEED": "file:" + h.priceFile})
	env := testenv.NewDeps(t, cfg, app.Options{})
	fn, err := trading.NewPricesFunction(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ix := range fn.Indexes {
		found = found || ix.Collection == trading.OrdersCollection && ix.Name == "status_symbol"
	}
	if fn.Scheduled == nil || !found {
		t.Fatalf("prices function %s: scheduled %v, indexes %v", fn.Name, fn.Scheduled != nil, fn.Indexes)
	}
	h.prices["BTC"] = "59000"
	h.writePrices()
	// The function runs on the real clock: the prices it stores are fresh for its matcher.
	if err := fn.Scheduled(testCtx(t), events.EventBridgeEvent{DetailType: "Scheduled Event"}); err != nil {
		t.Fatalf("scheduled run: %v", err)
	}
	if o := h.storedOrder(id); o.Status != "filled" || *o.FilledPrice != 6_000_000_000_000 {
		t.Fatalf("order after the scheduled run: %+v", o)
	}
	h.assertInvariant("u1")

	var hook func(*app.Deps) (func(context.Context, []market.Price) error, error) = trading.MatcherHook
	if run, err := hook(env.Deps); err != nil || run == nil {
		t.Fatalf("MatcherHook: %v", err)
	}
}
