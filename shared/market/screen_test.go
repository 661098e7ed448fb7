package market

import (
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

func TestWithin(t *testing.T) {
	tests := []struct {
		name   string
		p, ref money.Price
		pct    uint64
		want   bool
	}{
		{"equal", 100, 100, 0, true},
		{"exactly +50%", 150, 100, 50, true},
		{"just over +50%", 150_000_001, 100_000_000, 50, false},
		{"exactly -50%", 50, 100, 50, true},
		{"just under -50%", 49_999_999, 100_000_000, 50, false},
		{"+60%", 160, 100, 50, false},
		{"within 5%", 105, 100, 5, true},
		{"beyond 5%", 106, 100, 5, false},
		// At MaxPrice, |p−ref|×100 and ref×pct exceed int64: the 128-bit comparison must hold.
		{"max price, tiny move", money.MaxPrice, money.MaxPrice - 1, 5, true},
		{"max price vs 1", money.MaxPrice, 1, 50, false},
		{"1 vs max price", 1, money.MaxPrice, 50, false},
		{"half of max price", money.MaxPrice / 2, money.MaxPrice, 50, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := within(tc.p, tc.ref, tc.pct); got != tc.want {
				t.Errorf("within(%d, %d, %d) = %v, want %v", tc.p, tc.ref, tc.pct, got, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	heldAt := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	stored := func(price money.Price, held money.Price) *priceDoc {
		d := &priceDoc{Symbol: "BTC", Price: price, Version: 3}
		if held > 0 {
			d.Held = &heldDoc{Price: held, QuotedAt: heldAt}
		}
		return d
	}
	// q is a quote newer than the held one, as a later upstream update is.
	q := func(p money.Price) feed.Quote {
		return feed.Quote{Symbol: "BTC", Price: p, QuotedAt: heldAt.Add(time.Minute)}
	}
	sameTick := func(p money.Price) feed.Quote { return feed.Quote{Symbol: "BTC", Price: p, QuotedAt: heldAt} }
	tests := []struct {
		name   string
		stored *priceDoc
		quote  feed.Quote
		want   verdict
	}{
		{"zero price", stored(100_000, 0), q(0), reject},
		{"negative price", stored(100_000, 0), q(-5), reject},
		{"zero price, nothing stored", nil, q(0), reject},
		{"above MaxPrice", nil, q(money.MaxPrice + 1), reject},
		{"negative market cap", nil, feed.Quote{Symbol: "BTC", Price: 1, MarketCap: -1}, reject},
		{"negative volume", nil, feed.Quote{Symbol: "BTC", Price: 1, Volume24h: -1}, reject},
		{"first quote of a coin", nil, q(123), accept},
		{"first quote, even a huge one", nil, q(money.MaxPrice), accept},
		{"stored price unusable", stored(0, 0), q(100), accept},
		{"small move", stored(100_000, 0), q(101_000), accept},
		{"+50% exactly", stored(100_000, 0), q(150_000), accept},
		{"-50% exactly", stored(100_000, 0), q(50_000), accept},
		{"+60% jump", stored(100_000, 0), q(160_000), hold},
		{"-60% crash", stored(100_000, 0), q(40_000), hold},
		{"confirms held within 5%", stored(100_000, 160_000), q(165_000), accept},
		{"confirms held crash", stored(100_000, 40_000), q(41_000), accept},
		{"held but back to normal", stored(100_000, 160_000), q(102_000), accept},
		{"held, new jump elsewhere", stored(100_000, 160_000), q(220_000), hold},
		{"held just beyond 5%", stored(100_000, 160_000), q(168_001), hold},
		{"the held tick itself does not confirm", stored(100_000, 160_000), sameTick(160_000), hold},
		{"an older tick does not confirm", stored(100_000, 160_000), feed.Quote{Symbol: "BTC", Price: 160_000, QuotedAt: heldAt.Add(-time.Second)}, hold},
		{"the held tick is fine once back in range", stored(100_000, 160_000), sameTick(110_000), accept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := judge(tc.stored, tc.quote)
			if got.verdict != tc.want {
				t.Errorf("judge = %s (%s), want %s", got.verdict, got.reason, tc.want)
			}
			if got.reason == "" {
				t.Error("decision without a reason: logs need one")
			}
		})
	}
}
