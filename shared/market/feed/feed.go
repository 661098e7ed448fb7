package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cryptovault/serverless/shared/money"
)

// Quote is one coin's market data at a moment.
type Quote struct {
	// Symbol, ID and Name are the coin's, as in Coins; Image is the upstream logo URL (http(s)
	// only), or "" when the source has none.
	Symbol, ID, Name, Image string
	Price                   money.Price   // USD per coin, in 1e-8 USD; always > 0
	Change24h               money.Percent // price change over 24 h
	MarketCap               int64         // whole USD (a $1.3T market cap does not fit money.USD's range in cents)
	Volume24h               int64         // whole USD traded over 24 h
	QuotedAt                time.Time     // upstream's last_updated, or the time of the read for simulated/file
}

// Point is one price of a coin's history.
type Point struct {
	Time  time.Time
	Price money.Price
}

// Feed is a source of prices. Implementations are safe for concurrent use.
type Feed interface {
	// Name is the API's `source`: SourceCoinGecko, SourceSimulated or SourceFile.
	Name() string
	// Quotes returns a quote for each supported coin it can, in Coins order. previous holds the
	// last stored quotes by symbol, for feeds that walk from them (simulated); it may be nil. It
	// may return fewer coins than supported (the caller keeps the last good ones) but never a zero
	// or negative price: such a quote is dropped and logged as a warning. An error means nothing
	// usable was read.
	Quotes(ctx context.Context, previous map[string]Quote) ([]Quote, error)
	// History backfills up to days (MinHistoryDays–MaxHistoryDays) of points for one coin,
	// oldest first: CoinGecko's market_chart, a synthesized walk (simulated), or the file's
	// history if it has one, else none.
	History(ctx context.Context, coin Coin, days int) ([]Point, error)
}

// The feeds' names, which the API reports as `source`.
const (
	SourceCoinGecko = "coingecko"
	SourceSimulated = "simulated"
	SourceFile      = "file"
)

// History bounds: api.md's `days` range for the history endpoint.
const (
	MinHistoryDays = 1
	MaxHistoryDays = 365
)

// MaxWholeUSD bounds market caps and volumes: one quadrillion dollars, far above any coin's market
// cap (Bitcoin's is ~1.3e12), so a larger upstream figure is garbage and drops the quote.
const MaxWholeUSD = 1e15

// Errors, matched with errors.Is. None of them carries an API key or a response body.
var (
	// ErrBadSpec: New got a PRICE_FEED value it does not know, or unusable Options.
	ErrBadSpec = errors.New("price feed: invalid configuration")
	// ErrInvalidDays: History's days is outside MinHistoryDays–MaxHistoryDays.
	ErrInvalidDays = errors.New("price feed: days out of range")
	// ErrUnknownCoin: History was asked for a coin that is not in Coins.
	ErrUnknownCoin = errors.New("price feed: unsupported coin")
	// ErrUnavailable: the source could not be read (network error, timeout, 429 or 5xx after the
	// retries, another non-2xx status, a missing file).
	ErrUnavailable = errors.New("price feed: source unavailable")
	// ErrMalformed: the source answered with something that is not the expected JSON (syntax
	// error, wrong shape, trailing data, over the size limit).
	ErrMalformed = errors.New("price feed: malformed data")
)

// Options configures New. The zero value is valid for every feed.
type Options struct {
	// HTTPClient sends CoinGecko requests (default: http.DefaultTransport). The feed uses a copy
	// whose redirect policy refuses other hosts, so the caller's client is never modified.
	HTTPClient *http.Client
	// BaseURL replaces CoinGecko's https://api.coingecko.com/api/v3 (tests, the Pro API).
	BaseURL string
	// APIKey returns the CoinGecko demo API key, or "" for none; nil means no key. It is called
	// before each request, so a rotated secret is picked up (see APIKeyFromSecret).
	APIKey func(ctx context.Context) (string, error)
	// Now replaces time.Now (quote times of the simulated and file feeds, history windows,
	// Retry-After dates).
	Now func() time.Time
	// Seed makes the simulated walk reproducible: the same seed and previous quotes give the
	// same quotes. Zero is a valid seed.
	Seed int64
	// Logger receives warnings (dropped quotes, retries); nil discards them.
	Logger *slog.Logger
}

// New returns the feed that spec (PRICE_FEED) names: "simulated", "coingecko" or "file:PATH" (the
// kind in any case, surrounding space ignored). It does no I/O (a missing file or an unreachable
// CoinGecko shows up on the first call), so a cold start never fails because a source is down;
// ctx is there for a future feed that needs I/O at construction.
func New(ctx context.Context, spec string, opts Options) (Feed, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	spec = strings.TrimSpace(spec)
	kind, path, isFile := strings.Cut(spec, ":")
	switch {
	case strings.EqualFold(spec, SourceSimulated):
		return newSimulated(opts), nil
	case strings.EqualFold(spec, SourceCoinGecko):
		f, err := newCoinGecko(opts)
		if err != nil { // not a typed nil inside a non-nil Feed
			return nil, err
		}
		return f, nil
	case isFile && strings.EqualFold(kind, SourceFile):
		if path == "" {
			return nil, fmt.Errorf("%w: PRICE_FEED file: needs a path (file:PATH)", ErrBadSpec)
		}
		return newFileFeed(path, opts), nil
	default:
		return nil, fmt.Errorf("%w: unknown PRICE_FEED %q (want simulated, coingecko or file:PATH)", ErrBadSpec, spec)
	}
}

// checkHistoryArgs validates History's arguments the same way for every feed, and returns the
// coin as listed in Coins (so that a caller's Coin{ID: "bitcoin"} gets its symbol too).
func checkHistoryArgs(coin Coin, days int) (Coin, error) {
	if days < MinHistoryDays || days > MaxHistoryDays {
		return Coin{}, fmt.Errorf("%w: %d (want %d–%d)", ErrInvalidDays, days, MinHistoryDays, MaxHistoryDays)
	}
	c, ok := CoinBySymbolOrID(coin.ID)
	if !ok {
		c, ok = CoinBySymbolOrID(coin.Symbol)
	}
	if !ok {
		return Coin{}, fmt.Errorf("%w: %q", ErrUnknownCoin, coin.Symbol)
	}
	return c, nil
}

// warnDropped logs a quote the feed refused: the caller keeps the coin's last good price.
func warnDropped(log *slog.Logger, source, coin, reason string) {
	log.Warn("price feed: quote dropped", slog.String("source", source), slog.String("coin", coin),
		slog.String("reason", reason))
}
