package trading

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

func mustQuantity(t *testing.T, s string) money.Quantity {
	t.Helper()
	q, err := money.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func mustPrice(t *testing.T, s string) money.Price {
	t.Helper()
	p, err := money.ParsePrice(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTradeArithmetic: api.md's example and the rounding rules — a buy's value rounded up, a
// sell's down, the fee 0.1 % of the exact value rounded up with a 0.01 floor — down to single
// satoshis, and the refusals.
func TestTradeArithmetic(t *testing.T) {
	tests := []struct {
		name               string
		side               Side
		amount, price      string
		value, fee, total  string
		err                error
		reserveCash, coins string // reservation of a resting order at price
		reserveErr         error
	}{
		{name: "api.md example, buy", side: Buy, amount: "0.5", price: "65000.12",
			value: "32500.06", fee: "32.51", total: "32532.57", reserveCash: "32532.57", coins: "0"},
		{name: "api.md example, sell", side: Sell, amount: "0.5", price: "65000.12",
			value: "32500.06", fee: "32.51", total: "32467.55", reserveCash: "0.00", coins: "0.5"},
		{name: "sell rounds the value down, buy up", side: Sell, amount: "0.33333333", price: "3",
			value: "0.99", fee: "0.01", total: "0.98", reserveCash: "0.00", coins: "0.33333333"},
		{name: "buy of the same rounds up", side: Buy, amount: "0.33333333", price: "3",
			value: "1.00", fee: "0.01", total: "1.01", reserveCash: "1.01", coins: "0"},
		{name: "one satoshi bought", side: Buy, amount: "0.00000001", price: "65000.12",
			value: "0.01", fee: "0.01", total: "0.02", reserveCash: "0.02", coins: "0"},
		{name: "one satoshi sold: the fee takes more than the sale", side: Sell, amount: "0.00000001", price: "65000.12",
			err: errSellTooSmall, reserveErr: errSellTooSmall},
		{name: "sale worth exactly the minimum fee", side: Sell, amount: "0.01", price: "1",
			err: errSellTooSmall, reserveErr: errSellTooSmall},
		{name: "fee above the minimum rounds up", side: Buy, amount: "1", price: "10.01",
			value: "10.01", fee: "0.02", total: "10.03", reserveCash: "10.03", coins: "0"},
		{name: "value beyond the maximum", side: Buy, amount: "1000000000", price: "1000000000",
			err: money.ErrOutOfRange, reserveErr: money.ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, p := mustQuantity(t, tt.amount), mustPrice(t, tt.price)
			trade, err := tradeAt(tt.side, q, p)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("tradeAt error = %v, want %v", err, tt.err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got := [3]string{trade.Value.String(), trade.Fee.String(), trade.Total.String()}; got != [3]string{tt.value, tt.fee, tt.total} {
					t.Fatalf("value, fee, total = %v, want %s %s %s", got, tt.value, tt.fee, tt.total)
				}
			}
			cash, coins, err := reservation(tt.side, q, p)
			if tt.reserveErr != nil {
				if !errors.Is(err, tt.reserveErr) {
					t.Fatalf("reservation error = %v, want %v", err, tt.reserveErr)
				}
				return
			}
			if err != nil || cash.String() != tt.reserveCash || coins.String() != tt.coins {
				t.Fatalf("reservation = %s cash, %s coins, %v; want %s, %s", cash, coins, err, tt.reserveCash, tt.coins)
			}
		})
	}
}

// TestTriggered: when each kind of order executes against a market price, and at which price.
func TestTriggered(t *testing.T) {
	const at money.Price = 100_00000000
	tests := []struct {
		typ    OrderType
		side   Side
		market money.Price
		want   bool
		fillAt money.Price
	}{
		{Limit, Buy, at - 1, true, at},
		{Limit, Buy, at, true, at},
		{Limit, Buy, at + 1, false, 0},
		{Limit, Sell, at + 1, true, at},
		{Limit, Sell, at, true, at},
		{Limit, Sell, at - 1, false, 0},
		{Stop, Sell, at - 1, true, at - 1}, // stop-loss: falls to its price, executes at the market's
		{Stop, Sell, at, true, at},
		{Stop, Sell, at + 1, false, 0},
		{Stop, Buy, at + 1, true, at + 1},
		{Stop, Buy, at, true, at},
		{Stop, Buy, at - 1, false, 0},
		{Market, Buy, at, true, at},
	}
	for _, tt := range tests {
		got := triggered(tt.typ, tt.side, at, tt.market)
		if got != tt.want {
			t.Errorf("%s %s at %s, market %s: triggered = %v, want %v", tt.typ, tt.side, at, tt.market, got, tt.want)
			continue
		}
		price := at
		o := orderDoc{Type: tt.typ, Side: tt.side, Price: &price}
		if got && tt.typ != Market && restingFillPrice(o, tt.market) != tt.fillAt {
			t.Errorf("%s %s: fills at %s, want %s", tt.typ, tt.side, restingFillPrice(o, tt.market), tt.fillAt)
		}
	}
}

// TestParseOrder: every field's rules, each refusal naming its field in one 422.
func TestParseOrder(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []string // fields of the 422; none: valid
		check  func(t *testing.T, o orderRequest)
	}{
		{name: "market buy, number amount, price ignored", body: `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.5,"price":65000.12}`,
			check: func(t *testing.T, o orderRequest) {
				if o.Pair != "BTC/USDT" || o.Symbol != "BTC" || o.Amount != 50_000_000 || o.Price != nil {
					t.Fatalf("parsed %+v", o)
				}
			}},
		{name: "string amount, lower-case USD pair", body: `{"trading_pair":"eth/usd","order_type":"limit","side":"sell","amount":"1.25","price":"3500"}`,
			check: func(t *testing.T, o orderRequest) {
				if o.Pair != "ETH/USD" || o.Amount != 125_000_000 || o.Price == nil || *o.Price != 3500_00000000 {
					t.Fatalf("parsed %+v", o)
				}
			}},
		{name: "8 decimals", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"0.00000001"}`},
		{name: "trailing zeros beyond 8 decimals", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.500000000}`},
		{name: "9 decimals", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.000000001}`, fields: []string{"amount"}},
		{name: "negative", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":-1}`, fields: []string{"amount"}},
		{name: "zero", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"0"}`, fields: []string{"amount"}},
		{name: "1e400", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":1e400}`, fields: []string{"amount"}},
		{name: "NaN", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"NaN"}`, fields: []string{"amount"}},
		{name: "Infinity", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"Infinity"}`, fields: []string{"amount"}},
		{name: "amount too large", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":1000000001}`, fields: []string{"amount"}},
		{name: "amount a boolean", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":true}`, fields: []string{"amount"}},
		{name: "missing everything", body: `{}`, fields: []string{"trading_pair", "order_type", "side", "amount"}},
		{name: "unsupported coin", body: `{"trading_pair":"PEPE/USDT","order_type":"market","side":"buy","amount":1}`, fields: []string{"trading_pair"}},
		{name: "unsupported quote", body: `{"trading_pair":"BTC/EUR","order_type":"market","side":"buy","amount":1}`, fields: []string{"trading_pair"}},
		{name: "coin id instead of symbol", body: `{"trading_pair":"bitcoin/USD","order_type":"market","side":"buy","amount":1}`, fields: []string{"trading_pair"}},
		{name: "quoted in itself", body: `{"trading_pair":"USDT/USDT","order_type":"market","side":"buy","amount":1}`, fields: []string{"trading_pair"}},
		{name: "no slash", body: `{"trading_pair":"BTCUSD","order_type":"market","side":"buy","amount":1}`, fields: []string{"trading_pair"}},
		{name: "pair a number", body: `{"trading_pair":5,"order_type":"market","side":"buy","amount":1}`, fields: []string{"trading_pair"}},
		{name: "bad side and type", body: `{"trading_pair":"BTC/USD","order_type":"stop-limit","side":"short","amount":1}`, fields: []string{"order_type", "side"}},
		{name: "limit without price", body: `{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":1}`, fields: []string{"price"}},
		{name: "stop with null price", body: `{"trading_pair":"BTC/USD","order_type":"stop","side":"sell","amount":1,"price":null}`, fields: []string{"price"}},
		{name: "limit with zero price", body: `{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":1,"price":0}`, fields: []string{"price"}},
		{name: "market with a negative price", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":1,"price":-5}`, fields: []string{"price"}},
		{name: "market with a malformed price", body: `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":1,"price":"abc"}`, fields: []string{"price"}},
		{name: "price with 9 decimals", body: `{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":1,"price":1.000000001}`, fields: []string{"price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/orders", strings.NewReader(tt.body))
			o, err := parseOrder(r)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("parseOrder: %v", err)
				}
				if tt.check != nil {
					tt.check(t, o)
				}
				return
			}
			var we *web.Error
			if !errors.As(err, &we) || we.Status != http.StatusUnprocessableEntity || we.Code != web.CodeValidation {
				t.Fatalf("error = %v, want a 422 VALIDATION_ERROR", err)
			}
			for _, f := range tt.fields {
				if we.Fields[f] == "" {
					t.Errorf("no message for field %s: %v", f, we.Fields)
				}
			}
			if len(we.Fields) != len(tt.fields) {
				t.Errorf("fields %v, want exactly %v", we.Fields, tt.fields)
			}
		})
	}
}

// TestFingerprint: requests that parse to the same order are the same request for the
// idempotency store; a market order's ignored price does not count.
func TestFingerprint(t *testing.T) {
	parse := func(body string) string {
		o, err := parseOrder(httptest.NewRequest(http.MethodPost, "/api/orders", strings.NewReader(body)))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return o.fingerprint()
	}
	a := parse(`{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.5,"price":65000}`)
	for _, same := range []string{
		`{"trading_pair":"btc/usdt","order_type":"market","side":"buy","amount":"0.50"}`,
		`{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.5,"price":"65001.5"}`,
	} {
		if parse(same) != a {
			t.Errorf("%s: another fingerprint", same)
		}
	}
	for _, other := range []string{
		`{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.5}`,
		`{"trading_pair":"BTC/USDT","order_type":"market","side":"sell","amount":0.5}`,
		`{"trading_pair":"BTC/USDT","order_type":"limit","side":"buy","amount":0.5,"price":65000}`,
	} {
		if parse(other) == a {
			t.Errorf("%s: same fingerprint", other)
		}
	}
}
