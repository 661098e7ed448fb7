package market

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/market/feed"
)

// History returns a coin's price points of the last days×24 h, oldest first: minute points within
// the last 24 h, the last point of each hour before that. symbol may be a symbol or coin id in any
// case. days must be 1-365 (ErrInvalidDays); an unsupported coin is ErrUnknownCoin. A coin without
// history yields an empty slice. The answer comes from a per-instance cache by coin and days with
// the prices' TTL and single flight (see cache.go): a chart polled by many visitors costs one find
// per coin and range per CacheTTL, not one per request, and it is at most CacheTTL old, as the
// prices are. The slice is the caller's.
func (s *Store) History(ctx context.Context, symbol string, days int) ([]feed.Point, error) {
	if days < 1 || days > MaxHistoryDays {
		return nil, ErrInvalidDays
	}
	coin, ok := lookupCoin(symbol)
	if !ok {
		return nil, ErrUnknownCoin
	}
	points, err := s.histories.get(ctx, historyKey{symbol: coin.Symbol, days: days}, func(ctx context.Context, at time.Time) ([]feed.Point, error) {
		return s.readHistory(ctx, coin.Symbol, days, at)
	})
	return slices.Clone(points), err
}

// readHistory is one find of symbol's buckets for the days before at, served by the symbol_day
// index.
func (s *Store) readHistory(ctx context.Context, symbol string, days int, at time.Time) ([]feed.Point, error) {
	now := at.UTC()
	from := now.Add(-time.Duration(days) * 24 * time.Hour)

	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	filter := bson.D{{Key: "symbol", Value: symbol}, {Key: "day", Value: bson.D{{Key: "$gte", Value: utcDay(from)}}}}
	cur, err := db.Collection(HistoryCollection).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "day", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("market: read %s history: %w", symbol, err)
	}
	var buckets []bucketDoc
	if err := cur.All(ctx, &buckets); err != nil {
		return nil, fmt.Errorf("market: read %s history: %w", symbol, err)
	}

	points := make([]feed.Point, 0, 1500)
	for _, b := range buckets {
		for _, p := range bucketPoints(b) {
			// The first bucket starts before the range; a point after now can only come from a
			// clock ahead of this one, and is not history yet.
			if p.Time.Before(from) || p.Time.After(now) {
				continue
			}
			points = append(points, p)
		}
	}
	return downsample(points, now.Add(-minuteWindow)), nil
}
