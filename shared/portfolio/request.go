package portfolio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// addRequest is the body of POST /api/portfolio/holding. Amount stays raw so that the money
// package parses it from its JSON text (never through float64) and its 422 names the field.
// name is not declared: the contract ignores it, so even a wrongly typed name is no error.
type addRequest struct {
	Symbol *string         `json:"symbol"`
	Amount json.RawMessage `json:"amount"`
}

// addition is a validated POST: a supported coin and a positive quantity.
type addition struct {
	Coin   feed.Coin
	Amount money.Quantity
}

// supportedList is the 422 message of an unsupported coin: it names the set, so a client can
// correct itself without reading the docs.
var supportedList = func() string {
	syms := make([]string, len(feed.Coins))
	for i, c := range feed.Coins {
		syms[i] = c.Symbol
	}
	return "must be a supported coin (" + strings.Join(syms, ", ") + ")"
}()

// parseAddition decodes and validates the request, naming every bad field in one 422.
func parseAddition(r *http.Request) (addition, error) {
	var req addRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return addition{}, err
	}
	var f web.Fields
	var a addition

	if req.Symbol == nil {
		f.Add("symbol", "is required")
	} else if c, ok := supportedCoin(*req.Symbol); ok {
		a.Coin = c
	} else {
		f.Add("symbol", supportedList)
	}

	raw := bytes.TrimSpace(req.Amount)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		f.Add("amount", "is required")
	} else if err := a.Amount.UnmarshalJSON(raw); err != nil {
		f.Add("amount", money.FieldError(err))
	} else if err := a.Amount.CheckPositive(); err != nil {
		f.Add("amount", money.FieldError(err))
	}
	if err := f.Err(); err != nil {
		return addition{}, err
	}
	return a, nil
}

// fingerprint is the canonical form of a parsed addition for the idempotency store: requests
// that parse to the same coin and quantity ("btc" or "bitcoin"; "0.5", 0.5 or 0.50; any name)
// have the same fingerprint.
func (a addition) fingerprint() string {
	b, _ := json.Marshal(struct {
		Symbol string `json:"symbol"`
		Units  int64  `json:"units"`
	}{a.Coin.Symbol, int64(a.Amount)})
	return string(b)
}
