package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultCoinGeckoURL is CoinGecko's public API (demo keys included).
const DefaultCoinGeckoURL = "https://api.coingecko.com/api/v3"

// coinGecko reads CoinGecko's /coins/markets and /coins/{id}/market_chart.
type coinGecko struct {
	http *fetcher
	now  func() time.Time
	log  *slog.Logger
}

func newCoinGecko(opts Options) (*coinGecko, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultCoinGeckoURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: CoinGecko base URL must be an http(s) URL without query", ErrBadSpec)
	}
	return &coinGecko{http: newFetcher(opts, strings.TrimRight(base, "/")), now: opts.Now, log: opts.Logger}, nil
}

// Name reports SourceCoinGecko.
func (c *coinGecko) Name() string { return SourceCoinGecko }

// marketRow is one element of the /coins/markets answer, with the figures kept as raw JSON text
// (see decimal.go). CoinGecko sends ~25 more fields, which are ignored.
type marketRow struct {
	ID          string          `json:"id"`
	Symbol      string          `json:"symbol"`
	Name        string          `json:"name"`
	Image       string          `json:"image"`
	Price       json.RawMessage `json:"current_price"`
	MarketCap   json.RawMessage `json:"market_cap"`
	Volume      json.RawMessage `json:"total_volume"`
	Change24h   json.RawMessage `json:"price_change_percentage_24h"`
	LastUpdated json.RawMessage `json:"last_updated"`
}

// Quotes asks for every supported coin in one request. previous is not used: CoinGecko quotes
// stand on their own.
func (c *coinGecko) Quotes(ctx context.Context, _ map[string]Quote) ([]Quote, error) {
	ids := make([]string, len(Coins))
	for i, coin := range Coins {
		ids[i] = coin.ID
	}
	query := url.Values{
		"vs_currency":             {"usd"},
		"ids":                     {strings.Join(ids, ",")},
		"price_change_percentage": {"24h"},
	}
	body, err := c.http.get(ctx, "/coins/markets", query)
	if err != nil {
		return nil, err
	}
	var rows []marketRow
	if err := decodeJSON(body, &rows); err != nil {
		return nil, fmt.Errorf("coingecko: /coins/markets: %w", err)
	}
	if rows == nil { // "null" decodes without error but is not a list
		return nil, fmt.Errorf("coingecko: /coins/markets: %w: not a list", ErrMalformed)
	}
	return c.quotes(rows), nil
}

// quotes turns the rows into quotes in Coins order, dropping (with a warning) rows whose figures
// are absurd. A coin absent from the answer is simply absent from the result.
func (c *coinGecko) quotes(rows []marketRow) []Quote {
	byID := make(map[string]marketRow, len(rows))
	for _, r := range rows {
		if !isCoinID(r.ID) {
			c.log.Warn("price feed: unexpected coin in the answer ignored", slog.String("source", SourceCoinGecko),
				slog.String("id", truncate(r.ID)))
			continue
		}
		if _, dup := byID[r.ID]; dup {
			c.log.Warn("price feed: coin listed twice; first kept", slog.String("source", SourceCoinGecko),
				slog.String("id", r.ID))
			continue
		}
		byID[r.ID] = r
	}
	now := c.now().UTC()
	out := make([]Quote, 0, len(Coins))
	for _, coin := range Coins {
		r, ok := byID[coin.ID]
		if !ok {
			c.log.Warn("price feed: coin missing from the answer", slog.String("source", SourceCoinGecko),
				slog.String("coin", coin.Symbol))
			continue
		}
		q, err := r.quote(coin, now)
		if err != nil {
			warnDropped(c.log, SourceCoinGecko, coin.Symbol, err.Error())
			continue
		}
		out = append(out, q)
	}
	return out
}

// quote validates one row. The coin's identity comes from Coins (the id matched), not from the
// row, so that a quote always carries the symbol the rest of the system uses.
func (r marketRow) quote(coin Coin, now time.Time) (Quote, error) {
	q := Quote{Symbol: coin.Symbol, ID: coin.ID, Name: coin.Name, Image: imageURL(r.Image)}
	var err error
	if q.Price, err = parsePrice(r.Price); err != nil {
		return Quote{}, fmt.Errorf("current_price: %w", err)
	}
	if q.Change24h, err = parseChange(r.Change24h); err != nil {
		return Quote{}, fmt.Errorf("price_change_percentage_24h: %w", err)
	}
	if q.MarketCap, err = parseWholeUSD(r.MarketCap); err != nil {
		return Quote{}, fmt.Errorf("market_cap: %w", err)
	}
	if q.Volume24h, err = parseWholeUSD(r.Volume); err != nil {
		return Quote{}, fmt.Errorf("total_volume: %w", err)
	}
	// A missing or unreadable last_updated costs the time, not the price: the read time is the
	// best bound we have, and the price store's staleness check stays meaningful.
	if q.QuotedAt, err = parseTime(r.LastUpdated); err != nil || q.QuotedAt.IsZero() {
		q.QuotedAt = now
	}
	return q, nil
}

// History reads /coins/{id}/market_chart. CoinGecko chooses the granularity (5-minute points for
// one day, hourly up to 90 days, daily beyond); points with an absurd price are dropped.
func (c *coinGecko) History(ctx context.Context, coin Coin, days int) ([]Point, error) {
	coin, err := checkHistoryArgs(coin, days)
	if err != nil {
		return nil, err
	}
	path := "/coins/" + url.PathEscape(coin.ID) + "/market_chart"
	body, err := c.http.get(ctx, path, url.Values{"vs_currency": {"usd"}, "days": {strconv.Itoa(days)}})
	if err != nil {
		return nil, err
	}
	var chart struct {
		Prices *[][]json.RawMessage `json:"prices"`
	}
	if err := decodeJSON(body, &chart); err != nil {
		return nil, fmt.Errorf("coingecko: %s: %w", path, err)
	}
	if chart.Prices == nil {
		return nil, fmt.Errorf("coingecko: %s: %w: no prices", path, ErrMalformed)
	}
	points, dropped := chartPoints(*chart.Prices, time.Millisecond)
	if dropped > 0 {
		c.log.Warn("price feed: history points dropped", slog.String("source", SourceCoinGecko),
			slog.String("coin", coin.Symbol), slog.Int("dropped", dropped))
	}
	return points, nil
}

// maxEpochUnits bounds a timestamp count (year 9999 in milliseconds), so that Unix conversions
// never overflow; a larger one is garbage.
const maxEpochUnits = 253_402_300_799_999

// chartPoints turns [time, price] pairs (time in units of unit since the Unix epoch) into points
// sorted oldest first, one per instant (the last listed wins). It returns how many pairs it
// dropped: wrong arity, bad time, or a price that is not a positive number.
func chartPoints(pairs [][]json.RawMessage, unit time.Duration) (points []Point, dropped int) {
	points = make([]Point, 0, len(pairs))
	for _, pair := range pairs {
		if len(pair) != 2 {
			dropped++
			continue
		}
		text, err := decimalText(pair[0])
		if err != nil {
			dropped++
			continue
		}
		n, err := parseEpoch(text)
		if err != nil {
			dropped++
			continue
		}
		price, err := parsePrice(pair[1])
		if err != nil {
			dropped++
			continue
		}
		var t time.Time
		if unit == time.Millisecond {
			t = time.UnixMilli(n)
		} else {
			t = time.Unix(n, 0)
		}
		points = append(points, Point{Time: t.UTC(), Price: price})
	}
	slices.SortStableFunc(points, func(a, b Point) int { return a.Time.Compare(b.Time) })
	// Keep the last point of each instant: a duplicated timestamp is a correction.
	out := points[:0]
	for i, p := range points {
		if i+1 < len(points) && points[i+1].Time.Equal(p.Time) {
			continue
		}
		out = append(out, p)
	}
	return out, dropped
}

// parseEpoch reads a non-negative integral timestamp; CoinGecko's are integers, but a JSON
// number like 1.7e12 is still exact and accepted.
func parseEpoch(text string) (int64, error) {
	n, err := parseWhole(text, maxEpochUnits)
	if err != nil || n < 0 {
		return 0, errors.New("bad time")
	}
	return n, nil
}

// imageURL keeps an image URL only if it is an absolute http(s) URL: the frontend puts it in an
// <img src>, so a javascript: or data: URL from upstream must not get through.
func imageURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s) > 2048 {
		return ""
	}
	return s
}

// decodeJSON decodes exactly one JSON value from body into v; anything after it is an error, so
// a truncated or concatenated answer is never half-used.
func decodeJSON(body []byte, v any) error {
	return decodeJSONWith(json.NewDecoder(bytes.NewReader(body)), v)
}

func decodeJSONWith(dec *json.Decoder, v any) error {
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the document: encoding/json's syntax and
// type errors name positions and Go types only, but an unknown-field error quotes the field name,
// which is fine (it is the key, not a value).
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "truncated JSON"
	}
	return err.Error()
}

// isCoinID reports whether id is exactly a supported coin's CoinGecko id.
func isCoinID(id string) bool {
	return slices.ContainsFunc(Coins, func(c Coin) bool { return c.ID == id })
}

// truncate shortens upstream text before it goes into a log line.
func truncate(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}
