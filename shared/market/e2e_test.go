package market

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// TestFileFeedEndToEnd drives the real file feed (PRICE_FEED=file:PATH) through the refresher
// into the store, the way API tests will: the market moves by rewriting the file.
func TestFileFeedEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	path := filepath.Join(t.TempDir(), "prices.json")
	write := func(body string) {
		t.Helper()
		// Rename over the file so that the feed never reads half of it.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	twoHoursAgo, oneHourAgo := start.Add(-2*time.Hour).Unix(), start.Add(-time.Hour).Unix()
	write(fmt.Sprintf(`{
	  "quotes": [
	    {"symbol": "BTC", "price": "65000.12", "change_24h": "2.5", "market_cap": 1283550000000, "volume_24h": 45000000000},
	    {"symbol": "ethereum", "price": 3500.5}
	  ],
	  "history": {"BTC": [[%d, "64000"], [%d, 64100.5]]}
	}`, twoHoursAgo, oneHourAgo))

	f, err := feed.New(testCtx(t), "file:"+path, feed.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatalf("feed.New: %v", err)
	}
	r := NewRefresher(e.client.Database, f, RefresherOptions{Now: e.clock.Now, Logger: obs.NewLogger(e.logs, nil), BackfillDays: 2})
	s := e.store(StoreOptions{CacheTTL: time.Nanosecond}) // every read sees the last refresh

	res := mustRefresh(t, r)
	if res.Stored != 2 || res.Source != feed.SourceFile || !slices.Equal(res.Backfilled, []string{"BTC"}) {
		t.Fatalf("first refresh = %+v, want BTC and ETH stored from the file and BTC backfilled", res)
	}
	btc, err := s.Get(testCtx(t), "bitcoin")
	want := Price{Symbol: "BTC", ID: "bitcoin", Name: "Bitcoin", Source: "file", Price: 6_500_012_000_000,
		Change24h: 250, MarketCap: 1_283_550_000_000, Volume24h: 45_000_000_000, UpdatedAt: start}
	if err != nil || btc != want {
		t.Fatalf("Get(bitcoin) = %+v, %v\nwant %+v", btc, err, want)
	}

	// The market moves; a zero price in the file is dropped by the feed, so BTC keeps its price.
	e.clock.Advance(time.Minute)
	write(`{"quotes": [{"symbol": "BTC", "price": "0"}, {"symbol": "ETH", "price": "3600"}]}`)
	res = mustRefresh(t, r)
	if res.Stored != 1 {
		t.Fatalf("second refresh = %+v, want ETH stored", res)
	}
	if btc, _ := s.Get(testCtx(t), "BTC"); btc.Price != 6_500_012_000_000 || !btc.UpdatedAt.Equal(start) {
		t.Errorf("BTC = %+v, want its first price kept", btc)
	}
	if eth, _ := s.Get(testCtx(t), "eth"); eth.Price != 360_000_000_000 {
		t.Errorf("ETH = %v, want 3600", eth.Price)
	}
	got, err := s.History(testCtx(t), "BTC", 1)
	wantPts := []feed.Point{
		{Time: start.Add(-2 * time.Hour), Price: money.Price(6_400_000_000_000)},
		{Time: start.Add(-time.Hour), Price: money.Price(6_410_050_000_000)},
		{Time: start, Price: money.Price(6_500_012_000_000)},
	}
	if err != nil || !samePoints(got, wantPts) {
		t.Errorf("History(BTC, 1) = %v, %v\nwant %v", got, err, wantPts)
	}

	// The file disappears: a feed error, every price kept.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	res = mustRefresh(t, r)
	if !errors.Is(res.FeedError, feed.ErrUnavailable) || res.Kept != 2 {
		t.Errorf("refresh without the file = %+v, want ErrUnavailable and both prices kept", res)
	}
}
