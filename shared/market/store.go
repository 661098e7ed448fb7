package market

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Defaults of StoreOptions.
const (
	// DefaultCacheTTL bounds how old a served snapshot of the prices may be. Prices refresh every
	// 10 s, so 5 s costs little freshness, and it turns a burst of reads into one find.
	DefaultCacheTTL = 5 * time.Second
	// DefaultMaxAge is PRICE_MAX_AGE's default: older prices are stale for trading.
	DefaultMaxAge = 5 * time.Minute
	// DefaultHistoryRangesPerCoin sizes the history cache: answers kept per supported coin. A
	// chart asks for a few ranges (a day, a week, a month, a year), and the largest answer, a
	// year, is about 10,000 points (~330 KB), so the default bound stays near 13 MB for ten coins.
	DefaultHistoryRangesPerCoin = 4
)

// staleMessage is the 503 PRICE_STALE message trading shows.
const staleMessage = "Price data is stale; trading is paused"

// StoreOptions configures a Store. Zero fields take defaults.
type StoreOptions struct {
	Now      func() time.Time // default time.Now
	CacheTTL time.Duration    // default DefaultCacheTTL; the history cache's too
	MaxAge   time.Duration    // PRICE_MAX_AGE; default DefaultMaxAge
	// HistoryEntries bounds the history answers kept; default DefaultHistoryRangesPerCoin per
	// supported coin.
	HistoryEntries int
}

// Store reads the stored prices and their history. It is safe for concurrent use; one Store per
// process (Lambda instance) shares its cache among all requests.
type Store struct {
	db     func(ctx context.Context) (*mongo.Database, error)
	now    func() time.Time
	ttl    time.Duration
	maxAge time.Duration

	prices    *cache[struct{}, []Price]        // the prices collection: one snapshot
	histories *cache[historyKey, []feed.Point] // History's answers
}

// historyKey is a History answer's key: the coin's symbol (not the spelling asked for, so that
// "btc" and "bitcoin" share an entry) and the range.
type historyKey struct {
	symbol string
	days   int
}

// NewStore returns a Store on the database that db returns (mongodb.Client.Database: the warm
// client). It does no I/O.
func NewStore(db func(ctx context.Context) (*mongo.Database, error), o StoreOptions) *Store {
	s := &Store{db: db, now: o.Now, ttl: o.CacheTTL, maxAge: o.MaxAge}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = DefaultCacheTTL
	}
	if s.maxAge <= 0 {
		s.maxAge = DefaultMaxAge
	}
	entries := o.HistoryEntries
	if entries <= 0 {
		entries = DefaultHistoryRangesPerCoin * len(feed.Coins)
	}
	s.prices = newCache[struct{}, []Price](s.now, s.ttl, 1)
	s.histories = newCache[historyKey, []feed.Point](s.now, s.ttl, entries)
	return s
}

// cachedPrices returns the prices from the per-instance cache (see cache.go): at most one find
// per CacheTTL, shared by concurrent callers. The slice is the caller's.
func (s *Store) cachedPrices(ctx context.Context) ([]Price, error) {
	prices, err := s.prices.get(ctx, struct{}{}, func(ctx context.Context, _ time.Time) ([]Price, error) {
		return s.readPrices(ctx)
	})
	return slices.Clone(prices), err
}

// readPrices is one find of the prices collection.
func (s *Store) readPrices(ctx context.Context) ([]Price, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := loadPrices(ctx, db)
	if err != nil {
		return nil, err
	}
	return sortedPrices(docs), nil
}

// All returns every stored price of a supported coin, in feed.Coins order, from the per-instance
// cache (see cache.go): at most one find per CacheTTL, shared by concurrent callers. Coins never
// stored are absent. The slice is the caller's.
func (s *Store) All(ctx context.Context) ([]Price, error) {
	return s.cachedPrices(ctx)
}

// Get returns the stored price of one coin, by symbol or upstream id in any case ("btc",
// "bitcoin"). ErrUnknownCoin for an unsupported coin (without a database call); ErrNoPrice for a
// supported one that has never been stored.
func (s *Store) Get(ctx context.Context, symbolOrID string) (Price, error) {
	coin, ok := lookupCoin(symbolOrID)
	if !ok {
		return Price{}, ErrUnknownCoin
	}
	prices, err := s.cachedPrices(ctx)
	if err != nil {
		return Price{}, err
	}
	for _, p := range prices {
		if p.Symbol == coin.Symbol {
			return p, nil
		}
	}
	return Price{}, fmt.Errorf("%w: %s", ErrNoPrice, coin.Symbol)
}

// Fresh is the accessor trading uses: the price, or a *web.Error 503 PRICE_STALE when it is older
// than MaxAge or was never stored (trading cannot price an order either way). The error's cause
// wraps web.ErrPriceStale and says which coin and how old, for the log. ErrUnknownCoin and
// database errors are returned as they are.
func (s *Store) Fresh(ctx context.Context, symbol string) (Price, error) {
	p, err := s.Get(ctx, symbol)
	if errors.Is(err, ErrNoPrice) {
		return Price{}, staleError(fmt.Errorf("%w: %w", web.ErrPriceStale, err))
	}
	if err != nil {
		return Price{}, err
	}
	if age := s.now().Sub(p.UpdatedAt); age > s.maxAge {
		return Price{}, staleError(fmt.Errorf("%w: %s price is %s old (max %s)", web.ErrPriceStale, p.Symbol, age.Round(time.Second), s.maxAge))
	}
	return p, nil
}

func staleError(cause error) *web.Error {
	e := web.NewError(http.StatusServiceUnavailable, web.CodePriceStale, staleMessage)
	e.Cause = cause
	return e
}

// Age is the age of the newest stored price, for /health and the PriceAgeSeconds metric; ok is
// false when nothing is stored. It reads through the cache, so it may lag by up to CacheTTL, far
// below what an alarm on PRICE_MAX_AGE cares about. A clock behind the refresher's gives 0, not a
// negative age.
func (s *Store) Age(ctx context.Context) (age time.Duration, ok bool, err error) {
	prices, err := s.cachedPrices(ctx)
	if err != nil {
		return 0, false, err
	}
	newest, ok := newestUpdate(prices)
	if !ok {
		return 0, false, nil
	}
	return max(s.now().Sub(newest), 0), true, nil
}

// newestUpdate is the latest UpdatedAt of prices.
func newestUpdate(prices []Price) (time.Time, bool) {
	var newest time.Time
	for _, p := range prices {
		if p.UpdatedAt.After(newest) {
			newest = p.UpdatedAt
		}
	}
	return newest, !newest.IsZero()
}

// loadPrices reads the whole prices collection (one document per coin, so a few documents): the
// documents by symbol, unsupported symbols (a coin dropped from feed.Coins) left out.
func loadPrices(ctx context.Context, db *mongo.Database) (map[string]priceDoc, error) {
	cur, err := db.Collection(PricesCollection).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("market: read prices: %w", err)
	}
	var docs []priceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("market: read prices: %w", err)
	}
	order := coinOrder()
	m := make(map[string]priceDoc, len(docs))
	for _, d := range docs {
		if _, ok := order[d.Symbol]; ok {
			m[d.Symbol] = d
		}
	}
	return m, nil
}

// sortedPrices turns documents into Prices in feed.Coins order.
func sortedPrices(docs map[string]priceDoc) []Price {
	order := coinOrder()
	out := make([]Price, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.price())
	}
	slices.SortFunc(out, func(a, b Price) int { return order[a.Symbol] - order[b.Symbol] })
	return out
}
