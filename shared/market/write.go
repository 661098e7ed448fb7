package market

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/market/feed"
)

// change is what a run decided for one coin.
type change struct {
	coin     feed.Coin
	quote    feed.Quote // QuotedAt filled in (quotedAt)
	decision decision   // accept or hold (rejected quotes are never written)
	stored   *priceDoc  // what the run read; nil for the coin's first price
	doc      priceDoc   // the document after an accepted write
}

// newDoc is the document an accepted quote becomes. Id and name come from feed.Coins, our list of
// what is traded, so a sloppy feed cannot rename a coin; the image is the feed's, or kept.
func newDoc(c change, source string, now time.Time) priceDoc {
	d := priceDoc{
		Symbol: c.coin.Symbol, ID: c.coin.ID, Name: c.coin.Name, Image: c.quote.Image, Source: source,
		Price: c.quote.Price, Change24h: c.quote.Change24h, MarketCap: c.quote.MarketCap, Volume24h: c.quote.Volume24h,
		QuotedAt: c.quote.QuotedAt, UpdatedAt: now, Version: 1,
	}
	if c.stored != nil {
		if d.Image == "" {
			d.Image = c.stored.Image
		}
		d.Version = c.stored.Version + 1
	}
	return d
}

// quotedAt is the upstream's time of q as BSON keeps it (milliseconds), or now when it has none.
func quotedAt(q feed.Quote, now time.Time) time.Time {
	if q.QuotedAt.IsZero() {
		return now
	}
	return q.QuotedAt.UTC().Truncate(time.Millisecond)
}

// versionFilter matches the coin's document only while it is still the version the run read. This
// is the condition that makes every write of a run "one conditional single-document update": a run
// that decided from an outdated document (an overlapping run wrote in between) changes nothing.
func versionFilter(d *priceDoc) bson.D {
	if d.Version == 0 {
		// A document written without a version (seeded by hand): match it while it still has none.
		return bson.D{{Key: "_id", Value: d.Symbol}, {Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}}
	}
	return bson.D{{Key: "_id", Value: d.Symbol}, {Key: "version", Value: d.Version}}
}

// writePrice stores one change: an insert for a coin's first price, otherwise one conditional
// update. written is false when another run got there first (a duplicate key on insert, no match
// on update); that is not an error.
func writePrice(ctx context.Context, coll *mongo.Collection, c change, now time.Time) (written bool, err error) {
	if c.decision.verdict == accept && c.stored == nil {
		_, err := coll.InsertOne(ctx, c.doc)
		if mongo.IsDuplicateKeyError(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("market: insert %s price: %w", c.coin.Symbol, err)
		}
		return true, nil
	}

	var update bson.D
	switch c.decision.verdict {
	case accept:
		d := c.doc
		update = bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "id", Value: d.ID}, {Key: "name", Value: d.Name}, {Key: "image", Value: d.Image},
				{Key: "source", Value: d.Source}, {Key: "price", Value: d.Price}, {Key: "change_24h", Value: d.Change24h},
				{Key: "market_cap", Value: d.MarketCap}, {Key: "volume_24h", Value: d.Volume24h},
				{Key: "quoted_at", Value: d.QuotedAt}, {Key: "updated_at", Value: d.UpdatedAt},
			}},
			{Key: "$unset", Value: bson.D{{Key: "held", Value: ""}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
		}
	case hold:
		q := c.quote
		held := heldDoc{Price: q.Price, Change24h: q.Change24h, MarketCap: q.MarketCap, Volume24h: q.Volume24h,
			QuotedAt: q.QuotedAt, At: now}
		update = bson.D{
			{Key: "$set", Value: bson.D{{Key: "held", Value: held}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
		}
	default:
		return false, fmt.Errorf("market: write %s: verdict %s is not written", c.coin.Symbol, c.decision.verdict)
	}
	res, err := coll.UpdateOne(ctx, versionFilter(c.stored), update)
	if err != nil {
		return false, fmt.Errorf("market: update %s price: %w", c.coin.Symbol, err)
	}
	return res.MatchedCount == 1, nil
}

// appendHistory sets each price's point of the current minute in its coin's bucket of the day,
// creating buckets as needed: one unordered bulk write (one command) whatever the number of coins.
// A point is a $set of one key, so repeating it (overlapping runs, a retry) leaves one point.
func appendHistory(ctx context.Context, db *mongo.Database, prices []Price, now time.Time) error {
	if len(prices) == 0 {
		return nil
	}
	key := "points." + minuteKey(now)
	day := utcDay(now)
	models := make([]mongo.WriteModel, 0, len(prices))
	for _, p := range prices {
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: bucketID(p.Symbol, now)}}).
			SetUpdate(bson.D{
				{Key: "$set", Value: bson.D{{Key: key, Value: p.Price}}},
				{Key: "$setOnInsert", Value: bson.D{{Key: "symbol", Value: p.Symbol}, {Key: "day", Value: day}, {Key: "compacted", Value: false}}},
			}).
			SetUpsert(true))
	}
	return bulkUpsert(ctx, db.Collection(HistoryCollection), models)
}

// bulkUpsert runs upserts unordered. Two concurrent upserts of one new _id can make one of them
// fail with a duplicate key on MongoDB; the document exists by then, so running the (idempotent)
// batch once more turns every upsert into an update.
func bulkUpsert(ctx context.Context, coll *mongo.Collection, models []mongo.WriteModel) error {
	opts := options.BulkWrite().SetOrdered(false)
	_, err := coll.BulkWrite(ctx, models, opts)
	if mongo.IsDuplicateKeyError(err) {
		_, err = coll.BulkWrite(ctx, models, opts)
	}
	if err != nil {
		return fmt.Errorf("market: write %s: %w", coll.Name(), err)
	}
	return nil
}
