package market

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

func TestRefreshFeedError(t *testing.T) {
	e := newTestEnv(t)
	afterCalls := 0
	r := e.refresher(RefresherOptions{AfterRefresh: func(context.Context, []Price) error { afterCalls++; return nil }})
	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, r)
	before := e.rawPrices(t)
	afterCalls = 0

	e.clock.Advance(2 * time.Minute)
	upstream := errors.New("upstream 503")
	e.feed.set(nil, upstream)
	res, err := r.Refresh(testCtx(t))
	if err != nil {
		t.Fatalf("Refresh returned %v: an upstream outage must not fail the scheduled function", err)
	}
	if !errors.Is(res.FeedError, upstream) || res.Stored != 0 || res.Kept != len(feed.Coins) || len(res.Prices) != len(feed.Coins) {
		t.Fatalf("result = %+v, want the feed error and every price kept", res)
	}
	if after := e.rawPrices(t); len(after) != len(before) {
		t.Fatalf("%d documents after the error, %d before", len(after), len(before))
	} else {
		for sym, d := range before {
			if after[sym] != d {
				t.Errorf("%s changed on a feed error: %+v → %+v", sym, d, after[sym])
			}
		}
	}
	if afterCalls != 0 {
		t.Errorf("AfterRefresh called %d times on a feed error; nothing changed", afterCalls)
	}
	m := lastEMF(t, e.metrics)
	if m["PriceFeedErrors"] != 1.0 || m["PricesStored"] != 0.0 || m["PriceAgeSeconds"] != 120.0 {
		t.Errorf("metrics = %v, want PriceFeedErrors 1, PricesStored 0, PriceAgeSeconds 120", m)
	}
	if !strings.Contains(e.logs.String(), "price feed failed") || !strings.Contains(e.logs.String(), "upstream 503") {
		t.Errorf("feed error not logged:\n%s", e.logs.String())
	}
}

func TestRefreshPartialQuotes(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{})
	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, r)

	e.clock.Advance(10 * time.Second)
	e.feed.set([]feed.Quote{quote("BTC", scaled(basePrices["BTC"], 11, 10)), quote("ETH", scaled(basePrices["ETH"], 9, 10))}, nil)
	res := mustRefresh(t, r)
	if res.Stored != 2 || res.Kept != len(feed.Coins)-2 {
		t.Fatalf("result = %+v, want 2 stored and the rest kept", res)
	}
	raw := e.rawPrices(t)
	for _, c := range feed.Coins {
		d := raw[c.Symbol]
		switch c.Symbol {
		case "BTC", "ETH":
			if !d.UpdatedAt.Equal(start.Add(10 * time.Second)) {
				t.Errorf("%s updated_at = %v, want the second refresh", c.Symbol, d.UpdatedAt)
			}
		default:
			if d.Price != int64(basePrices[c.Symbol]) || !d.UpdatedAt.Equal(start) {
				t.Errorf("%s = %d at %v, want its old price and time", c.Symbol, d.Price, d.UpdatedAt)
			}
		}
	}
}

func TestRefreshRejects(t *testing.T) {
	tests := []struct {
		name  string
		quote feed.Quote
	}{
		{"zero price", quote("BTC", 0)},
		{"negative price", quote("BTC", -100)},
		{"price above the maximum", quote("BTC", money.MaxPrice+1)},
		{"negative volume", func() feed.Quote { q := quote("BTC", basePrices["BTC"]); q.Volume24h = -1; return q }()},
		{"unsupported coin", quote("LUNA", 100)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			r := e.refresher(RefresherOptions{})
			e.feed.set(quotesAt(1, 1), nil)
			mustRefresh(t, r)
			before := e.rawPrices(t)

			e.clock.Advance(10 * time.Second)
			e.feed.set([]feed.Quote{tc.quote, quote("ETH", basePrices["ETH"])}, nil)
			res := mustRefresh(t, r)
			if res.Rejected != 1 || res.Stored != 1 {
				t.Fatalf("result = %+v, want 1 rejected and ETH stored", res)
			}
			if got := e.rawPrices(t)["BTC"]; got != before["BTC"] {
				t.Errorf("BTC changed: %+v → %+v", before["BTC"], got)
			}
			if _, ok := e.rawPrices(t)["LUNA"]; ok {
				t.Error("an unsupported coin was stored")
			}
			if m := lastEMF(t, e.metrics); m["PriceQuotesRejected"] != 1.0 {
				t.Errorf("metrics = %v, want PriceQuotesRejected 1", m)
			}
			if !strings.Contains(e.logs.String(), "price quote rejected") {
				t.Error("rejection not logged")
			}
		})
	}

	t.Run("zero price as a first quote", func(t *testing.T) {
		e := newTestEnv(t)
		e.feed.set([]feed.Quote{quote("BTC", 0)}, nil)
		res := mustRefresh(t, e.refresher(RefresherOptions{}))
		if res.Rejected != 1 || len(e.rawPrices(t)) != 0 {
			t.Fatalf("result = %+v, documents %v: a zero price must never be stored", res, e.rawPrices(t))
		}
	})
	t.Run("duplicate quote keeps the first", func(t *testing.T) {
		e := newTestEnv(t)
		e.feed.set([]feed.Quote{quote("BTC", 100), quote("btc", 200)}, nil)
		res := mustRefresh(t, e.refresher(RefresherOptions{}))
		if res.Rejected != 1 || res.Stored != 1 || e.rawPrices(t)["BTC"].Price != 100 {
			t.Fatalf("result = %+v, BTC %d; want the first quote stored and the second rejected", res, e.rawPrices(t)["BTC"].Price)
		}
	})
}

// TestRefreshHeldQuotes walks one coin through scripted quotes; each step says what the refresh
// must do and what BTC's stored price and held price are afterwards.
func TestRefreshHeldQuotes(t *testing.T) {
	base := basePrices["BTC"]
	type step struct {
		price      money.Price
		tick       int // the quote's upstream time in minutes after start; 0: the run's time
		wantStored int
		wantHeld   int
		wantPrice  money.Price // stored price after the step
		wantHeldAt money.Price // held price after the step, 0 for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a confirmed jump is accepted", []step{
			{price: scaled(base, 160, 100), wantHeld: 1, wantPrice: base, wantHeldAt: scaled(base, 160, 100)}, // +60 %: held
			{price: scaled(base, 163, 100), wantStored: 1, wantPrice: scaled(base, 163, 100)},                 // within 5 % of held: accepted
		}},
		{"a confirmed crash is accepted", []step{
			{price: scaled(base, 30, 100), wantHeld: 1, wantPrice: base, wantHeldAt: scaled(base, 30, 100)},
			{price: scaled(base, 29, 100), wantStored: 1, wantPrice: scaled(base, 29, 100)},
		}},
		{"a return to normal clears the held quote", []step{
			{price: scaled(base, 160, 100), wantHeld: 1, wantPrice: base, wantHeldAt: scaled(base, 160, 100)},
			{price: scaled(base, 102, 100), wantStored: 1, wantPrice: scaled(base, 102, 100)},
		}},
		{"the same upstream tick read again is no confirmation", []step{
			{price: scaled(base, 160, 100), tick: 1, wantPrice: base, wantHeld: 1, wantHeldAt: scaled(base, 160, 100)},
			{price: scaled(base, 160, 100), tick: 1, wantPrice: base, wantHeld: 1, wantHeldAt: scaled(base, 160, 100)},
			{price: scaled(base, 160, 100), tick: 3, wantPrice: scaled(base, 160, 100), wantStored: 1},
		}},
		{"a second outlier replaces the held one", []step{
			{price: scaled(base, 160, 100), wantHeld: 1, wantPrice: base, wantHeldAt: scaled(base, 160, 100)},
			{price: scaled(base, 250, 100), wantHeld: 1, wantPrice: base, wantHeldAt: scaled(base, 250, 100)},
			{price: scaled(base, 255, 100), wantStored: 1, wantPrice: scaled(base, 255, 100)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			r := e.refresher(RefresherOptions{})
			e.feed.set([]feed.Quote{quote("BTC", base)}, nil)
			mustRefresh(t, r)
			for i, s := range tc.steps {
				e.clock.Advance(time.Minute)
				q := quote("BTC", s.price)
				if s.tick > 0 {
					q.QuotedAt = start.Add(time.Duration(s.tick) * time.Minute)
				}
				e.feed.set([]feed.Quote{q}, nil)
				res := mustRefresh(t, r)
				if res.Stored != s.wantStored || res.Held != s.wantHeld {
					t.Fatalf("step %d: stored %d held %d, want %d and %d", i, res.Stored, res.Held, s.wantStored, s.wantHeld)
				}
				d := e.rawPrices(t)["BTC"]
				held := int64(0)
				if d.Held != nil {
					held = d.Held.Price
					if !d.Held.At.Equal(e.clock.Now()) {
						t.Errorf("step %d: held at %v, want the run's time %v", i, d.Held.At, e.clock.Now())
					}
				}
				if d.Price != int64(s.wantPrice) || held != int64(s.wantHeldAt) {
					t.Fatalf("step %d: stored %d held %d, want %d and %d", i, d.Price, held, s.wantPrice, s.wantHeldAt)
				}
				if m := lastEMF(t, e.metrics); m["PriceQuotesHeld"] != float64(s.wantHeld) {
					t.Errorf("step %d: PriceQuotesHeld = %v, want %d", i, m["PriceQuotesHeld"], s.wantHeld)
				}
			}
			if !strings.Contains(e.logs.String(), "price quote held back") {
				t.Error("held quote not logged")
			}
		})
	}
}

func TestRefreshAfterRefresh(t *testing.T) {
	e := newTestEnv(t)
	var got [][]Price
	hookErr := error(nil)
	r := e.refresher(RefresherOptions{AfterRefresh: func(_ context.Context, prices []Price) error {
		got = append(got, prices)
		return hookErr
	}})

	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, r)
	if len(got) != 1 || len(got[0]) != len(feed.Coins) || got[0][0].Symbol != "BTC" || got[0][0].Price != basePrices["BTC"] {
		t.Fatalf("AfterRefresh got %+v, want the 10 current prices", got)
	}

	// Nothing stored (the only quote is held): nothing for the matcher to do.
	e.clock.Advance(time.Minute)
	e.feed.set([]feed.Quote{quote("BTC", scaled(basePrices["BTC"], 2, 1))}, nil)
	mustRefresh(t, r)
	if len(got) != 1 {
		t.Fatalf("AfterRefresh called after a run that stored nothing")
	}

	// A partial refresh hands the hook every current price, the kept ones too.
	e.clock.Advance(time.Minute)
	e.feed.set([]feed.Quote{quote("ETH", scaled(basePrices["ETH"], 11, 10))}, nil)
	hookErr = errors.New("matcher down")
	res, err := r.Refresh(testCtx(t))
	if !errors.Is(err, hookErr) {
		t.Fatalf("Refresh error = %v, want the hook's error", err)
	}
	if res.Stored != 1 || e.rawPrices(t)["ETH"].Price != int64(scaled(basePrices["ETH"], 11, 10)) {
		t.Fatalf("the prices must be stored even when the hook fails: %+v", res)
	}
	last := got[len(got)-1]
	if len(last) != len(feed.Coins) || last[1].Symbol != "ETH" || last[1].Price != scaled(basePrices["ETH"], 11, 10) || last[0].Price != basePrices["BTC"] {
		t.Errorf("hook got %+v, want every current price with ETH's new one", last)
	}
}

func TestRefreshMetrics(t *testing.T) {
	e := newTestEnv(t)
	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))
	m := lastEMF(t, e.metrics)
	want := map[string]float64{"PricesStored": 10, "PriceAgeSeconds": 0, "PriceFeedErrors": 0, "PriceQuotesHeld": 0, "PriceQuotesRejected": 0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, m[k], v, m)
		}
	}
	if m["Service"] != "prices" {
		t.Errorf("dimensions missing: %v", m)
	}

	// Without Metrics nothing is written, and nothing breaks.
	e2 := newTestEnv(t)
	e2.feed.set(quotesAt(1, 1), nil)
	if _, err := NewRefresher(e2.client.Database, e2.feed, RefresherOptions{Now: e2.clock.Now, BackfillDays: -1}).Refresh(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshDatabaseDown(t *testing.T) {
	e := newTestEnv(t)
	e.feed.set(quotesAt(1, 1), nil)
	r := e.refresher(RefresherOptions{})
	mustRefresh(t, r)

	// The store cannot be read: the run fails without asking the feed (there is nothing to
	// compare its quotes with) and changes nothing.
	calls, _ := e.feed.calls()
	e.srv.Inject(devdb.Fault{Command: "find", Times: 1, ErrorCode: 2, ErrorMessage: "injected"})
	if _, err := r.Refresh(testCtx(t)); err == nil {
		t.Fatal("Refresh with an unreadable store: want an error")
	}
	if after, _ := e.feed.calls(); after != calls {
		t.Error("the feed was asked although the stored prices could not be read")
	}

	// A failed price write is returned; the other coins are still stored.
	e.clock.Advance(time.Minute)
	e.feed.set(quotesAt(102, 100), nil)
	e.srv.Inject(devdb.Fault{Command: "update", Times: 1, ErrorCode: 2, ErrorMessage: "injected"})
	res, err := r.Refresh(testCtx(t))
	if err == nil || res.Stored != len(feed.Coins)-1 {
		t.Fatalf("Refresh = %+v, %v; want an error and 9 stored", res, err)
	}
	// The next run repairs it.
	e.clock.Advance(time.Minute)
	res = mustRefresh(t, r)
	if res.Stored != len(feed.Coins) {
		t.Fatalf("repair run stored %d", res.Stored)
	}
}

// TestRefreshDocumentWithoutVersion: a price document seeded without the version field (by hand,
// by another tool) is still updated, conditionally on having no version yet.
func TestRefreshDocumentWithoutVersion(t *testing.T) {
	e := newTestEnv(t)
	seed := bson.D{{Key: "_id", Value: "BTC"}, {Key: "price", Value: int64(basePrices["BTC"])}, {Key: "updated_at", Value: start}}
	if _, err := e.db.Collection(PricesCollection).InsertOne(testCtx(t), seed); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.feed.set([]feed.Quote{quote("BTC", scaled(basePrices["BTC"], 101, 100))}, nil)
	res := mustRefresh(t, e.refresher(RefresherOptions{}))
	if d := e.rawPrices(t)["BTC"]; res.Stored != 1 || d.Price != int64(scaled(basePrices["BTC"], 101, 100)) || d.Version != 1 || d.ID != "bitcoin" {
		t.Fatalf("result %+v, BTC %+v; want the seeded document updated to version 1", res, d)
	}
}
