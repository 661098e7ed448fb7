package feed_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/market/feed"
)

func TestCoins(t *testing.T) {
	want := []string{"BTC", "ETH", "USDT", "BNB", "SOL", "XRP", "USDC", "ADA", "DOGE", "TRX"}
	if got := symbols(coinQuotes()); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Coins = %v, want %v", got, want)
	}
	seen := map[string]bool{}
	for _, c := range feed.Coins {
		if c.Symbol != strings.ToUpper(c.Symbol) || c.ID != strings.ToLower(c.ID) || c.Name == "" {
			t.Errorf("%+v: symbols upper case, ids lower case, names set", c)
		}
		for _, k := range []string{strings.ToLower(c.Symbol), c.ID} {
			if seen[k] {
				t.Errorf("%q is ambiguous", k)
			}
			seen[k] = true
		}
	}
}

func coinQuotes() []feed.Quote {
	out := make([]feed.Quote, len(feed.Coins))
	for i, c := range feed.Coins {
		out[i] = feed.Quote{Symbol: c.Symbol}
	}
	return out
}

func TestCoinBySymbolOrID(t *testing.T) {
	tests := []struct {
		in   string
		want string // symbol, "" for not found
	}{
		{"BTC", "BTC"},
		{"btc", "BTC"},
		{"bitcoin", "BTC"},
		{"Bitcoin", "BTC"},
		{"usd-coin", "USDC"},
		{"USDC", "USDC"},
		{"binancecoin", "BNB"},
		{"ripple", "XRP"},
		{"tron", "TRX"},
		{"", ""},
		{"usd", ""},
		{"shiba-inu", ""},
		{"BTC ", ""},
		{"BTC/USD", ""},
	}
	for _, tt := range tests {
		c, ok := feed.CoinBySymbolOrID(tt.in)
		if ok != (tt.want != "") || c.Symbol != tt.want {
			t.Errorf("CoinBySymbolOrID(%q) = %+v, %v; want %q", tt.in, c, ok, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		spec    string
		baseURL string
		want    string // Name(), "" for an error
	}{
		{spec: "simulated", want: "simulated"},
		{spec: " Simulated\n", want: "simulated"},
		{spec: "coingecko", want: "coingecko"},
		{spec: "COINGECKO", want: "coingecko"},
		{spec: "coingecko", baseURL: "http://127.0.0.1:9/api/v3/", want: "coingecko"},
		{spec: "file:testdata/prices.json", want: "file"},
		{spec: "FILE:relative/prices.json", want: "file"},
		{spec: "file:C:/not-a-scheme.json", want: "file"}, // only the first colon separates
		{spec: ""},
		{spec: "binance"},
		{spec: "file:"},
		{spec: "file"},
		{spec: "simulated:fast"},
		{spec: "coingecko", baseURL: "ftp://example.com"},
		{spec: "coingecko", baseURL: "/api/v3"},
		{spec: "coingecko", baseURL: "https://example.com/api?x=1"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+" "+tt.baseURL, func(t *testing.T) {
			f, err := feed.New(context.Background(), tt.spec, feed.Options{BaseURL: tt.baseURL})
			if tt.want == "" {
				if !errors.Is(err, feed.ErrBadSpec) || f != nil {
					t.Fatalf("New = %v, %v; want ErrBadSpec", f, err)
				}
				return
			}
			if err != nil || f.Name() != tt.want {
				t.Fatalf("New = %v, %v; want %s", f, err, tt.want)
			}
		})
	}
}
