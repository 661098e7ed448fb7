package market

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// DefaultBackfillDays is how much history a coin without any gets from feed.History: the year
// the API serves.
const DefaultBackfillDays = MaxHistoryDays

// RefresherOptions configures a Refresher. Zero fields take defaults.
type RefresherOptions struct {
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default: discard
	Metrics *obs.Metrics     // nil: no metrics
	// AfterRefresh, when set, runs after a refresh that changed at least one price, with every
	// current price: the order matcher's hook. Its error is returned by Refresh (the prices are
	// stored by then).
	AfterRefresh func(ctx context.Context, prices []Price) error
	// BackfillDays is how many days of feed.History a coin without history gets (default
	// DefaultBackfillDays, at most MaxHistoryDays, which is also the feed's limit; negative:
	// never backfill).
	BackfillDays int
}

// Refresher runs the refresh pipeline (see the package documentation). It is safe for concurrent
// use, and any number of Refreshers (Lambda instances) may run at once on the same database.
type Refresher struct {
	db           func(ctx context.Context) (*mongo.Database, error)
	feed         feed.Feed
	now          func() time.Time
	log          *slog.Logger
	metrics      *obs.Metrics
	after        func(ctx context.Context, prices []Price) error
	backfillDays int

	mu               sync.Mutex
	nextHousekeeping time.Time // zero: due at the first run of this instance
}

// NewRefresher returns a Refresher storing f's quotes in the database that db returns. It does no
// I/O.
func NewRefresher(db func(ctx context.Context) (*mongo.Database, error), f feed.Feed, o RefresherOptions) *Refresher {
	r := &Refresher{db: db, feed: f, now: o.Now, log: o.Logger, metrics: o.Metrics, after: o.AfterRefresh, backfillDays: o.BackfillDays}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.backfillDays == 0 {
		r.backfillDays = DefaultBackfillDays
	}
	r.backfillDays = min(r.backfillDays, MaxHistoryDays)
	return r
}

// Result describes one run, for the log line, metrics and tests.
type Result struct {
	Source string    // the feed's name, stored as each price's source
	At     time.Time // the run's time: updated_at of every price it stored
	// Stored counts prices written; Held, quotes held back; Rejected, quotes ignored (not a
	// usable price, unsupported coin, duplicate); Superseded, decisions not written because an
	// overlapping run changed the coin's document first; Kept, stored prices this run left as
	// they were (not quoted, held, rejected or superseded).
	Stored, Held, Rejected, Superseded, Kept int
	// FeedError is the feed's error when it gave no quotes; the run then changed nothing and
	// Refresh returns a nil error.
	FeedError error
	// Prices is every current price after the run, in feed.Coins order: what AfterRefresh got.
	Prices []Price
	// Backfilled lists the coins whose history this run filled from feed.History; Compacted and
	// Deleted count history buckets compacted to hourly points and expired.
	Backfilled         []string
	Compacted, Deleted int
}

// Refresh is one run of the scheduled prices function. Database errors are returned (the run is
// a failed invocation, and whatever it did not write the next run writes); an error of the feed
// is not (Result.FeedError): an upstream outage is no failure of ours, it keeps the last good
// prices, and PriceFeedErrors and PriceAgeSeconds report it. The Result is filled in either way.
func (r *Refresher) Refresh(ctx context.Context) (Result, error) {
	started := time.Now()
	now := r.now().UTC().Truncate(time.Millisecond) // as BSON stores it, so returned = stored
	res := Result{Source: r.feed.Name(), At: now}

	db, err := r.db(ctx)
	if err != nil {
		return res, fmt.Errorf("market: refresh: %w", err)
	}
	stored, err := loadPrices(ctx, db)
	if err != nil {
		return res, err
	}
	previous := make(map[string]feed.Quote, len(stored))
	for sym, d := range stored {
		previous[sym] = d.quote()
	}

	quotes, err := r.feed.Quotes(ctx, previous)
	if err != nil {
		// Nothing changed, so AfterRefresh has nothing new to match against: it is not called.
		res.FeedError = err
		res.Prices = sortedPrices(stored)
		res.Kept = len(res.Prices)
		r.log.ErrorContext(ctx, "price feed failed; stored prices kept", "feed", res.Source, "kept", res.Kept, "error", err.Error())
		r.emit(ctx, res)
		return res, nil
	}

	changes := r.screen(ctx, stored, quotes, now, &res)
	current, err := r.write(ctx, db, stored, changes, now, &res)
	res.Prices = sortedPrices(current)
	res.Kept = len(res.Prices) - res.Stored
	errs := []error{err}

	// The matcher runs before housekeeping: resting orders should fill on this refresh's prices
	// without waiting for a backfill's upstream calls on an instance's first run.
	if r.after != nil && res.Stored > 0 {
		if err := r.after(ctx, slices.Clone(res.Prices)); err != nil {
			errs = append(errs, fmt.Errorf("market: after refresh: %w", err))
		}
	}
	if err := r.housekeep(ctx, db, now, &res); err != nil {
		errs = append(errs, err)
	}
	r.emit(ctx, res)
	err = errors.Join(errs...)
	r.log.InfoContext(ctx, "prices refreshed", "feed", res.Source, "stored", res.Stored, "held", res.Held,
		"rejected", res.Rejected, "superseded", res.Superseded, "kept", res.Kept,
		"backfilled", len(res.Backfilled), "compacted", res.Compacted, "deleted", res.Deleted,
		"duration_ms", time.Since(started).Milliseconds(), "ok", err == nil)
	return res, err
}

// screen judges every quote and returns the writes to make. Rejections are counted and logged
// here; holds are counted once written.
func (r *Refresher) screen(ctx context.Context, stored map[string]priceDoc, quotes []feed.Quote, now time.Time, res *Result) []change {
	seen := map[string]bool{}
	changes := make([]change, 0, len(quotes))
	for _, q := range quotes {
		coin, ok := lookupCoin(q.Symbol)
		if !ok {
			coin, ok = lookupCoin(q.ID)
		}
		if !ok || seen[coin.Symbol] {
			res.Rejected++
			reason := "unsupported coin"
			if ok {
				reason = "duplicate quote"
			}
			r.log.WarnContext(ctx, "price quote rejected", "symbol", q.Symbol, "id", q.ID, "reason", reason)
			continue
		}
		seen[coin.Symbol] = true
		q.QuotedAt = quotedAt(q, now)
		c := change{coin: coin, quote: q}
		if d, ok := stored[coin.Symbol]; ok {
			c.stored = &d
		}
		c.decision = judge(c.stored, q)
		if c.decision.verdict == reject {
			res.Rejected++
			r.log.WarnContext(ctx, "price quote rejected", "symbol", coin.Symbol, "price", q.Price.String(), "reason", c.decision.reason)
			continue
		}
		changes = append(changes, c)
	}
	return changes
}

// write stores the changes, one coin per goroutine (each is an independent single-document
// write), then appends the stored prices to history. It returns the documents current after the
// run: stored, with this run's accepted writes applied.
func (r *Refresher) write(ctx context.Context, db *mongo.Database, stored map[string]priceDoc, changes []change, now time.Time, res *Result) (map[string]priceDoc, error) {
	coll := db.Collection(PricesCollection)
	written := make([]bool, len(changes))
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i := range changes {
		if changes[i].decision.verdict == accept {
			changes[i].doc = newDoc(changes[i], res.Source, now)
		}
		wg.Go(func() { written[i], errs[i] = writePrice(ctx, coll, changes[i], now) })
	}
	wg.Wait()

	current := make(map[string]priceDoc, len(stored)+len(changes))
	for sym, d := range stored {
		current[sym] = d
	}
	var appended []Price
	for i, c := range changes {
		switch {
		case errs[i] != nil:
			// Counted nowhere: the error is returned, and the coin keeps its stored price.
		case !written[i]:
			res.Superseded++
		case c.decision.verdict == hold:
			res.Held++
			r.log.WarnContext(ctx, "price quote held back", "symbol", c.coin.Symbol,
				"stored_price", c.stored.Price.String(), "quoted_price", c.quote.Price.String(), "reason", c.decision.reason)
		default:
			res.Stored++
			current[c.coin.Symbol] = c.doc
			appended = append(appended, c.doc.price())
		}
	}
	if err := appendHistory(ctx, db, appended, now); err != nil {
		errs = append(errs, err)
	}
	return current, errors.Join(errs...)
}

// emit publishes the run's metrics in one EMF line. PriceAgeSeconds is the age of the newest
// price after the run: 0 when the run stored one, growing while the feed fails; it is left out
// while no price exists at all.
func (r *Refresher) emit(ctx context.Context, res Result) {
	if r.metrics == nil {
		return
	}
	feedErrors := 0.0
	if res.FeedError != nil {
		feedErrors = 1
	}
	ms := []obs.Metric{
		{Name: "PricesStored", Unit: obs.Count, Value: float64(res.Stored)},
		{Name: "PriceQuotesHeld", Unit: obs.Count, Value: float64(res.Held)},
		{Name: "PriceQuotesRejected", Unit: obs.Count, Value: float64(res.Rejected)},
		{Name: "PriceFeedErrors", Unit: obs.Count, Value: feedErrors},
	}
	if newest, ok := newestUpdate(res.Prices); ok {
		age := max(res.At.Sub(newest), 0)
		ms = append(ms, obs.Metric{Name: "PriceAgeSeconds", Unit: obs.Seconds, Value: float64(age / time.Second)})
	}
	if err := r.metrics.Emit(ms...); err != nil {
		r.log.WarnContext(ctx, "price metrics not emitted", "error", err.Error())
	}
}
