package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"
)

// fileFeed is the "file:PATH" feed: a JSON document (format in doc.go) re-read at every call, so
// that tests drive the market by rewriting it.
type fileFeed struct {
	path string
	now  func() time.Time
	log  *slog.Logger
}

func newFileFeed(path string, opts Options) *fileFeed {
	return &fileFeed{path: path, now: opts.Now, log: opts.Logger}
}

// fileDoc is the whole file. Figures stay raw JSON (see decimal.go): numbers or numeric strings.
type fileDoc struct {
	Quotes  []fileQuote                    `json:"quotes"`
	History map[string][][]json.RawMessage `json:"history"`
}

type fileQuote struct {
	Symbol      string          `json:"symbol"`
	Price       json.RawMessage `json:"price"`
	Change24h   json.RawMessage `json:"change_24h"`
	MarketCap   json.RawMessage `json:"market_cap"`
	Volume24h   json.RawMessage `json:"volume_24h"`
	Image       string          `json:"image"`
	LastUpdated json.RawMessage `json:"last_updated"`
}

// Name reports SourceFile.
func (f *fileFeed) Name() string { return SourceFile }

// Quotes re-reads the file and returns its valid quotes in Coins order. previous is not used: the
// file states the market.
func (f *fileFeed) Quotes(_ context.Context, _ map[string]Quote) ([]Quote, error) {
	doc, err := f.read()
	if err != nil {
		return nil, err
	}
	now := f.now().UTC()
	bySymbol := make(map[string]Quote, len(doc.Quotes))
	for _, fq := range doc.Quotes {
		coin, ok := CoinBySymbolOrID(fq.Symbol)
		if !ok {
			f.log.Warn("price feed: unknown coin in the file ignored", slog.String("source", SourceFile),
				slog.String("symbol", truncate(fq.Symbol)))
			continue
		}
		if _, dup := bySymbol[coin.Symbol]; dup {
			f.log.Warn("price feed: coin listed twice; first kept", slog.String("source", SourceFile),
				slog.String("coin", coin.Symbol))
			continue
		}
		q, err := fq.quote(coin, now)
		if err != nil {
			warnDropped(f.log, SourceFile, coin.Symbol, err.Error())
			// Reserve the symbol anyway: a later duplicate must not sneak a quote in.
			bySymbol[coin.Symbol] = Quote{}
			continue
		}
		bySymbol[coin.Symbol] = q
	}
	out := make([]Quote, 0, len(bySymbol))
	for _, coin := range Coins {
		if q, ok := bySymbol[coin.Symbol]; ok && q.Price > 0 {
			out = append(out, q)
		}
	}
	return out, nil
}

func (fq fileQuote) quote(coin Coin, now time.Time) (Quote, error) {
	q := Quote{Symbol: coin.Symbol, ID: coin.ID, Name: coin.Name, Image: imageURL(fq.Image)}
	var err error
	if q.Price, err = parsePrice(fq.Price); err != nil {
		return Quote{}, fmt.Errorf("price: %w", err)
	}
	if q.Change24h, err = parseChange(fq.Change24h); err != nil {
		return Quote{}, fmt.Errorf("change_24h: %w", err)
	}
	if q.MarketCap, err = parseWholeUSD(fq.MarketCap); err != nil {
		return Quote{}, fmt.Errorf("market_cap: %w", err)
	}
	if q.Volume24h, err = parseWholeUSD(fq.Volume24h); err != nil {
		return Quote{}, fmt.Errorf("volume_24h: %w", err)
	}
	// Unlike CoinGecko's, the file's last_updated is written by a test on purpose (to make a
	// price stale), so a malformed one drops the quote instead of silently becoming "now".
	if q.QuotedAt, err = parseTime(fq.LastUpdated); err != nil {
		return Quote{}, fmt.Errorf("last_updated: %w", err)
	}
	if q.QuotedAt.IsZero() {
		q.QuotedAt = now
	}
	return q, nil
}

// History returns the file's points for coin within the last days days (up to now), oldest
// first; none when the file has no history for it. Keys may be symbols or ids, in any case.
func (f *fileFeed) History(_ context.Context, coin Coin, days int) ([]Point, error) {
	coin, err := checkHistoryArgs(coin, days)
	if err != nil {
		return nil, err
	}
	doc, err := f.read()
	if err != nil {
		return nil, err
	}
	// Keys in sorted order, so that which of two same-instant points wins does not depend on
	// map iteration.
	var pairs [][]json.RawMessage
	for _, key := range slices.Sorted(maps.Keys(doc.History)) {
		if c, ok := CoinBySymbolOrID(key); ok && c == coin {
			pairs = append(pairs, doc.History[key]...)
		}
	}
	all, dropped := chartPoints(pairs, time.Second)
	if dropped > 0 {
		f.log.Warn("price feed: history points dropped", slog.String("source", SourceFile),
			slog.String("coin", coin.Symbol), slog.Int("dropped", dropped))
	}
	now := f.now()
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	points := make([]Point, 0, len(all))
	for _, p := range all {
		if !p.Time.Before(from) && !p.Time.After(now) {
			points = append(points, p)
		}
	}
	return points, nil
}

// read loads and decodes the file, strictly: unknown fields and trailing data are errors.
func (f *fileFeed) read() (*fileDoc, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("%w: price file: %w", ErrUnavailable, err)
	}
	defer file.Close()
	body, err := readLimited(file)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, fmt.Errorf("%w: price file %s: %w", ErrMalformed, f.path, err)
		}
		return nil, fmt.Errorf("%w: price file %s: %w", ErrUnavailable, f.path, err)
	}
	var doc fileDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := decodeJSONWith(dec, &doc); err != nil {
		return nil, fmt.Errorf("price file %s: %w", f.path, err)
	}
	return &doc, nil
}
