package market_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// pricesFile is what the file feed serves: BTC and ETH with exact decimals, DOGE tiny.
const pricesFile = `{"quotes": [
	{"symbol": "BTC", "price": "65000.12", "change_24h": "2.456", "market_cap": 1283554999999, "volume_24h": 449999999},
	{"symbol": "ethereum", "price": 3500.5, "change_24h": "-1.25", "market_cap": 420000000000, "volume_24h": 20000000000},
	{"symbol": "DOGE", "price": "0.00001234", "change_24h": "0", "market_cap": 21000000000, "volume_24h": 1000000000}
], "history": {"BTC": [[1795000000, "64000"], [1795003600, "64100.5"]]}}`

// marketEnv is the prices and market functions on one engine, with the file feed and a counter
// of every Mongo command the market function's client sends.
type marketEnv struct {
	prices, market *lambdahttp.Function
	commands       *cmdlog.Log
}

func newMarketEnv(t *testing.T) *marketEnv {
	t.Helper()
	db := testenv.DB(t)
	file := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(file, []byte(pricesFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Config(t, db.URI(), map[string]string{"PRICE_FEED": "file:" + file})
	pricesDeps := testenv.NewDeps(t, cfg, app.Options{})
	prices, err := market.NewPricesFunction(pricesDeps.Deps)
	if err != nil {
		t.Fatal(err)
	}
	commands := &cmdlog.Log{}
	marketDeps := testenv.NewDeps(t, cfg, app.Options{Monitor: commands.Monitor()})
	mkt, err := market.NewMarketFunction(marketDeps.Deps)
	if err != nil {
		t.Fatal(err)
	}
	e := &marketEnv{prices: prices, market: mkt, commands: commands}
	if _, err := prices.Handle(context.Background(), []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)); err != nil {
		t.Fatalf("prices run: %v", err)
	}
	return e
}

func (e *marketEnv) get(t *testing.T, path, resource string) testenv.Response {
	t.Helper()
	return testenv.Do(t, e.market, testenv.Request{Method: "GET", Path: path, Resource: resource, Header: testenv.JSONHeader()})
}

// frontendList is GET /api/crypto decoded with the frontend's field names and exact JSON types.
type frontendList struct {
	Data []struct {
		Symbol    string  `json:"symbol"`
		Name      string  `json:"name"`
		Price     float64 `json:"price"`
		Change24h float64 `json:"change24h"`
		MarketCap string  `json:"marketCap"`
		Volume24h string  `json:"volume24h"`
	} `json:"data"`
	Cryptocurrencies []map[string]json.RawMessage `json:"cryptocurrencies"`
	UpdatedAt        string                       `json:"updatedAt"`
	Source           string                       `json:"source"`
}

func TestListShapes(t *testing.T) {
	e := newMarketEnv(t)
	r := e.get(t, "/api/crypto", "")
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var list frontendList
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		t.Fatalf("decode with the frontend's fields: %v\n%s", err, r.Body)
	}
	if list.Source != "file" || len(list.Data) != 3 || len(list.Cryptocurrencies) != 3 {
		t.Fatalf("list = %+v", list)
	}
	if _, err := time.Parse(time.RFC3339, list.UpdatedAt); err != nil || !strings.HasSuffix(list.UpdatedAt, "Z") {
		t.Errorf("updatedAt %q", list.UpdatedAt)
	}
	btc := list.Data[0]
	if btc.Symbol != "BTC" || btc.Name != "Bitcoin" || btc.MarketCap != "$1283.55B" || btc.Volume24h != "$0.45B" || btc.Change24h != 2.46 {
		t.Errorf("BTC data = %+v", btc)
	}
	// Exact decimals on the wire: the raw JSON number, not a float's rendering.
	if !strings.Contains(string(r.Body), `"price":65000.12`) || !strings.Contains(string(r.Body), `"price":0.00001234`) {
		t.Errorf("prices not exact on the wire: %s", r.Body)
	}
	// marketCap strings sort correctly once the frontend strips "$ B T G ,".
	var caps []float64
	for _, d := range list.Data {
		v, err := strconv.ParseFloat(strings.Trim(d.MarketCap, "$B"), 64)
		if err != nil {
			t.Fatalf("marketCap %q does not parse: %v", d.MarketCap, err)
		}
		caps = append(caps, v)
	}
	if !slices.Equal(caps, []float64{1283.55, 420, 21}) {
		t.Errorf("market caps %v", caps)
	}
	// cryptocurrencies[]: numbers for the USD figures, strings for the rest.
	want := map[string]byte{"id": '"', "symbol": '"', "name": '"', "price": '6', "market_cap": '1', "volume_24h": '4',
		"change_24h": '2', "last_updated": '"', "image": '"'}
	for k, first := range want {
		v, ok := list.Cryptocurrencies[0][k]
		if !ok || len(v) == 0 || v[0] != first {
			t.Errorf("cryptocurrencies[0].%s = %s", k, v)
		}
	}
	if r.Header.Get("Cache-Control") != "public, max-age=5" {
		t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
}

func TestGetCoin(t *testing.T) {
	e := newMarketEnv(t)
	for _, sym := range []string{"BTC", "btc", "bitcoin", "Bitcoin"} {
		r := e.get(t, "/api/crypto/"+sym, "/api/crypto/{symbol}")
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", sym, r.Status, r.Body)
		}
		c := r.JSON(t)["cryptocurrency"].(map[string]any)
		if c["id"] != "bitcoin" || c["symbol"] != "BTC" || c["price"] != 65000.12 || c["change_24h"] != 2.46 || c["market_cap"] != 1283554999999.0 {
			t.Errorf("%s: %v", sym, c)
		}
	}
	for _, sym := range []string{"NOPE", "SOL" /* supported, never quoted by this feed */, "..%2F..", "%E2%82%BF"} {
		r := e.get(t, "/api/crypto/"+sym, "/api/crypto/{symbol}")
		if r.Status != 404 || r.JSON(t)["code"] != "NOT_FOUND" {
			t.Errorf("%s: %d %s", sym, r.Status, r.Body)
		}
	}
}

// TestControlCharacterInPath: a path the http package cannot represent is a 400 envelope from the
// Lambda adapter layer, never a 500 or a bare 502.
func TestControlCharacterInPath(t *testing.T) {
	e := newMarketEnv(t)
	r := e.get(t, "/api/crypto/%00", "/api/crypto/{symbol}")
	if r.Status != 400 || r.JSON(t)["code"] != "INVALID_REQUEST" {
		t.Errorf("%d %s", r.Status, r.Body)
	}
}

func TestHistory(t *testing.T) {
	e := newMarketEnv(t)
	r := e.get(t, "/api/crypto/btc/history?days=365", "/api/crypto/{symbol}/history")
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var h struct {
		Symbol string `json:"symbol"`
		Days   int    `json:"days"`
		Prices []struct {
			Timestamp int64   `json:"timestamp"`
			Price     float64 `json:"price"`
		} `json:"prices"`
	}
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatal(err)
	}
	if h.Symbol != "BTC" || h.Days != 365 || len(h.Prices) < 1 {
		t.Fatalf("history = %+v", h)
	}
	for i := 1; i < len(h.Prices); i++ {
		if h.Prices[i].Timestamp < h.Prices[i-1].Timestamp {
			t.Fatalf("not oldest first: %v", h.Prices)
		}
	}
	if last := h.Prices[len(h.Prices)-1]; last.Price != 65000.12 || last.Timestamp < time.Now().Add(-time.Hour).Unix() || last.Timestamp > time.Now().Unix()+60 {
		t.Errorf("newest point %+v is not the current price at a Unix-second time", last)
	}
	if d := e.get(t, "/api/crypto/BTC/history", "/api/crypto/{symbol}/history").JSON(t); d["days"] != 7.0 {
		t.Errorf("default days = %v", d["days"])
	}
	for _, q := range []string{"days=0", "days=366", "days=abc", "days=1.5", "days=7&days=8", "days=-1"} {
		r := e.get(t, "/api/crypto/BTC/history?"+q, "/api/crypto/{symbol}/history")
		if r.Status != 422 || r.JSON(t)["code"] != "VALIDATION_ERROR" {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := e.get(t, "/api/crypto/NOPE/history", "/api/crypto/{symbol}/history"); r.Status != 404 {
		t.Errorf("unknown coin history: %d", r.Status)
	}
}

// TestMarketReadsCostOneCommandPerCachePeriod: a burst of 1,000 requests on a warm instance within
// one cache period costs at most one Mongo command, for each market read (a fresh instance each:
// the list and the coin share the price cache).
func TestMarketReadsCostOneCommandPerCachePeriod(t *testing.T) {
	tests := []struct {
		name, path, resource string
	}{
		{"list", "/api/crypto", ""},
		{"coin", "/api/crypto/btc", "/api/crypto/{symbol}"},
		{"history", "/api/crypto/BTC/history?days=7", "/api/crypto/{symbol}/history"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newMarketEnv(t)
			before := e.commands.Mark()
			for i := range 1000 {
				if r := e.get(t, tc.path, tc.resource); r.Status != 200 {
					t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
				}
			}
			if n := e.commands.Count(before); n > 1 {
				t.Errorf("1,000 requests cost %d Mongo commands, want at most 1", n)
			}
		})
	}
}
