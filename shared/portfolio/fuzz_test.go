package portfolio_test

import (
	"testing"

	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/testkit/fuzzapi"
)

// FuzzAddHolding: POST /api/portfolio/holding with any body and Idempotency-Key; holdings grow
// over a long run up to their maximum, which must be a 422, never a 5xx.
func FuzzAddHolding(f *testing.F) {
	for _, s := range [][2]string{
		{`{"symbol":"BTC","amount":"0.5"}`, ""},
		{`{"symbol":"bitcoin","amount":0.5,"name":"Bitcoin"}`, ""},
		{`{"symbol":"eth","amount":"1","name":{"$ne":null}}`, ""},
		{`{"symbol":"ADA","amount":"10"}`, ""},
		{`{"symbol":"BTC","amount":"999999999"}`, ""},
		{`{"symbol":"DOGE","amount":"1000000000"}`, ""},
		{`{"symbol":"XYZ","amount":"1"}`, ""},
		{`{"symbol":"BTC","amount":"0.000000001"}`, ""},
		{`{"symbol":"BTC","amount":"1"}`, "key-1"},
		{`{"symbol":"BTC","amount":"2"}`, "key-1"},
		{`{"symbol":{"$ne":null},"amount":"1"}`, ""},
	} {
		f.Add(s[0], s[1])
	}
	a := fuzzapi.New(f, portfolio.New)
	f.Fuzz(func(t *testing.T, body, key string) { a.Send(t, "/api/portfolio/holding", body, key) })
}
