package feed

import (
	"log/slog"
	"math"
	"net/http"
	"testing"
	"time"
)

func TestMulDivRound(t *testing.T) {
	tests := []struct {
		a, b, d int64
		want    int64
		ok      bool
	}{
		{1, 1, 2, 1, true}, // a half rounds up
		{1, 1, 3, 0, true},
		{2, 1, 3, 1, true},
		{6_500_000_000_000, 19_800_000, 100_000_000, 1_287_000_000_000, true}, // BTC market cap: 1.3e20 in between
		{math.MaxInt64, 2, 2, math.MaxInt64, true},
		{math.MaxInt64, 3, 1, 0, false},
		{math.MaxInt64, math.MaxInt64, 1, 0, false},
		{-1, 1, 1, 0, false},
		{1, 1, 0, 0, false},
	}
	for _, tt := range tests {
		if got, ok := mulDivRound(tt.a, tt.b, tt.d); got != tt.want || ok != tt.ok {
			t.Errorf("mulDivRound(%d, %d, %d) = %d, %v; want %d, %v", tt.a, tt.b, tt.d, got, ok, tt.want, tt.ok)
		}
	}
}

func TestChangeHundredths(t *testing.T) {
	tests := []struct{ price, open, want int64 }{
		{105, 100, 500},
		{95, 100, -500},
		{100, 100, 0},
		{1_000_050, 1_000_000, 1}, // 0.005 % rounds away from zero
		{999_950, 1_000_000, -1},
		{1_000_049, 1_000_000, 0},
	}
	for _, tt := range tests {
		if got := changeHundredths(tt.price, tt.open); got != tt.want {
			t.Errorf("changeHundredths(%d, %d) = %d, want %d", tt.price, tt.open, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 2 ", 2 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"99999999999999999999", 0}, // not an int64: unreadable, the backoff applies
		{"9223372036854775807", maxRetryWait + time.Second},
		{now.Add(4 * time.Second).Format(http.TimeFormat), 4 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

// FuzzMarketsAnswer: whatever CoinGecko answers, decoding never panics and a successful decode
// never yields a zero or negative price, a coin twice, or a coin out of Coins order.
func FuzzMarketsAnswer(f *testing.F) {
	for _, s := range []string{
		`[{"id":"bitcoin","current_price":65000.12,"market_cap":1.28355e12}]`,
		`[{"id":"dogecoin","current_price":1.2e-05},{"id":"bitcoin","current_price":"NaN"}]`,
		`[{"id":"tron","current_price":-1},{"id":"tron","current_price":1}]`,
		`[{"id":"ethereum","current_price":1e400,"price_change_percentage_24h":null}]`,
		`null`, `[]`, `{}`, `[`,
	} {
		f.Add([]byte(s))
	}
	cg := &coinGecko{now: time.Now, log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, body []byte) {
		var rows []marketRow
		if err := decodeJSON(body, &rows); err != nil {
			return
		}
		last := -1
		for _, q := range cg.quotes(rows) {
			if q.Price <= 0 || q.MarketCap < 0 || q.Volume24h < 0 {
				t.Fatalf("quote %+v from %q", q, body)
			}
			i := coinIndex(q.Symbol)
			if i <= last {
				t.Fatalf("%s out of order or repeated", q.Symbol)
			}
			last = i
		}
	})
}

func coinIndex(symbol string) int {
	for i, c := range Coins {
		if c.Symbol == symbol {
			return i
		}
	}
	return -1
}
