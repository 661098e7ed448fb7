package feed_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

func ok(body string) reply { return reply{status: http.StatusOK, body: body} }

func TestCoinGeckoQuotes(t *testing.T) {
	u := startUpstream(t, ok(readFixture(t, "markets.json")))
	f := newCoinGecko(t, u, nil, feed.Options{})
	if f.Name() != "coingecko" {
		t.Fatalf("Name() = %q", f.Name())
	}
	quotes, err := f.Quotes(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}

	// One request for all ten coins, with the documented query.
	reqs := u.received()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.URL.Path != "/coins/markets" {
		t.Errorf("path %q", r.URL.Path)
	}
	q := r.URL.Query()
	wantIDs := "bitcoin,ethereum,tether,binancecoin,solana,ripple,usd-coin,cardano,dogecoin,tron"
	if q.Get("vs_currency") != "usd" || q.Get("ids") != wantIDs || q.Get("price_change_percentage") != "24h" {
		t.Errorf("query %v", q)
	}
	if r.Header.Get("x-cg-demo-api-key") != "" {
		t.Errorf("an API key header was sent without a key configured")
	}

	// Exact conversions of the fixture's texts (see testdata/markets.json): prices rounded half
	// away from zero to 8 decimals, percentages to 2, dollar figures to whole dollars. DOGE's
	// fixture price is deliberately 1.2e-05 (not its real price): it puts the exponent form that
	// CoinGecko uses for sub-0.0001 prices on a coin we actually request.
	quotedAt := time.Date(2026, 11, 28, 9, 14, 31, 512_000_000, time.UTC)
	want := []struct {
		symbol    string
		price     money.Price
		change    money.Percent
		cap, vol  int64
		name, img string
	}{
		{"BTC", 6_500_012_000_000, 254, 1_283_550_000_000, 45_000_000_000, "Bitcoin", "images/1/large/bitcoin.png"},
		{"ETH", 350_055_000_000, -124, 420_660_000_000, 18_000_000_001, "Ethereum", "images/279/large"},
		{"USDT", 100_000_000, 0, 110_000_000_000, 60_000_000_000, "Tether", "Tether.png"},
		{"BNB", 60_010_000_000, 1, 87_600_000_000, 1_800_000_000, "BNB", "bnb-icon2_2x.png"},
		{"SOL", 15_012_345_679, 500, 69_800_000_000, 2_800_000_000, "Solana", "solana.png"},
		{"XRP", 60_120_000, -40, 33_600_000_000, 1_200_000_000, "XRP", "xrp-symbol"},
		{"USDC", 99_991_200, -1, 33_000_000_000, 6_500_000_000, "USDC", "usdc.png"},
		{"ADA", 45_120_000, 110, 16_100_000_000, 400_000_000, "Cardano", "cardano.png"},
		{"DOGE", 1200, -346, 21_700_000_000, 1_100_000_000, "Dogecoin", "dogecoin.png"}, // 1.2e-05
		{"TRX", 12_340_000, 0, 10_750_000_000, 300_000_000, "TRON", "tron-logo.png"},    // null change
	}
	if len(quotes) != len(want) {
		t.Fatalf("%d quotes %v, want 10", len(quotes), symbols(quotes))
	}
	for i, w := range want {
		got := quotes[i]
		coin, _ := feed.CoinBySymbolOrID(w.symbol)
		if got.Symbol != w.symbol || got.ID != coin.ID || got.Name != w.name {
			t.Errorf("quote %d = %s/%s/%s, want %s/%s/%s", i, got.Symbol, got.ID, got.Name, w.symbol, coin.ID, w.name)
		}
		if got.Price != w.price || got.Change24h != w.change || got.MarketCap != w.cap || got.Volume24h != w.vol {
			t.Errorf("%s = price %d change %d cap %d vol %d, want %d %d %d %d", w.symbol,
				got.Price, got.Change24h, got.MarketCap, got.Volume24h, w.price, w.change, w.cap, w.vol)
		}
		if !strings.HasPrefix(got.Image, "https://") || !strings.Contains(got.Image, w.img) {
			t.Errorf("%s image %q", w.symbol, got.Image)
		}
		if !got.QuotedAt.Equal(quotedAt) {
			t.Errorf("%s QuotedAt %v, want %v", w.symbol, got.QuotedAt, quotedAt)
		}
	}
}

func TestCoinGeckoRetries(t *testing.T) {
	fixture := readFixture(t, "markets.json")
	tests := []struct {
		name         string
		replies      []reply
		wantRequests int
		wantWaits    []time.Duration
		wantErr      error
		errHas       string
	}{
		{
			name:         "429 with Retry-After seconds, then success",
			replies:      []reply{{status: 429, header: map[string]string{"Retry-After": "1"}}, ok(fixture)},
			wantRequests: 2, wantWaits: []time.Duration{time.Second},
		},
		{
			name: "429 with Retry-After as an HTTP date",
			replies: []reply{{status: 429, header: map[string]string{
				"Retry-After": fixedNow.Add(3 * time.Second).Format(http.TimeFormat)}}, ok(fixture)},
			wantRequests: 2, wantWaits: []time.Duration{3 * time.Second},
		},
		{
			name:         "Retry-After capped at 10 s",
			replies:      []reply{{status: 429, header: map[string]string{"Retry-After": "3600"}}, ok(fixture)},
			wantRequests: 2, wantWaits: []time.Duration{10 * time.Second},
		},
		{
			name:         "Retry-After below the backoff: the backoff wins",
			replies:      []reply{{status: 503, header: map[string]string{"Retry-After": "0"}}, ok(fixture)},
			wantRequests: 2, wantWaits: []time.Duration{500 * time.Millisecond},
		},
		{
			name:         "unreadable Retry-After: exponential backoff",
			replies:      []reply{{status: 429, header: map[string]string{"Retry-After": "soon"}}, {status: 429}, ok(fixture)},
			wantRequests: 3, wantWaits: []time.Duration{500 * time.Millisecond, time.Second},
		},
		{
			name:         "500 then success",
			replies:      []reply{{status: 500}, ok(fixture)},
			wantRequests: 2, wantWaits: []time.Duration{500 * time.Millisecond},
		},
		{
			name:         "500 three times",
			replies:      []reply{{status: 500}},
			wantRequests: 3, wantWaits: []time.Duration{500 * time.Millisecond, time.Second},
			wantErr: feed.ErrUnavailable, errHas: "status 500",
		},
		{
			name:         "400 is not retried",
			replies:      []reply{{status: 400, body: `{"error":"invalid vs_currency"}`}},
			wantRequests: 1, wantErr: feed.ErrUnavailable, errHas: "status 400",
		},
		{
			name:         "401 is not retried",
			replies:      []reply{{status: 401, body: `{"status":{"error_code":10002}}`}},
			wantRequests: 1, wantErr: feed.ErrUnavailable, errHas: "status 401",
		},
		{
			name:         "404 is not retried",
			replies:      []reply{{status: 404}},
			wantRequests: 1, wantErr: feed.ErrUnavailable, errHas: "status 404",
		},
		{
			name:         "an oversized body is not retried",
			replies:      []reply{ok("[" + strings.Repeat(" ", 3<<20) + "]")},
			wantRequests: 1, wantErr: feed.ErrMalformed, errHas: "larger than",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startUpstream(t, tt.replies...)
			s := &sleeps{}
			f := newCoinGecko(t, u, s, feed.Options{})
			quotes, err := f.Quotes(context.Background(), nil)
			if tt.wantErr == nil {
				if err != nil || len(quotes) != 10 {
					t.Fatalf("Quotes = %d quotes, %v; want 10", len(quotes), err)
				}
			} else {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errHas) || quotes != nil {
					t.Fatalf("Quotes = %d quotes, %v; want %v containing %q", len(quotes), err, tt.wantErr, tt.errHas)
				}
				if strings.Contains(err.Error(), "{") {
					t.Errorf("error quotes the response body: %v", err)
				}
			}
			if n := len(u.received()); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			if got := s.waits(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestCoinGeckoMalformed(t *testing.T) {
	tests := []struct{ name, body string }{
		{"HTML error page", "<html><body>Bad gateway</body></html>"},
		{"truncated", `[{"id": "bitcoin", "current_price": 65000.12`},
		{"empty body", ""},
		{"trailing data", readFixture(t, "markets.json") + `[]`},
		{"an object instead of a list", `{"status": {"error_code": 429, "error_message": "rate limited"}}`},
		{"null", `null`},
		{"wrong field type", `[{"id": 5, "current_price": 1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startUpstream(t, ok(tt.body))
			f := newCoinGecko(t, u, &sleeps{}, feed.Options{})
			quotes, err := f.Quotes(context.Background(), nil)
			if !errors.Is(err, feed.ErrMalformed) || quotes != nil {
				t.Fatalf("Quotes = %v, %v; want ErrMalformed and nothing", symbols(quotes), err)
			}
			if len(u.received()) != 1 {
				t.Errorf("a malformed answer was retried")
			}
		})
	}
}

func TestCoinGeckoMissingAndExtraCoins(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
		logs []string
	}{
		{
			name: "missing coins are absent",
			body: withoutCoins(t, "tether", "dogecoin"),
			want: []string{"BTC", "ETH", "BNB", "SOL", "XRP", "USDC", "ADA", "TRX"},
			logs: []string{"coin missing from the answer", "coin=USDT", "coin=DOGE"},
		},
		{
			name: "empty list",
			body: `[]`,
			want: []string{},
		},
		{
			name: "unrequested coin ignored",
			body: `[{"id": "shiba-inu", "symbol": "shib", "current_price": 1.2e-05},
				{"id": "bitcoin", "symbol": "btc", "current_price": 65000.12}]`,
			want: []string{"BTC"},
			logs: []string{"unexpected coin in the answer ignored", "id=shiba-inu"},
		},
		{
			name: "coin listed twice: the first wins",
			body: `[{"id": "bitcoin", "current_price": 65000.12}, {"id": "bitcoin", "current_price": 1}]`,
			want: []string{"BTC"},
			logs: []string{"coin listed twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := testLogger()
			u := startUpstream(t, ok(tt.body))
			f := newCoinGecko(t, u, &sleeps{}, feed.Options{Logger: log})
			quotes, err := f.Quotes(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := symbols(quotes); !slices.Equal(got, tt.want) {
				t.Fatalf("quotes %v, want %v", got, tt.want)
			}
			if tt.name == "coin listed twice: the first wins" && quotes[0].Price != 6_500_012_000_000 {
				t.Errorf("BTC price %d: the second entry won", quotes[0].Price)
			}
			for _, l := range tt.logs {
				if !strings.Contains(buf.String(), l) {
					t.Errorf("log lacks %q:\n%s", l, buf)
				}
			}
		})
	}
}

func TestCoinGeckoAbsurdValues(t *testing.T) {
	tests := []struct {
		name, field, raw, reason string
	}{
		{"negative price", "current_price", `-1`, "not positive"},
		{"zero price", "current_price", `0`, "not positive"},
		{"price rounding to zero", "current_price", `1e-9`, "not positive"},
		{"NaN string price", "current_price", `"NaN"`, "not a number"},
		{"text price", "current_price", `"abc"`, "not a number"},
		{"price 1e400", "current_price", `1e400`, "out of range"},
		{"price above a billion dollars", "current_price", `1.5e9`, "out of range"},
		{"null price", "current_price", `null`, "missing"},
		{"no price", "current_price", ``, "missing"},
		{"boolean price", "current_price", `true`, "not a number"},
		{"negative market cap", "market_cap", `-5`, "negative"},
		{"market cap 1e400", "market_cap", `1e400`, "out of range"},
		{"NaN volume", "total_volume", `"NaN"`, "not a number"},
		{"change 1e400", "price_change_percentage_24h", `1e400`, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := testLogger()
			u := startUpstream(t, ok(patchMarkets(t, "ethereum", tt.field, tt.raw)))
			f := newCoinGecko(t, u, &sleeps{}, feed.Options{Logger: log})
			quotes, err := f.Quotes(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := symbols(quotes)
			if len(got) != 9 || slices.Contains(got, "ETH") {
				t.Fatalf("quotes %v: want the nine others, ETH dropped", got)
			}
			for _, q := range quotes {
				if q.Price <= 0 {
					t.Fatalf("%s has price %d", q.Symbol, q.Price)
				}
			}
			line := buf.String()
			if !strings.Contains(line, "quote dropped") || !strings.Contains(line, "coin=ETH") ||
				!strings.Contains(line, tt.reason) || !strings.Contains(line, tt.field) {
				t.Errorf("log does not explain the drop (%s: %s):\n%s", tt.field, tt.reason, line)
			}
		})
	}
}

// Optional figures CoinGecko sends as null for young coins cost the figure, not the price.
func TestCoinGeckoNullOptionalFields(t *testing.T) {
	body := patchMarkets(t, "solana", "market_cap", "null")
	body = strings.Replace(body, `"last_updated":"2026-11-28T09:14:31.512Z"`, `"last_updated":null`, 1) // bitcoin's
	u := startUpstream(t, ok(body))
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{})
	quotes, err := f.Quotes(context.Background(), nil)
	if err != nil || len(quotes) != 10 {
		t.Fatalf("Quotes = %d, %v", len(quotes), err)
	}
	if quotes[4].Symbol != "SOL" || quotes[4].MarketCap != 0 {
		t.Errorf("SOL market cap %d, want 0", quotes[4].MarketCap)
	}
	if !quotes[0].QuotedAt.Equal(fixedNow) {
		t.Errorf("BTC without last_updated quoted at %v, want the read time %v", quotes[0].QuotedAt, fixedNow)
	}
}

func TestCoinGeckoUnsafeImageDropped(t *testing.T) {
	u := startUpstream(t, ok(patchMarkets(t, "bitcoin", "image", `"javascript:alert(1)"`)))
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{})
	quotes, err := f.Quotes(context.Background(), nil)
	if err != nil || len(quotes) != 10 {
		t.Fatalf("Quotes = %d, %v", len(quotes), err)
	}
	if quotes[0].Image != "" || quotes[0].Price != 6_500_012_000_000 {
		t.Errorf("BTC = image %q price %d; want no image, price kept", quotes[0].Image, quotes[0].Price)
	}
}

func TestCoinGeckoRedirects(t *testing.T) {
	fixture := readFixture(t, "markets.json")
	other := startUpstream(t, ok(fixture))

	t.Run("to another host: refused, not retried", func(t *testing.T) {
		u := startUpstream(t, reply{status: http.StatusFound, header: map[string]string{
			"Location": other.srv.URL + "/coins/markets"}})
		f := newCoinGecko(t, u, &sleeps{}, feed.Options{APIKey: staticKey("CG-redirect-key")})
		_, err := f.Quotes(context.Background(), nil)
		if !errors.Is(err, feed.ErrUnavailable) || !strings.Contains(err.Error(), "redirect") {
			t.Fatalf("error = %v, want a refused redirect", err)
		}
		if n := len(other.received()); n != 0 {
			t.Fatalf("the other host got %d requests (and the API key)", n)
		}
		if n := len(u.received()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("on the same host: followed", func(t *testing.T) {
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/coins/markets" {
				http.Redirect(w, r, srv.URL+"/v3/coins/markets?"+r.URL.RawQuery, http.StatusMovedPermanently)
				return
			}
			_, _ = w.Write([]byte(fixture))
		}))
		t.Cleanup(srv.Close)
		f, err := feed.New(context.Background(), "coingecko", feed.Options{BaseURL: srv.URL, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if quotes, err := f.Quotes(context.Background(), nil); err != nil || len(quotes) != 10 {
			t.Fatalf("Quotes = %d, %v", len(quotes), err)
		}
	})
}

// The caller's http.Client is used (its transport) but never modified.
func TestCoinGeckoUsesCallerClientWithoutChangingIt(t *testing.T) {
	u := startUpstream(t, ok(readFixture(t, "markets.json")))
	var used bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{HTTPClient: client})
	if _, err := f.Quotes(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if !used || client.CheckRedirect != nil {
		t.Errorf("transport used %v, CheckRedirect changed %v", used, client.CheckRedirect != nil)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCoinGeckoDeadline(t *testing.T) {
	t.Run("a hanging upstream", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers; returns when the client gives up
		}))
		t.Cleanup(srv.Close)
		f, err := feed.New(context.Background(), "coingecko", feed.Options{BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = f.Quotes(ctx, nil)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, feed.ErrUnavailable) {
			t.Fatalf("error = %v, want the deadline", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v after a 100 ms deadline", d)
		}
	})

	t.Run("no retry wait past the deadline", func(t *testing.T) {
		u := startUpstream(t, reply{status: 429, header: map[string]string{"Retry-After": "5"}})
		s := &sleeps{}
		f := newCoinGecko(t, u, s, feed.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := f.Quotes(ctx, nil)
		if !errors.Is(err, feed.ErrUnavailable) || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("error = %v", err)
		}
		if len(s.waits()) != 0 || len(u.received()) != 1 {
			t.Errorf("waited %v over %d requests; want no wait, one request", s.waits(), len(u.received()))
		}
	})

	t.Run("cancelled while waiting to retry", func(t *testing.T) {
		u := startUpstream(t, reply{status: 503, header: map[string]string{"Retry-After": "2"}})
		f, err := feed.New(context.Background(), "coingecko", feed.Options{BaseURL: u.srv.URL}) // the real wait
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err = f.Quotes(ctx, nil)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "status 503") {
			t.Fatalf("error = %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v: the wait ignored the cancellation", d)
		}
	})
}

func TestCoinGeckoHistory(t *testing.T) {
	u := startUpstream(t, ok(readFixture(t, "market_chart.json")))
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{})
	points, err := f.History(context.Background(), feed.Coin{ID: "bitcoin"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := u.received()[0]
	if r.URL.Path != "/coins/bitcoin/market_chart" || r.URL.Query().Get("vs_currency") != "usd" ||
		r.URL.Query().Get("days") != "1" {
		t.Errorf("request %s", r.URL)
	}
	want := []feed.Point{
		{Time: time.UnixMilli(1795770000000).UTC(), Price: 6_400_050_000_000},
		{Time: time.UnixMilli(1795770300000).UTC(), Price: 6_401_012_345_679},
		{Time: time.UnixMilli(1795770600000).UTC(), Price: 6_400_000_000_000}, // 6.4e+04
		{Time: time.UnixMilli(1795770900000).UTC(), Price: 6_410_000_000_000},
		{Time: time.UnixMilli(1795771200000).UTC(), Price: 6_500_012_000_000},
	}
	if !slices.EqualFunc(points, want, func(a, b feed.Point) bool { return a.Time.Equal(b.Time) && a.Price == b.Price }) {
		t.Fatalf("points %v\nwant %v", points, want)
	}
}

func TestCoinGeckoHistoryBadPoints(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []money.Price // oldest first
		dropped string
		wantErr error
	}{
		{
			name: "absurd points dropped, the rest sorted",
			body: `{"prices": [[3000, 3], [1000, 1], [1, 2, 3], ["x", 5], [4000, -1], [5000, "NaN"],
				[6000, 1e400], [-7000, 7], [8000], [2000, 2]]}`,
			want:    []money.Price{100_000_000, 200_000_000, 300_000_000},
			dropped: "dropped=7",
		},
		{
			name: "a repeated instant keeps the last value",
			body: `{"prices": [[1000, 1], [1000, 1.5]]}`,
			want: []money.Price{150_000_000},
		},
		{name: "no data", body: `{"prices": []}`, want: []money.Price{}},
		{name: "no prices field", body: `{"market_caps": []}`, wantErr: feed.ErrMalformed},
		{name: "not JSON", body: `prices`, wantErr: feed.ErrMalformed},
		{name: "prices not a list", body: `{"prices": {"a": 1}}`, wantErr: feed.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := testLogger()
			u := startUpstream(t, ok(tt.body))
			f := newCoinGecko(t, u, &sleeps{}, feed.Options{Logger: log})
			points, err := f.History(context.Background(), feed.Coin{Symbol: "ETH"}, 30)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			got := make([]money.Price, len(points))
			for i, p := range points {
				got[i] = p.Price
			}
			if tt.wantErr == nil && !slices.Equal(got, tt.want) {
				t.Fatalf("prices %v, want %v", got, tt.want)
			}
			if !strings.Contains(buf.String(), tt.dropped) {
				t.Errorf("log lacks %q:\n%s", tt.dropped, buf)
			}
		})
	}
}
