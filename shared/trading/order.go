package trading

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/money"
)

// Side is an order's direction (api.md: side).
type Side string

// Sides.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// OrderType is how an order executes (api.md: order_type).
type OrderType string

// Order types. A stop is a stop-loss: a market order triggered when the price falls to its
// price (sell) or rises to it (buy).
const (
	Market OrderType = "market"
	Limit  OrderType = "limit"
	Stop   OrderType = "stop"
)

// Status is an order's state (api.md: status). Open is the only state an order leaves; every
// other one is final, and an order reaches one of them at most once (see the package
// documentation).
type Status string

// Statuses.
const (
	Open      Status = "open"
	Filled    Status = "filled"
	Cancelled Status = "cancelled"
	Expired   Status = "expired"
	Rejected  Status = "rejected"
)

// statuses are the values of the list filter, in the contract's order.
var statuses = []string{string(Open), string(Filled), string(Cancelled), string(Expired), string(Rejected)}

// orderDoc is a document of the orders collection, and the snapshot of one that an account keeps
// until the document is written (see marks.go). Amounts are minor units (money types encode as
// int64). Reserved* are what an open order holds back in the account; they stay on a closed order
// as a record of what was released.
type orderDoc struct {
	ID             string         `bson:"_id"`
	UserID         string         `bson:"user_id"`
	TradingPair    string         `bson:"trading_pair"`
	Symbol         string         `bson:"symbol"`
	Type           OrderType      `bson:"order_type"`
	Side           Side           `bson:"side"`
	Amount         money.Quantity `bson:"amount"`
	Price          *money.Price   `bson:"price"` // limit or trigger price; nil for market
	FilledPrice    *money.Price   `bson:"filled_price"`
	Fee            money.USD      `bson:"fee"`
	Total          money.USD      `bson:"total"` // cash moved: buy value + fee, sell value − fee
	Status         Status         `bson:"status"`
	ReservedCash   money.USD      `bson:"reserved_cash"`
	ReservedAmount money.Quantity `bson:"reserved_amount"`
	CreatedAt      time.Time      `bson:"created_at"`
	ExpiresAt      *time.Time     `bson:"expires_at"` // resting orders
	FilledAt       *time.Time     `bson:"filled_at"`
	ClosedAt       *time.Time     `bson:"closed_at"` // when it left open (any final status)
}

// fields is the document without its _id, for $set and $setOnInsert (an update may not name
// _id). Listed by hand so that adding a field to orderDoc without writing it fails review here.
func (o orderDoc) fields() bson.D {
	return bson.D{
		{Key: "user_id", Value: o.UserID},
		{Key: "trading_pair", Value: o.TradingPair},
		{Key: "symbol", Value: o.Symbol},
		{Key: "order_type", Value: o.Type},
		{Key: "side", Value: o.Side},
		{Key: "amount", Value: o.Amount},
		{Key: "price", Value: o.Price},
		{Key: "filled_price", Value: o.FilledPrice},
		{Key: "fee", Value: o.Fee},
		{Key: "total", Value: o.Total},
		{Key: "status", Value: o.Status},
		{Key: "reserved_cash", Value: o.ReservedCash},
		{Key: "reserved_amount", Value: o.ReservedAmount},
		{Key: "created_at", Value: o.CreatedAt},
		{Key: "expires_at", Value: o.ExpiresAt},
		{Key: "filled_at", Value: o.FilledAt},
		{Key: "closed_at", Value: o.ClosedAt},
	}
}

// orderView is the API's "order" object.
type orderView struct {
	ID          string         `json:"id"`
	TradingPair string         `json:"trading_pair"`
	Symbol      string         `json:"symbol"`
	OrderType   OrderType      `json:"order_type"`
	Side        Side           `json:"side"`
	Amount      money.Quantity `json:"amount"`
	Price       *money.Price   `json:"price"`        // null for market orders
	FilledPrice *money.Price   `json:"filled_price"` // null until filled
	Fee         money.USD      `json:"fee"`          // 0 until filled
	Total       money.USD      `json:"total"`        // 0 until filled
	Status      Status         `json:"status"`
	// Both spellings of the time: the frontend reads createdAt, other clients created_at.
	CreatedAt      string  `json:"created_at"`
	CreatedAtCamel string  `json:"createdAt"`
	FilledAt       *string `json:"filled_at"`
}

func view(o orderDoc) orderView {
	created := formatTime(o.CreatedAt)
	v := orderView{
		ID: o.ID, TradingPair: o.TradingPair, Symbol: o.Symbol, OrderType: o.Type, Side: o.Side,
		Amount: o.Amount, Price: o.Price, Status: o.Status, CreatedAt: created, CreatedAtCamel: created,
	}
	if o.Status == Filled {
		v.FilledPrice, v.Fee, v.Total = o.FilledPrice, o.Fee, o.Total
		if o.FilledAt != nil {
			f := formatTime(*o.FilledAt)
			v.FilledAt = &f
		}
	}
	return v
}

func views(orders []orderDoc) []orderView {
	out := make([]orderView, len(orders)) // never nil: an empty list is [], not null
	for i, o := range orders {
		out[i] = view(o)
	}
	return out
}

// formatTime is the contract's time format: RFC 3339, UTC, "Z".
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// validOrderID: order ids are 24 lower-case hex characters (an ObjectID, or ledger.DerivedID of
// an idempotency token). Anything else is a 404 without a query.
func validOrderID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
