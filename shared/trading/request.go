package trading

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Quote currencies of a trading pair. Both settle in the USD cash balance (api.md: the frontend
// sends BTC/USDT).
var quoteCurrencies = []string{"USD", "USDT"}

// createRequest is the body of POST /api/orders. Amount and price stay raw so that the money
// package parses them from their JSON text (never through float64) and each error names its field.
type createRequest struct {
	TradingPair *string         `json:"trading_pair"`
	OrderType   *string         `json:"order_type"`
	Side        *string         `json:"side"`
	Amount      json.RawMessage `json:"amount"`
	Price       json.RawMessage `json:"price"`
}

// orderRequest is a validated order.
type orderRequest struct {
	Pair   string // normalised: "BTC/USDT"
	Symbol string // "BTC"
	Type   OrderType
	Side   Side
	Amount money.Quantity
	// Price is the limit or trigger price of a limit or stop order; nil for a market order (a
	// price sent with one is validated, then ignored).
	Price *money.Price
}

// parseOrder decodes and validates the request, naming every bad field in one 422.
func parseOrder(r *http.Request) (orderRequest, error) {
	var req createRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return orderRequest{}, err
	}
	var f web.Fields
	var o orderRequest

	if req.TradingPair == nil {
		f.Add("trading_pair", "is required")
	} else if pair, sym, ok := parsePair(*req.TradingPair); ok {
		o.Pair, o.Symbol = pair, sym
	} else {
		f.Add("trading_pair", "must be <SYMBOL>/USD or <SYMBOL>/USDT for a supported coin ("+strings.Join(coinSymbols(), ", ")+")")
	}

	switch {
	case req.Side == nil:
		f.Add("side", "is required")
	case *req.Side == string(Buy) || *req.Side == string(Sell):
		o.Side = Side(*req.Side)
	default:
		f.Add("side", "must be one of buy, sell")
	}

	switch {
	case req.OrderType == nil:
		f.Add("order_type", "is required")
	case *req.OrderType == string(Market) || *req.OrderType == string(Limit) || *req.OrderType == string(Stop):
		o.Type = OrderType(*req.OrderType)
	default:
		f.Add("order_type", "must be one of market, limit, stop")
	}

	if absent(req.Amount) {
		f.Add("amount", "is required")
	} else if err := o.Amount.UnmarshalJSON(req.Amount); err != nil {
		f.Add("amount", money.FieldError(err))
	} else if err := o.Amount.CheckPositive(); err != nil {
		f.Add("amount", money.FieldError(err))
	}

	// A market order may carry a price (the frontend sends the one it shows): it must be valid,
	// but the server's price is used. Limit and stop orders need theirs.
	if absent(req.Price) {
		if o.Type == Limit || o.Type == Stop {
			f.Add("price", "is required for limit and stop orders")
		}
	} else {
		var p money.Price
		if err := p.UnmarshalJSON(req.Price); err != nil {
			f.Add("price", money.FieldError(err))
		} else if err := p.CheckPositive(); err != nil {
			f.Add("price", money.FieldError(err))
		} else if o.Type != Market {
			o.Price = &p
		}
	}
	if err := f.Err(); err != nil {
		return orderRequest{}, err
	}
	return o, nil
}

// absent: a field missing or null.
func absent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parsePair reads "<SYMBOL>/USD" or "<SYMBOL>/USDT" in any case and returns it upper-cased with
// its coin symbol. A coin quoted in itself (USDT/USDT) is no pair.
func parsePair(s string) (pair, symbol string, ok bool) {
	base, quote, found := strings.Cut(strings.ToUpper(strings.TrimSpace(s)), "/")
	if !found || base == quote {
		return "", "", false
	}
	if !isQuote(quote) {
		return "", "", false
	}
	for _, c := range feed.Coins {
		if c.Symbol == base {
			return base + "/" + quote, base, true
		}
	}
	return "", "", false
}

func isQuote(s string) bool {
	for _, q := range quoteCurrencies {
		if s == q {
			return true
		}
	}
	return false
}

// coinSymbols lists the supported coins for messages.
func coinSymbols() []string {
	out := make([]string, len(feed.Coins))
	for i, c := range feed.Coins {
		out[i] = c.Symbol
	}
	return out
}

// fingerprint is the canonical form of a parsed order for the idempotency store: requests that
// parse to the same order ("0.5", 0.50, "btc/usdt") have the same fingerprint. A market order's
// price is left out since it is not used: a retry showing a newer price is the same request.
func (o orderRequest) fingerprint() string {
	var price *int64
	if o.Price != nil {
		p := int64(*o.Price)
		price = &p
	}
	b, _ := json.Marshal(struct {
		Pair   string `json:"pair"`
		Type   string `json:"type"`
		Side   string `json:"side"`
		Amount int64  `json:"amount"`
		Price  *int64 `json:"price"`
	}{o.Pair, string(o.Type), string(o.Side), int64(o.Amount), price})
	return string(b)
}

// amountError is the 422 of an amount that the trading rules refuse at the price it would
// execute at (refused by the money package's range, or a sell the fee would swallow).
func amountError(err error) error {
	msg := "makes an order value beyond the maximum"
	if errors.Is(err, errSellTooSmall) {
		msg = "is too small: the fee would exceed the value of the sale"
	}
	e := web.ValidationError(map[string]string{"amount": msg})
	e.Cause = err
	return e
}
