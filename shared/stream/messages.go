package stream

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/market/feed"
)

// Message types (api.md "WebSocket price stream"). subscribed, the reply to a subscribe, is
// ours: it tells the client from when on the updates are narrowed.
const (
	TypeInitialPrices = "initial_prices"
	TypePriceUpdate   = "price_update"
	TypePing          = "ping"
	TypePong          = "pong"
	TypeSubscribe     = "subscribe"
	TypeSubscribed    = "subscribed"
	TypeError         = "error"
)

// MaxMessageBytes bounds a client message. The longest valid one, a subscribe to every coin by
// id, is under 200 bytes; anything larger is refused before it is parsed.
const MaxMessageBytes = 1024

// The error messages a client can get. They name no internals.
const (
	msgTooLarge      = "Message too large (at most 1024 bytes)"
	msgInvalidJSON   = "Invalid JSON"
	msgNotObject     = "Message must be a JSON object"
	msgBadType       = "Message type must be a string: ping or subscribe"
	msgUnknownType   = "Unknown message type: use ping or subscribe"
	msgBadSymbols    = "symbols must be a list of 1 to 10 supported coin symbols"
	msgNotRegistered = "Connection is not registered; reconnect"
	msgUnavailable   = "Temporarily unavailable; please retry"
)

// request is a parsed client message.
type request struct {
	Type    string
	Symbols []string // subscribe: normalised, in feed.Coins order
}

// parseRequest reads one client message; the error is the message for the client.
func parseRequest(body []byte) (request, string) {
	if len(body) > MaxMessageBytes {
		return request{}, msgTooLarge
	}
	if !json.Valid(body) {
		return request{}, msgInvalidJSON
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return request{}, msgNotObject
	}
	var req request
	if err := json.Unmarshal(fields["type"], &req.Type); err != nil {
		return request{}, msgBadType
	}
	switch req.Type {
	case TypePing:
		return req, ""
	case TypeSubscribe:
		var symbols []string
		if err := json.Unmarshal(fields["symbols"], &symbols); err != nil {
			return request{}, msgBadSymbols
		}
		norm, ok := normaliseSymbols(symbols)
		if !ok {
			return request{}, msgBadSymbols
		}
		req.Symbols = norm
		return req, ""
	default:
		return request{}, msgUnknownType
	}
}

// normaliseSymbols maps symbols or ids in any case ("btc", "bitcoin") to the set of their
// symbols in feed.Coins order; false for an empty list or an unsupported coin.
func normaliseSymbols(in []string) ([]string, bool) {
	if len(in) == 0 || len(in) > len(feed.Coins) {
		return nil, false
	}
	want := map[string]bool{}
	for _, s := range in {
		c, ok := feed.CoinBySymbolOrID(strings.TrimSpace(s))
		if !ok {
			return nil, false
		}
		want[c.Symbol] = true
	}
	out := make([]string, 0, len(want))
	for _, c := range feed.Coins {
		if want[c.Symbol] {
			out = append(out, c.Symbol)
		}
	}
	return out, true
}

// pricesMessage is initial_prices and price_update.
type pricesMessage struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	Timestamp string          `json:"timestamp"`
}

// encodePrices builds a prices message of kind for the coins of symbols (empty: every coin);
// false when none of those coins has a price (nothing to send). at is the timestamp.
func encodePrices(kind string, prices []market.Price, symbols []string, at time.Time) ([]byte, bool, error) {
	selected := filterPrices(prices, symbols)
	if len(selected) == 0 && len(symbols) > 0 {
		return nil, false, nil
	}
	data, err := market.MarshalData(selected)
	if err != nil {
		return nil, false, fmt.Errorf("stream: encode prices: %w", err)
	}
	out, err := json.Marshal(pricesMessage{Type: kind, Data: data, Timestamp: at.UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, false, fmt.Errorf("stream: encode prices: %w", err)
	}
	return out, true, nil
}

// filterPrices keeps the prices of symbols, in their order; empty symbols keeps all.
func filterPrices(prices []market.Price, symbols []string) []market.Price {
	if len(symbols) == 0 {
		return prices
	}
	out := make([]market.Price, 0, len(symbols))
	for _, p := range prices {
		for _, s := range symbols {
			if p.Symbol == s {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// pricesTime is the timestamp of a prices message: the newest price's refresh time (when the
// data is from, which is what a client compares), or now when there are no prices yet.
func pricesTime(prices []market.Price, now time.Time) time.Time {
	var newest time.Time
	for _, p := range prices {
		if p.UpdatedAt.After(newest) {
			newest = p.UpdatedAt
		}
	}
	if newest.IsZero() {
		return now
	}
	return newest
}

// pongReply answers a ping.
var pongReply = []byte(`{"type":"pong"}`)

func subscribedReply(symbols []string) []byte {
	out, _ := json.Marshal(struct {
		Type    string   `json:"type"`
		Symbols []string `json:"symbols"`
	}{TypeSubscribed, symbols})
	return out
}

func errorReply(msg string) []byte {
	out, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Error string `json:"error"`
	}{TypeError, msg})
	return out
}
