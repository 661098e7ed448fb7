package feed_test

import (
	"context"
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

func newSimulated(t *testing.T, seed int64) feed.Feed {
	t.Helper()
	f, err := feed.New(context.Background(), "simulated", feed.Options{Seed: seed, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func bySymbol(qs []feed.Quote) map[string]feed.Quote {
	m := make(map[string]feed.Quote, len(qs))
	for _, q := range qs {
		m[q.Symbol] = q
	}
	return m
}

// within reports whether p is within ppm parts per million of ref.
func within(p, ref money.Price, ppm int64) bool {
	d := int64(p - ref)
	if d < 0 {
		d = -d
	}
	return d*1_000_000 <= int64(ref)*ppm
}

func TestSimulatedDeterministic(t *testing.T) {
	prev := map[string]feed.Quote{"BTC": {Symbol: "BTC", Price: 7_000_000_000_000, Change24h: 150}}
	a, errA := newSimulated(t, 42).Quotes(context.Background(), prev)
	b, errB := newSimulated(t, 42).Quotes(context.Background(), prev)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed and previous, different quotes:\n%v\n%v", a, b)
	}
	// The same feed asked twice from the same state answers the same (no hidden state).
	f := newSimulated(t, 42)
	c, _ := f.Quotes(context.Background(), prev)
	d, _ := f.Quotes(context.Background(), prev)
	if !reflect.DeepEqual(c, d) || !reflect.DeepEqual(a, c) {
		t.Fatal("a feed's quotes depend on its call history")
	}
	other, _ := newSimulated(t, 43).Quotes(context.Background(), prev)
	if reflect.DeepEqual(a, other) {
		t.Fatal("seeds 42 and 43 gave the same walk")
	}
}

// Pinned values of the first step from the defaults with seed 1: a change here changes every
// test and demo that relies on the simulated market, so make it deliberately.
func TestSimulatedGolden(t *testing.T) {
	quotes, err := newSimulated(t, 1).Quotes(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := bySymbol(quotes)
	want := map[string]struct {
		price  money.Price
		change money.Percent
	}{
		"BTC":  {goldenBTC, goldenBTCChange},
		"USDT": {goldenUSDT, goldenUSDTChange},
	}
	for sym, w := range want {
		if got[sym].Price != w.price || got[sym].Change24h != w.change {
			t.Errorf("%s = %d (%d), want %d (%d)", sym, got[sym].Price, got[sym].Change24h, w.price, w.change)
		}
	}
}

func TestSimulatedFromDefaults(t *testing.T) {
	quotes, err := newSimulated(t, 7).Quotes(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(quotes) != len(feed.Coins) {
		t.Fatalf("%d quotes, want %d", len(quotes), len(feed.Coins))
	}
	// One step (at most 0.25 %) from realistic defaults.
	defaults := map[string]money.Price{
		"BTC": 6_500_000_000_000, "ETH": 350_000_000_000, "USDT": 100_000_000, "BNB": 60_000_000_000,
		"SOL": 15_000_000_000, "XRP": 60_000_000, "USDC": 100_000_000, "ADA": 45_000_000,
		"DOGE": 15_000_000, "TRX": 12_000_000,
	}
	for i, q := range quotes {
		c := feed.Coins[i]
		if q.Symbol != c.Symbol || q.ID != c.ID || q.Name != c.Name {
			t.Errorf("quote %d is %s/%s/%s, want %v", i, q.Symbol, q.ID, q.Name, c)
		}
		if !within(q.Price, defaults[q.Symbol], 2_500) {
			t.Errorf("%s = %s, not one step from %s", q.Symbol, q.Price, defaults[q.Symbol])
		}
		if !q.QuotedAt.Equal(fixedNow) {
			t.Errorf("%s QuotedAt %v", q.Symbol, q.QuotedAt)
		}
	}
}

func TestSimulatedWalksFromPrevious(t *testing.T) {
	prev := map[string]feed.Quote{
		"BTC": {Price: 7_000_000_000_000, Change24h: 300},
		"SOL": {Price: 20_000_000_000, Change24h: -500},
	}
	quotes, err := newSimulated(t, 1).Quotes(context.Background(), prev)
	if err != nil {
		t.Fatal(err)
	}
	got := bySymbol(quotes)
	if !within(got["BTC"].Price, 7_000_000_000_000, 1_000) || got["BTC"].Price == 7_000_000_000_000 {
		t.Errorf("BTC %s did not step from 70000", got["BTC"].Price)
	}
	if !within(got["SOL"].Price, 20_000_000_000, 2_500) {
		t.Errorf("SOL %s did not step from 200", got["SOL"].Price)
	}
	// The change continues from the previous one rather than restarting at 0.
	if c := got["SOL"].Change24h; c > -400 || c < -600 {
		t.Errorf("SOL change %s %%, want near -5 %%", c)
	}
}

// Pinned by TestSimulatedGolden.
const (
	goldenBTC        money.Price   = 6_501_638_000_000 // 65016.38
	goldenBTCChange  money.Percent = 3                 // 0.03 %
	goldenUSDT       money.Price   = 100_008_000       // 1.00008
	goldenUSDTChange money.Percent = 1                 // 0.01 %
)

// A long run, each step fed back as the previous quotes, keeps every invariant.
func TestSimulatedLongWalk(t *testing.T) {
	f := newSimulated(t, 2026)
	prev := map[string]feed.Quote(nil)
	first := map[string]money.Price{}
	changes := map[money.Percent]bool{}
	for step := range 5000 {
		quotes, err := f.Quotes(context.Background(), prev)
		if err != nil {
			t.Fatal(err)
		}
		if len(quotes) != 10 {
			t.Fatalf("step %d: %d quotes", step, len(quotes))
		}
		for _, q := range quotes {
			checkSimQuote(t, step, q)
			if step == 0 {
				first[q.Symbol] = q.Price
			}
			if q.Symbol == "ETH" {
				changes[q.Change24h] = true
			}
		}
		prev = bySymbol(quotes)
	}
	if prev["BTC"].Price == first["BTC"] || len(changes) < 50 {
		t.Errorf("the market hardly moved: BTC %s → %s, %d distinct ETH changes",
			first["BTC"], prev["BTC"].Price, len(changes))
	}
}

func checkSimQuote(t *testing.T, step int, q feed.Quote) {
	t.Helper()
	if q.Price <= 0 {
		t.Fatalf("step %d: %s price %d", step, q.Symbol, q.Price)
	}
	if q.Change24h < -800 || q.Change24h > 800 {
		t.Fatalf("step %d: %s change %s %% beyond ±8 %%", step, q.Symbol, q.Change24h)
	}
	if (q.Symbol == "USDT" || q.Symbol == "USDC") && !within(q.Price, 100_000_000, 2_000) {
		t.Fatalf("step %d: %s at %s, off its peg", step, q.Symbol, q.Price)
	}
	// market cap = price × supply in whole dollars, rounded.
	c := new(big.Int).Mul(big.NewInt(int64(q.Price)), big.NewInt(feed.SimSupply(q.Symbol)))
	c.Add(c, big.NewInt(50_000_000)).Quo(c, big.NewInt(100_000_000))
	if wantCap := c.Int64(); q.MarketCap != wantCap || q.MarketCap <= 0 {
		t.Fatalf("step %d: %s market cap %d, want %d", step, q.Symbol, q.MarketCap, wantCap)
	}
	if q.Volume24h <= 0 || q.Volume24h > q.MarketCap {
		t.Fatalf("step %d: %s volume %d for a cap of %d", step, q.Symbol, q.Volume24h, q.MarketCap)
	}
}

// Previous quotes from elsewhere (a real depeg, a wild change, a dust price) are brought back
// within the simulation's bounds instead of breaking them.
func TestSimulatedOutOfBoundsPrevious(t *testing.T) {
	prev := map[string]feed.Quote{
		"USDT": {Price: 90_000_000, Change24h: -1000},
		"USDC": {Price: 120_000_000},
		"ETH":  {Price: 350_000_000_000, Change24h: 5000},
		"DOGE": {Price: 1, Change24h: -10_000},
		"BTC":  {Price: -5}, // ignored: not a price
	}
	quotes, err := newSimulated(t, 3).Quotes(context.Background(), prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range quotes {
		checkSimQuote(t, 0, q)
	}
	if got := bySymbol(quotes)["BTC"].Price; !within(got, 6_500_000_000_000, 1_000) {
		t.Errorf("BTC %s: a negative previous price must restart from the default", got)
	}
}

func TestSimulatedHistory(t *testing.T) {
	tests := []struct {
		days       int
		wantPoints int
	}{
		{1, 289},                            // every 5 minutes over a day, both ends
		{2, 289 + 24},                       // plus hourly points for the day before
		{feed.MaxHistoryDays, 289 + 364*24}, // 9025: ≤ 10k
	}
	for _, tt := range tests {
		f := newSimulated(t, 5)
		points, err := f.History(context.Background(), feed.Coin{Symbol: "BTC"}, tt.days)
		if err != nil {
			t.Fatal(err)
		}
		if len(points) != tt.wantPoints || len(points) > 10_000 {
			t.Fatalf("days %d: %d points, want %d", tt.days, len(points), tt.wantPoints)
		}
		end := fixedNow.Truncate(5 * time.Minute)
		if !points[len(points)-1].Time.Equal(end) || !points[0].Time.Equal(end.Add(-time.Duration(tt.days)*24*time.Hour)) {
			t.Fatalf("days %d: from %v to %v", tt.days, points[0].Time, points[len(points)-1].Time)
		}
		if points[len(points)-1].Price != 6_500_000_000_000 {
			t.Errorf("the history does not end at the current (default) price: %s", points[len(points)-1].Price)
		}
		for i := 1; i < len(points); i++ {
			gap := points[i].Time.Sub(points[i-1].Time)
			wantGap := time.Hour
			if points[i].Time.After(end.Add(-24 * time.Hour)) {
				wantGap = 5 * time.Minute
			}
			if gap != wantGap || points[i].Price <= 0 {
				t.Fatalf("days %d: point %d at %v (gap %v), price %d", tt.days, i, points[i].Time, gap, points[i].Price)
			}
		}
	}
}

func TestSimulatedHistoryJoinsLiveWalk(t *testing.T) {
	f := newSimulated(t, 9)
	quotes, err := f.Quotes(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, coin := range feed.Coins {
		points, err := f.History(context.Background(), coin, 7)
		if err != nil {
			t.Fatal(err)
		}
		if last := points[len(points)-1].Price; last != bySymbol(quotes)[coin.Symbol].Price {
			t.Errorf("%s history ends at %s, live price %s", coin.Symbol, last, bySymbol(quotes)[coin.Symbol].Price)
		}
		for _, p := range points {
			if (coin.Symbol == "USDT" || coin.Symbol == "USDC") && !within(p.Price, 100_000_000, 2_000) {
				t.Fatalf("%s history off its peg: %s", coin.Symbol, p.Price)
			}
		}
		again, _ := f.History(context.Background(), coin, 7)
		if !reflect.DeepEqual(points, again) {
			t.Fatalf("%s history is not deterministic", coin.Symbol)
		}
	}
}

// Every feed validates History's arguments the same way, before any I/O.
func TestHistoryArguments(t *testing.T) {
	u := startUpstream(t, ok(`{"prices": []}`))
	feeds := map[string]feed.Feed{
		"coingecko": newCoinGecko(t, u, &sleeps{}, feed.Options{}),
		"simulated": newSimulated(t, 1),
		"file":      newFile(t, t.TempDir()+"/absent.json"),
	}
	tests := []struct {
		coin feed.Coin
		days int
		want error
	}{
		{feed.Coin{Symbol: "BTC"}, 0, feed.ErrInvalidDays},
		{feed.Coin{Symbol: "BTC"}, -1, feed.ErrInvalidDays},
		{feed.Coin{Symbol: "BTC"}, 366, feed.ErrInvalidDays},
		{feed.Coin{Symbol: "SHIB", ID: "shiba-inu"}, 7, feed.ErrUnknownCoin},
		{feed.Coin{}, 7, feed.ErrUnknownCoin},
	}
	for name, f := range feeds {
		for _, tt := range tests {
			if _, err := f.History(context.Background(), tt.coin, tt.days); !errors.Is(err, tt.want) {
				t.Errorf("%s: History(%v, %d) = %v, want %v", name, tt.coin, tt.days, err, tt.want)
			}
		}
	}
	if n := len(u.received()); n != 0 {
		t.Errorf("invalid arguments reached CoinGecko %d times", n)
	}
	for _, days := range []int{feed.MinHistoryDays, feed.MaxHistoryDays} {
		if _, err := feeds["coingecko"].History(context.Background(), feed.Coin{ID: "tron"}, days); err != nil {
			t.Errorf("days %d: %v", days, err)
		}
	}
}
