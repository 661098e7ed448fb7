package market

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
)

// Function names in logs, metrics and the catalog.
const (
	MarketName = "market"
	PricesName = "prices"
)

// NewStoreFor is the price store of a function built from the platform dependencies.
func NewStoreFor(d *app.Deps) *Store {
	return NewStore(d.Mongo.Database, StoreOptions{MaxAge: d.Config.PriceMaxAge})
}

// NewMarketFunction builds the market function: public market data from the price store. It
// never calls the upstream feed.
func NewMarketFunction(d *app.Deps) (*lambdahttp.Function, error) {
	s := NewStoreFor(d)
	rt := d.Router()
	s.Routes(rt)
	return &lambdahttp.Function{
		Name: MarketName, HTTP: d.HTTP(MarketName, rt), Routes: rt.Routes(), Logger: d.Logger,
		Indexes: Indexes(),
	}, nil
}

// NewPricesFunction builds the scheduled prices function: one refresh of the store from the
// configured feed per run. after, when not nil, runs after each refresh (the order matcher).
func NewPricesFunction(d *app.Deps) (*lambdahttp.Function, error) {
	return newPricesFunction(d, nil)
}

func newPricesFunction(d *app.Deps, after func(ctx context.Context, prices []Price) error) (*lambdahttp.Function, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := feed.Options{Logger: d.Logger}
	if arn := d.Config.CoinGeckoKeySecretARN; arn != "" {
		opts.APIKey = feed.APIKeyFromSecret(d.Secrets, arn)
	}
	f, err := feed.New(ctx, d.Config.PriceFeed, opts)
	if err != nil {
		return nil, fmt.Errorf("price feed: %w", err)
	}
	r := NewRefresher(d.Mongo.Database, f, RefresherOptions{Logger: d.Logger, Metrics: d.Metrics(PricesName), AfterRefresh: after})
	return &lambdahttp.Function{
		Name: PricesName, Logger: d.Logger, Indexes: Indexes(),
		Scheduled: func(ctx context.Context, _ events.EventBridgeEvent) error {
			res, err := r.Refresh(ctx)
			if err != nil {
				return err
			}
			attrs := []any{"source", res.Source, "stored", res.Stored, "held", res.Held, "rejected", res.Rejected,
				"superseded", res.Superseded, "kept", res.Kept, "backfilled", len(res.Backfilled)}
			if res.FeedError != nil {
				// An upstream outage keeps the last good prices; PriceFeedErrors alarms on it.
				d.Logger.WarnContext(ctx, "price feed failed; last good prices kept", append(attrs, "error", res.FeedError.Error())...)
				return nil
			}
			d.Logger.InfoContext(ctx, "prices refreshed", attrs...)
			return nil
		},
	}, nil
}
