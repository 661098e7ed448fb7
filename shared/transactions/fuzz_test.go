package transactions_test

import (
	"testing"

	"github.com/cryptovault/serverless/shared/testkit/fuzzapi"
	"github.com/cryptovault/serverless/shared/transactions"
)

// FuzzCreateTransaction: POST /api/transactions with any body and Idempotency-Key (deposits add
// up over a long run: the balance's maximum is reached and must be refused with a 4xx, never
// wrap or fail with a 5xx).
func FuzzCreateTransaction(f *testing.F) {
	for _, s := range [][2]string{
		{`{"type":"deposit","amount":"10.00"}`, ""},
		{`{"type":"deposit","amount":1000000}`, ""},
		{`{"type":"withdrawal","amount":"0.01","symbol":"usd","description":"Rent"}`, ""},
		{`{"type":"withdrawal","amount":"99999999"}`, ""},
		{`{"type":"deposit","amount":"10.00"}`, "key-1"},
		{`{"type":"deposit","amount":"10.00"}`, "key-1"},
		{`{"type":"withdrawal","amount":"10.00"}`, "key-1"},
		{`{"type":"deposit","amount":"10.00"}`, "bad\x01key"},
		{`{"type":"buy","amount":"1"}`, ""},
		{`{"type":"deposit","amount":"1e400"}`, ""},
		{`{"type":{"$ne":null},"amount":"1"}`, ""},
		{`{"type":"deposit","amount":"1","description":"line\nbreak"}`, ""},
	} {
		f.Add(s[0], s[1])
	}
	a := fuzzapi.New(f, transactions.New)
	f.Fuzz(func(t *testing.T, body, key string) { a.Send(t, "/api/transactions", body, key) })
}
