package trading_test

import (
	"testing"

	"github.com/cryptovault/serverless/shared/testkit/fuzzapi"
	"github.com/cryptovault/serverless/shared/trading"
)

// FuzzPlaceOrder: POST /api/orders with any body and Idempotency-Key. Orders fill and rest
// against the price file's market; cash and coins run out over a long run, which must be a 422,
// never a 5xx, a negative balance or more available than held.
func FuzzPlaceOrder(f *testing.F) {
	for _, s := range [][2]string{
		{`{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":"0.001","price":65000}`, ""},
		{`{"trading_pair":"BTC/USD","order_type":"market","side":"sell","amount":"0.0005"}`, ""},
		{`{"trading_pair":"eth/usd","order_type":"limit","side":"buy","amount":0.01,"price":"1000"}`, ""},
		{`{"trading_pair":"ETH/USD","order_type":"limit","side":"sell","amount":"0.001","price":"10000"}`, ""},
		{`{"trading_pair":"SOL/USD","order_type":"stop","side":"sell","amount":"0.1","price":"100"}`, ""},
		{`{"trading_pair":"DOGE/USD","order_type":"stop","side":"buy","amount":"100","price":"0.1"}`, ""},
		{`{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"1000000000"}`, ""},
		{`{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":"0.00000001","price":"0.00000001"}`, ""},
		{`{"trading_pair":"USDT/USDT","order_type":"market","side":"buy","amount":"1"}`, ""},
		{`{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"0.001"}`, "key-1"},
		{`{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":"0.002"}`, "key-1"},
		{`{"trading_pair":{"$ne":null},"order_type":"market","side":"buy","amount":"1"}`, ""},
		{`{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":"1"}`, ""},
		{`{"trading_pair":"BTC/USD","order_type":"market","side":"sell","amount":"0.00000001"}`, ""},
	} {
		f.Add(s[0], s[1])
	}
	a := fuzzapi.New(f, trading.New)
	f.Fuzz(func(t *testing.T, body, key string) { a.Send(t, "/api/orders", body, key) })
}
