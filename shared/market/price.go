package market

import (
	"errors"
	"strings"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// Collection names.
const (
	PricesCollection  = "prices"
	HistoryCollection = "price_history"
)

// Errors callers branch on (errors.Is).
var (
	// ErrUnknownCoin: the symbol or id is not one of the supported coins (feed.Coins); the API's
	// 404 for a market route, 422 for an order.
	ErrUnknownCoin = errors.New("market: unknown coin")
	// ErrNoPrice: a supported coin whose price has never been stored (no refresh has quoted it).
	ErrNoPrice = errors.New("market: no price stored")
	// ErrInvalidDays: a history range outside 1-365 days (the API validates it first, as a 422).
	ErrInvalidDays = errors.New("market: days must be between 1 and 365")
)

// Price is a coin's current stored price.
type Price struct {
	Symbol, ID, Name, Image, Source string
	Price                           money.Price
	Change24h                       money.Percent
	MarketCap, Volume24h            int64 // whole USD
	// UpdatedAt is when the refresh stored it: the API's updatedAt / last_updated, and the age
	// that staleness checks. (The upstream's own quote time is kept in the document as quoted_at.)
	UpdatedAt time.Time
}

// priceDoc is a document of the prices collection (see the package documentation).
type priceDoc struct {
	Symbol    string        `bson:"_id"`
	ID        string        `bson:"id"`
	Name      string        `bson:"name"`
	Image     string        `bson:"image"`
	Source    string        `bson:"source"`
	Price     money.Price   `bson:"price"`
	Change24h money.Percent `bson:"change_24h"`
	MarketCap int64         `bson:"market_cap"`
	Volume24h int64         `bson:"volume_24h"`
	QuotedAt  time.Time     `bson:"quoted_at"`
	UpdatedAt time.Time     `bson:"updated_at"`
	Held      *heldDoc      `bson:"held,omitempty"`
	Version   int64         `bson:"version"`
}

// heldDoc is a quote held back because it moved too far from the stored price.
type heldDoc struct {
	Price     money.Price   `bson:"price"`
	Change24h money.Percent `bson:"change_24h"`
	MarketCap int64         `bson:"market_cap"`
	Volume24h int64         `bson:"volume_24h"`
	QuotedAt  time.Time     `bson:"quoted_at"`
	At        time.Time     `bson:"at"` // the run that held it
}

func (d priceDoc) price() Price {
	return Price{
		Symbol: d.Symbol, ID: d.ID, Name: d.Name, Image: d.Image, Source: d.Source,
		Price: d.Price, Change24h: d.Change24h, MarketCap: d.MarketCap, Volume24h: d.Volume24h,
		UpdatedAt: d.UpdatedAt,
	}
}

// quote is the stored price as the feed's previous quote: the simulated feed walks on from it.
func (d priceDoc) quote() feed.Quote {
	return feed.Quote{
		Symbol: d.Symbol, ID: d.ID, Name: d.Name, Image: d.Image,
		Price: d.Price, Change24h: d.Change24h, MarketCap: d.MarketCap, Volume24h: d.Volume24h,
		QuotedAt: d.QuotedAt,
	}
}

// lookupCoin finds a supported coin by symbol or upstream id, ignoring case ("btc", "Bitcoin").
// It matches here rather than trusting the caller's spelling because the API accepts both forms
// in any case, and symbols are stored upper-case.
func lookupCoin(symbolOrID string) (feed.Coin, bool) {
	for _, c := range feed.Coins {
		if strings.EqualFold(c.Symbol, symbolOrID) || strings.EqualFold(c.ID, symbolOrID) {
			return c, true
		}
	}
	return feed.Coin{}, false
}

// coinOrder is the position of each symbol in feed.Coins, the order every list is returned in.
func coinOrder() map[string]int {
	m := make(map[string]int, len(feed.Coins))
	for i, c := range feed.Coins {
		m[c.Symbol] = i
	}
	return m
}
