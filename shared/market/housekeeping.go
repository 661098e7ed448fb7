package market

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

const (
	// housekeepingRetry is how soon an instance tries housekeeping again after a part of it
	// failed or was left for later (feed.History failing, a large compaction backlog).
	housekeepingRetry = 10 * time.Minute
	// compactBatch bounds the buckets one run compacts, so a backlog (housekeeping did not run
	// for weeks) is worked off over several runs instead of threatening one run's timeout.
	compactBatch = 100
)

// housekeep backfills, compacts and expires history, at most once per UTC day per instance: it is
// due at the instance's first run and then at the first run of each new UTC day, which is when
// buckets cross the compaction and retention limits. Every step is idempotent, so overlapping
// instances doing it twice is harmless. A run that could not finish leaves it due again after
// housekeepingRetry. Only database errors are returned; a failing feed.History is logged.
func (r *Refresher) housekeep(ctx context.Context, db *mongo.Database, now time.Time, res *Result) error {
	if !r.claimHousekeeping(now) {
		return nil
	}
	complete := true
	var errs []error
	if r.backfillDays > 0 {
		done, ok, err := r.backfill(ctx, db, now)
		res.Backfilled = done
		complete = complete && ok && err == nil
		errs = append(errs, err)
	}
	n, more, err := compactOld(ctx, db, now)
	res.Compacted = n
	complete = complete && !more && err == nil
	errs = append(errs, err)

	n, err = expireOld(ctx, db, now)
	res.Deleted = n
	complete = complete && err == nil
	errs = append(errs, err)

	if complete {
		r.mu.Lock()
		r.nextHousekeeping = utcDay(now).AddDate(0, 0, 1)
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// claimHousekeeping reports whether housekeeping is due, and if so postpones it by
// housekeepingRetry at once, so that a concurrent run of this instance does not start it too.
func (r *Refresher) claimHousekeeping(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.nextHousekeeping) {
		return false
	}
	r.nextHousekeeping = now.Add(housekeepingRetry)
	return true
}

// backfill fills the history of every coin that has none before today from feed.History (today's
// bucket does not count: the run has just appended to it). It returns the coins filled; ok is
// false when the feed failed for a coin, so that housekeeping is retried soon. Coins are fetched
// one after the other to stay gentle with a rate-limited upstream; this happens once per coin.
func (r *Refresher) backfill(ctx context.Context, db *mongo.Database, now time.Time) (done []string, ok bool, err error) {
	have, err := symbolsWithHistoryBefore(ctx, db, utcDay(now))
	if err != nil {
		return nil, false, err
	}
	ok = true
	var errs []error
	for _, coin := range feed.Coins {
		if have[coin.Symbol] {
			continue
		}
		points, err := r.feed.History(ctx, coin, r.backfillDays)
		if err != nil {
			r.log.WarnContext(ctx, "price history backfill: feed failed", "symbol", coin.Symbol, "error", err.Error())
			ok = false
			continue
		}
		n, err := writeBackfill(ctx, db, coin.Symbol, points, now, r.backfillDays)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n > 0 {
			done = append(done, coin.Symbol)
			r.log.InfoContext(ctx, "price history backfilled", "symbol", coin.Symbol, "days", n, "points", len(points))
		}
	}
	return done, ok, errors.Join(errs...)
}

// symbolsWithHistoryBefore is the set of symbols with a bucket older than day: one aggregation
// with a single $sum, which the local engine computes correctly.
func symbolsWithHistoryBefore(ctx context.Context, db *mongo.Database, day time.Time) (map[string]bool, error) {
	cur, err := db.Collection(HistoryCollection).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "day", Value: bson.D{{Key: "$lt", Value: day}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$symbol"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("market: history symbols: %w", err)
	}
	var rows []struct {
		Symbol string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("market: history symbols: %w", err)
	}
	have := make(map[string]bool, len(rows))
	for _, row := range rows {
		have[row.Symbol] = true
	}
	return have, nil
}

// writeBackfill writes points (a feed's history of symbol) into day buckets and returns the
// number of days written. Only points of the last days×24 h before the current minute are used
// (the current minute is the live refresh's), at the resolution the buckets keep: days whose last
// minute is older than 24 h are written compacted, the others with whatever resolution the feed
// has, to be compacted in time.
//
// The caller found no bucket of symbol before today, so the earlier days are inserted with one
// unordered insertMany: on the local engine an upsert looks its _id up by a scan, and a year of
// upserts takes seconds where the inserts take milliseconds. A duplicate key there means an
// overlapping run backfilled the same day first, and is skipped. Today's bucket exists (the run
// has just appended to it), so its points are $set into it, each key idempotently.
func writeBackfill(ctx context.Context, db *mongo.Database, symbol string, points []feed.Point, now time.Time, days int) (int, error) {
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	until := now.Truncate(time.Minute)
	usable := make([]feed.Point, 0, len(points))
	for _, p := range points {
		if p.Price > 0 && p.Price <= money.MaxPrice && !p.Time.Before(from) && p.Time.Before(until) {
			usable = append(usable, p)
		}
	}
	byDay := splitByDay(usable)
	today, compactBefore := utcDay(now), compactionCutoff(now)
	coll := db.Collection(HistoryCollection)
	var inserts []any
	for day, pts := range byDay {
		if day.Equal(today) {
			continue
		}
		compacted := day.Before(compactBefore)
		if compacted {
			pts = compactPoints(pts)
		}
		inserts = append(inserts, bucketDoc{ID: bucketID(symbol, day), Symbol: symbol, Day: day, Points: pts, Compacted: compacted})
	}
	if len(inserts) > 0 {
		_, err := coll.InsertMany(ctx, inserts, options.InsertMany().SetOrdered(false))
		if err != nil && !onlyDuplicateKeys(err) {
			return 0, fmt.Errorf("market: backfill %s: %w", symbol, err)
		}
	}
	if pts, ok := byDay[today]; ok {
		_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: bucketID(symbol, today)}}, bson.D{
			{Key: "$set", Value: pointsSet(pts)},
			{Key: "$setOnInsert", Value: bson.D{{Key: "symbol", Value: symbol}, {Key: "day", Value: today}, {Key: "compacted", Value: false}}},
		}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return 0, fmt.Errorf("market: backfill %s today: %w", symbol, err)
		}
	}
	return len(byDay), nil
}

// onlyDuplicateKeys reports whether err is a bulk write error made of duplicate keys alone: every
// other document was written.
func onlyDuplicateKeys(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// pointsSet is the $set of a bucket's points, keys in time order (stable commands).
func pointsSet(points map[string]money.Price) bson.D {
	keys := make([]string, 0, len(points))
	for k := range points {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	set := make(bson.D, 0, len(keys))
	for _, k := range keys {
		set = append(set, bson.E{Key: "points." + k, Value: points[k]})
	}
	return set
}

// compactionCutoff is the first day that keeps minute points at time now: yesterday. A bucket of
// an earlier day ended more than 24 h ago, so all its points are beyond the minute window.
func compactionCutoff(now time.Time) time.Time {
	return utcDay(now).AddDate(0, 0, -1)
}

// compactOld compacts up to compactBatch buckets that ended more than 24 h ago: read, keep the
// last point of each hour in Go, write back conditioned on compacted: false, so two instances
// compacting at once write the same result once. more reports that the batch was full.
func compactOld(ctx context.Context, db *mongo.Database, now time.Time) (n int, more bool, err error) {
	coll := db.Collection(HistoryCollection)
	filter := bson.D{{Key: "compacted", Value: false}, {Key: "day", Value: bson.D{{Key: "$lt", Value: compactionCutoff(now)}}}}
	cur, err := coll.Find(ctx, filter, options.Find().SetLimit(compactBatch))
	if err != nil {
		return 0, false, fmt.Errorf("market: find buckets to compact: %w", err)
	}
	var buckets []bucketDoc
	if err := cur.All(ctx, &buckets); err != nil {
		return 0, false, fmt.Errorf("market: find buckets to compact: %w", err)
	}
	for _, b := range buckets {
		res, err := coll.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: b.ID}, {Key: "compacted", Value: false}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "points", Value: compactPoints(b.Points)}, {Key: "compacted", Value: true}}}})
		if err != nil {
			return n, true, fmt.Errorf("market: compact %s: %w", b.ID, err)
		}
		n += int(res.ModifiedCount)
	}
	return n, len(buckets) == compactBatch, nil
}

// expireOld deletes the buckets of days more than retentionDays ago.
func expireOld(ctx context.Context, db *mongo.Database, now time.Time) (int, error) {
	res, err := db.Collection(HistoryCollection).DeleteMany(ctx,
		bson.D{{Key: "day", Value: bson.D{{Key: "$lt", Value: utcDay(now).AddDate(0, 0, -retentionDays)}}}})
	if err != nil {
		return 0, fmt.Errorf("market: expire history: %w", err)
	}
	return int(res.DeletedCount), nil
}
