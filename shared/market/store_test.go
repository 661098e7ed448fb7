package market

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/platform/web"
)

func TestFirstRefreshStoresAllCoins(t *testing.T) {
	e := newTestEnv(t)
	quotes := quotesAt(1, 1)
	quotes[0].QuotedAt = start.Add(-30 * time.Second) // the upstream's time, kept as quoted_at
	e.feed.set(quotes, nil)
	res := mustRefresh(t, e.refresher(RefresherOptions{}))
	if res.Stored != len(feed.Coins) || res.Held != 0 || res.Rejected != 0 || res.Kept != 0 || res.FeedError != nil {
		t.Fatalf("result = %+v, want all %d stored", res, len(feed.Coins))
	}
	if !res.At.Equal(start) {
		t.Errorf("result At = %v, want the clock's %v", res.At, start)
	}

	prices, err := e.store(StoreOptions{}).All(testCtx(t))
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	if len(prices) != len(feed.Coins) {
		t.Fatalf("All returned %d prices, want %d", len(prices), len(feed.Coins))
	}
	for i, p := range prices {
		c := feed.Coins[i] // All is in feed.Coins order
		want := Price{Symbol: c.Symbol, ID: c.ID, Name: c.Name, Image: "https://img.example/" + strings.ToLower(c.Symbol) + ".png",
			Source: "scripted", Price: basePrices[c.Symbol], Change24h: 250, MarketCap: 1_283_550_000_000,
			Volume24h: 45_000_000_000, UpdatedAt: start}
		if p != want {
			t.Errorf("All[%d] = %+v\nwant %+v", i, p, want)
		}
	}

	// The stored shape is the documented one: int64 minor units, updated_at the refresh's time.
	raw := e.rawPrices(t)["BTC"]
	if raw.Price != 6_500_012_000_000 || raw.Change24h != 250 || raw.MarketCap != 1_283_550_000_000 ||
		raw.ID != "bitcoin" || !raw.UpdatedAt.Equal(start) || !raw.QuotedAt.Equal(start.Add(-30*time.Second)) ||
		raw.Version != 1 || raw.Held != nil {
		t.Errorf("stored BTC = %+v", raw)
	}
	if eth := e.rawPrices(t)["ETH"]; !eth.QuotedAt.Equal(start) {
		t.Errorf("ETH quoted_at = %v: a quote without a time is quoted at the refresh", eth.QuotedAt)
	}
}

func TestSecondRefreshMovesPrices(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{})
	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, r)

	e.clock.Advance(10 * time.Second)
	e.feed.set(quotesAt(101, 100), nil) // +1 %
	res := mustRefresh(t, r)
	if res.Stored != len(feed.Coins) {
		t.Fatalf("second refresh stored %d, want %d", res.Stored, len(feed.Coins))
	}
	// The feed walks on from what is stored: it got the first refresh's prices as previous.
	if prev := e.feed.lastPrevious()["BTC"]; prev.Price != basePrices["BTC"] || prev.ID != "bitcoin" {
		t.Errorf("feed got previous BTC %+v, want the stored price %v", prev, basePrices["BTC"])
	}
	prices, err := e.store(StoreOptions{}).All(testCtx(t))
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	for _, p := range prices {
		if want := scaled(basePrices[p.Symbol], 101, 100); p.Price != want || !p.UpdatedAt.Equal(start.Add(10*time.Second)) {
			t.Errorf("%s = %v at %v, want %v at %v", p.Symbol, p.Price, p.UpdatedAt, want, start.Add(10*time.Second))
		}
	}
	if v := e.rawPrices(t)["ETH"].Version; v != 2 {
		t.Errorf("ETH version = %d after two writes, want 2", v)
	}
}

func TestGet(t *testing.T) {
	e := newTestEnv(t)
	// Only BTC and ETH were ever quoted: the other supported coins have no price yet.
	e.feed.set([]feed.Quote{quote("BTC", basePrices["BTC"]), quote("ETH", basePrices["ETH"])}, nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))
	s := e.store(StoreOptions{})

	tests := []struct {
		in      string
		want    string // symbol
		wantErr error
	}{
		{"BTC", "BTC", nil},
		{"btc", "BTC", nil},
		{"bitcoin", "BTC", nil},
		{"BitCoin", "BTC", nil},
		{"ethereum", "ETH", nil},
		{"SOL", "", ErrNoPrice},
		{"usd-coin", "", ErrNoPrice},
		{"FOO", "", ErrUnknownCoin},
		{"", "", ErrUnknownCoin},
		{"BTC/USD", "", ErrUnknownCoin},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := s.Get(testCtx(t), tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if p.Symbol != tc.want {
				t.Errorf("Get(%q) = %q, want %q", tc.in, p.Symbol, tc.want)
			}
		})
	}
}

func TestFresh(t *testing.T) {
	e := newTestEnv(t)
	e.feed.set([]feed.Quote{quote("BTC", basePrices["BTC"])}, nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))

	tests := []struct {
		name      string
		symbol    string
		age       time.Duration
		wantStale bool
		wantErr   error
	}{
		{"just stored", "BTC", 0, false, nil},
		{"exactly max age", "BTC", 5 * time.Minute, false, nil},
		{"older than max age", "BTC", 5*time.Minute + time.Second, true, nil},
		{"never stored", "ETH", 0, true, nil},
		{"unsupported", "FOO", 0, false, ErrUnknownCoin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A clock of its own per case: the store's cache and staleness read it.
			now := start.Add(tc.age)
			s := e.store(StoreOptions{Now: func() time.Time { return now }, MaxAge: 5 * time.Minute})
			p, err := s.Fresh(testCtx(t), tc.symbol)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Fresh error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if !tc.wantStale {
				if err != nil || p.Price != basePrices["BTC"] {
					t.Fatalf("Fresh = %+v, %v; want the price", p, err)
				}
				return
			}
			var we *web.Error
			if !errors.As(err, &we) || we.Status != http.StatusServiceUnavailable || we.Code != web.CodePriceStale ||
				we.Message != "Price data is stale; trading is paused" {
				t.Fatalf("Fresh error = %#v, want *web.Error 503 PRICE_STALE", err)
			}
			if !errors.Is(err, web.ErrPriceStale) {
				t.Error("stale error does not wrap web.ErrPriceStale")
			}
		})
	}
}

func TestAge(t *testing.T) {
	e := newTestEnv(t)
	s := e.store(StoreOptions{CacheTTL: time.Second})
	if _, ok, err := s.Age(testCtx(t)); ok || err != nil {
		t.Fatalf("Age with nothing stored: ok %v, err %v; want ok false", ok, err)
	}
	// The newest price counts: BTC stored at start, ETH 30 s later.
	r := e.refresher(RefresherOptions{})
	e.feed.set([]feed.Quote{quote("BTC", basePrices["BTC"])}, nil)
	mustRefresh(t, r)
	e.clock.Advance(30 * time.Second)
	e.feed.set([]feed.Quote{quote("ETH", basePrices["ETH"])}, nil)
	mustRefresh(t, r)
	e.clock.Advance(90 * time.Second)
	age, ok, err := s.Age(testCtx(t))
	if err != nil || !ok || age != 90*time.Second {
		t.Fatalf("Age = %v, %v, %v; want 90s, true", age, ok, err)
	}
}

func TestCacheSingleFlight(t *testing.T) {
	e := newTestEnv(t)
	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))
	s := e.store(StoreOptions{CacheTTL: 5 * time.Second})

	burst := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for range 1000 {
			wg.Go(func() {
				prices, err := s.All(testCtx(t))
				if err == nil && len(prices) != len(feed.Coins) {
					err = errors.New("wrong number of prices")
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("All: %v", err)
		}
	}

	tests := []struct {
		name      string
		advance   time.Duration
		wantFinds int
	}{
		{"cold cache: one find for the whole burst", 0, 1},
		{"within the TTL: none", 4 * time.Second, 0},
		{"past the TTL: one more", 2 * time.Second, 1},
		{"within the new TTL: none", time.Second, 0},
	}
	for _, tc := range tests {
		e.clock.Advance(tc.advance)
		before := e.finds()
		burst()
		if got := e.finds() - before; got != tc.wantFinds {
			t.Errorf("%s: %d find commands, want %d", tc.name, got, tc.wantFinds)
		}
	}
}

func TestCacheReadErrors(t *testing.T) {
	e := newTestEnv(t)
	e.feed.set(quotesAt(1, 1), nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))
	s := e.store(StoreOptions{})

	// A failed read is not cached: the next call reads again and succeeds.
	e.srv.Inject(devdb.Fault{Command: "find", Times: 1, ErrorCode: 2, ErrorMessage: "injected"})
	if _, err := s.All(testCtx(t)); err == nil {
		t.Fatal("All during an injected find error: want an error")
	}
	if prices, err := s.All(testCtx(t)); err != nil || len(prices) != len(feed.Coins) {
		t.Fatalf("All after the error: %d prices, %v", len(prices), err)
	}

	// The read runs detached from the caller that started it: when that caller gives up, the
	// callers waiting on the same read still get the prices.
	e.clock.Advance(time.Minute)
	e.srv.Inject(devdb.Fault{Command: "find", Times: 1, Delay: 300 * time.Millisecond})
	impatient, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() { _, err := s.All(impatient); first <- err }()
	time.Sleep(20 * time.Millisecond) // let the impatient caller start the read
	prices, err := s.All(testCtx(t))
	if err != nil || len(prices) != len(feed.Coins) {
		t.Fatalf("waiting caller: %d prices, %v", len(prices), err)
	}
	if err := <-first; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v, want its own deadline", err)
	}
}

func TestStoreIgnoresUnsupportedDocuments(t *testing.T) {
	e := newTestEnv(t)
	// A coin dropped from the supported set may still have a document: it is not listed.
	if _, err := e.db.Collection(PricesCollection).InsertOne(testCtx(t), bson.D{{Key: "_id", Value: "LUNA"}, {Key: "price", Value: int64(1)}}); err != nil {
		t.Fatal(err)
	}
	e.feed.set([]feed.Quote{quote("BTC", basePrices["BTC"])}, nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))
	prices, err := e.store(StoreOptions{}).All(testCtx(t))
	if err != nil || len(prices) != 1 || prices[0].Symbol != "BTC" {
		t.Fatalf("All = %+v, %v; want BTC only", prices, err)
	}
}
