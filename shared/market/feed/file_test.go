package feed_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

func newFile(t *testing.T, path string) feed.Feed {
	t.Helper()
	f, err := feed.New(context.Background(), "file:"+path, feed.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// writeAtomic replaces path with content the way the package documentation recommends.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileRereadEveryCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	f := newFile(t, path)
	if f.Name() != "file" {
		t.Fatalf("Name() = %q", f.Name())
	}
	steps := []struct {
		content string // "" removes the file
		want    money.Price
		wantErr error
	}{
		{content: `{"quotes": [{"symbol": "BTC", "price": "65000.12"}]}`, want: 6_500_012_000_000},
		{content: `{"quotes": [{"symbol": "BTC", "price": "60000"}]}`, want: 6_000_000_000_000},
		{content: "", wantErr: feed.ErrUnavailable},
		{content: `{"quotes": [{"symbol": "BTC", "price": 59999.99}]}`, want: 5_999_999_000_000},
		{content: `{"quotes": [{"symbol": "BTC", "price": "59999.99"`, wantErr: feed.ErrMalformed},
		{content: `{"quotes": [{"symbol": "BTC", "price": "70000"}]}`, want: 7_000_000_000_000},
	}
	for i, st := range steps {
		if st.content == "" {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		} else {
			writeAtomic(t, path, st.content)
		}
		quotes, err := f.Quotes(context.Background(), nil)
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) || quotes != nil {
				t.Fatalf("step %d: %v, %v; want %v", i, quotes, err, st.wantErr)
			}
			continue
		}
		if err != nil || len(quotes) != 1 || quotes[0].Price != st.want {
			t.Fatalf("step %d: %v, %v; want BTC at %d", i, quotes, err, st.want)
		}
	}
}

func TestFileExactParsing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	writeAtomic(t, path, `{"quotes": [
		{"symbol": "doge", "price": "1.2e-05", "change_24h": -1.235, "market_cap": "1.28355e12", "volume_24h": 45000000000.5},
		{"symbol": "BTC", "price": 65000.12, "change_24h": "2.5", "market_cap": 1283550000000, "volume_24h": 45000000000,
		 "image": "https://example.com/btc.png", "last_updated": "2026-11-28T08:00:00Z"},
		{"symbol": "Ethereum", "price": "0.000000005"},
		{"symbol": "usd-coin", "price": "0.99991234"}
	]}`)
	quotes, err := newFile(t, path).Quotes(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []feed.Quote{
		{Symbol: "BTC", ID: "bitcoin", Name: "Bitcoin", Image: "https://example.com/btc.png", Price: 6_500_012_000_000,
			Change24h: 250, MarketCap: 1_283_550_000_000, Volume24h: 45_000_000_000,
			QuotedAt: time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)},
		{Symbol: "ETH", ID: "ethereum", Name: "Ethereum", Price: 1, QuotedAt: fixedNow},
		{Symbol: "USDC", ID: "usd-coin", Name: "USDC", Price: 99_991_234, QuotedAt: fixedNow},
		{Symbol: "DOGE", ID: "dogecoin", Name: "Dogecoin", Price: 1200, Change24h: -124,
			MarketCap: 1_283_550_000_000, Volume24h: 45_000_000_001, QuotedAt: fixedNow},
	}
	if !slices.EqualFunc(quotes, want, func(a, b feed.Quote) bool { return a == b }) {
		t.Fatalf("quotes\n%+v\nwant (in Coins order)\n%+v", quotes, want)
	}
}

func TestFileFormatErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    error
	}{
		{"not JSON", `prices: BTC 65000`, feed.ErrMalformed},
		{"truncated", `{"quotes": [`, feed.ErrMalformed},
		{"empty file", ``, feed.ErrMalformed},
		{"trailing data", `{"quotes": []} {}`, feed.ErrMalformed},
		{"misspelt field", `{"quotes": [{"symbol": "BTC", "prcie": "1"}]}`, feed.ErrMalformed},
		{"unknown top-level field", `{"quotes": [], "prices": []}`, feed.ErrMalformed},
		{"quotes not a list", `{"quotes": {"BTC": "1"}}`, feed.ErrMalformed},
		{"symbol not a string", `{"quotes": [{"symbol": 1, "price": "1"}]}`, feed.ErrMalformed},
		{"over 2 MiB", `{"quotes": []` + strings.Repeat(" ", 2<<20) + `}`, feed.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "prices.json")
			writeAtomic(t, path, tt.content)
			quotes, err := newFile(t, path).Quotes(context.Background(), nil)
			if !errors.Is(err, tt.want) || quotes != nil {
				t.Fatalf("Quotes = %v, %v; want %v", quotes, err, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := newFile(t, filepath.Join(t.TempDir(), "absent.json")).Quotes(context.Background(), nil)
		if !errors.Is(err, feed.ErrUnavailable) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error = %v", err)
		}
	})
}

// Bad entries cost their own quote only, with a warning that says why.
func TestFileBadQuotesDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	writeAtomic(t, path, `{"quotes": [
		{"symbol": "SHIB", "price": "0.00001"},
		{"symbol": "BTC", "price": "65000"},
		{"symbol": "btc", "price": "1"},
		{"symbol": "ETH", "price": "0"},
		{"symbol": "ETH", "price": "3500"},
		{"symbol": "SOL", "price": "-150"},
		{"symbol": "XRP"},
		{"symbol": "ADA", "price": "NaN"},
		{"symbol": "TRX", "price": "0.12", "last_updated": "yesterday"},
		{"symbol": "BNB", "price": "600", "market_cap": -1},
		{"symbol": "DOGE", "price": "0.15", "change_24h": "1e400"},
		{"symbol": "USDT", "price": "1", "image": "javascript:alert(1)"}
	]}`)
	log, buf := testLogger()
	f, err := feed.New(context.Background(), "file:"+path, feed.Options{Now: clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	quotes, err := f.Quotes(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := symbols(quotes); !slices.Equal(got, []string{"BTC", "USDT"}) {
		t.Fatalf("quotes %v, want BTC and USDT", got)
	}
	if quotes[0].Price != 6_500_000_000_000 || quotes[1].Image != "" {
		t.Errorf("BTC %s (the first entry must win), USDT image %q", quotes[0].Price, quotes[1].Image)
	}
	for _, want := range []string{
		"unknown coin in the file ignored", "symbol=SHIB", "coin listed twice",
		"coin=ETH", "not positive", "coin=SOL", "coin=XRP", "missing", "coin=ADA", "not a number",
		"coin=TRX", "last_updated", "coin=BNB", "negative", "coin=DOGE", "out of range",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf)
		}
	}
}

func TestFileHistory(t *testing.T) {
	now := fixedNow.Unix()
	path := filepath.Join(t.TempDir(), "prices.json")
	hour := int64(3600)
	writeAtomic(t, path, `{"quotes": [], "history": {
		"btc": [[`+itoa(now-2*hour)+`, "64000"], [`+itoa(now-3*24*hour)+`, "1"], [`+itoa(now+hour)+`, "2"]],
		"bitcoin": [[`+itoa(now-1*hour)+`, 64100.5], [`+itoa(now-5*hour)+`, "6.3e4"], [`+itoa(now-4*hour)+`, "0"]],
		"ETH": []
	}}`)
	f := newFile(t, path)
	points, err := f.History(context.Background(), feed.Coin{Symbol: "BTC"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []feed.Point{ // both keys merged, sorted, the 3-day-old, future and zero points left out
		{Time: time.Unix(now-5*hour, 0).UTC(), Price: 6_300_000_000_000},
		{Time: time.Unix(now-2*hour, 0).UTC(), Price: 6_400_000_000_000},
		{Time: time.Unix(now-1*hour, 0).UTC(), Price: 6_410_050_000_000},
	}
	if !slices.EqualFunc(points, want, func(a, b feed.Point) bool { return a.Time.Equal(b.Time) && a.Price == b.Price }) {
		t.Fatalf("points %v, want %v", points, want)
	}
	for _, coin := range []feed.Coin{{Symbol: "ETH"}, {Symbol: "SOL"}} {
		if points, err := f.History(context.Background(), coin, 7); err != nil || len(points) != 0 {
			t.Errorf("%s: %v, %v; want none", coin.Symbol, points, err)
		}
	}
	// Without the file there is nothing to backfill from: an error, like Quotes.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := f.History(context.Background(), feed.Coin{Symbol: "BTC"}, 2); !errors.Is(err, feed.ErrUnavailable) {
		t.Errorf("missing file: %v", err)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
