package market

import (
	"context"
	"encoding/json"
	"errors"
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

// NewPricesFunctionWithMatcher builds the scheduled prices function with after as the refresher's
// AfterRefresh hook: it runs after each refresh that stored a price, with every current price (the
// order matcher's Run; trading.NewPricesFunction passes it). The hook is a plain function so that
// market needs no import of the trading package, which imports market.
func NewPricesFunctionWithMatcher(d *app.Deps, after func(ctx context.Context, prices []Price) error) (*lambdahttp.Function, error) {
	return newPricesFunction(d, after)
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

// AfterRefreshHook builds, from a function's dependencies, one step that the prices function runs
// after every refresh that changed a price (RefresherOptions.AfterRefresh), such as the order
// matcher or the WebSocket price broadcast. A hook is built once per instance at init and must do
// no I/O there; a build error fails the init.
type AfterRefreshHook func(d *app.Deps) (func(ctx context.Context, prices []Price) error, error)

// NewPricesFunctionWith returns the builder of the prices function that runs hooks after each
// refresh, in the order given. Every hook runs even when an earlier one failed (the prices are
// stored by then, and a broken matcher must not silence the price stream, nor the reverse); their
// errors are joined into the run's error. Hooks sit in a list rather than in NewPricesFunction so
// that packages which import market (orders, stream) can add theirs without an import cycle.
func NewPricesFunctionWith(hooks ...AfterRefreshHook) app.Build {
	return func(d *app.Deps) (*lambdahttp.Function, error) {
		steps := make([]func(ctx context.Context, prices []Price) error, 0, len(hooks))
		for _, h := range hooks {
			step, err := h(d)
			if err != nil {
				return nil, fmt.Errorf("prices: after-refresh hook: %w", err)
			}
			steps = append(steps, step)
		}
		if len(steps) == 0 {
			return newPricesFunction(d, nil)
		}
		return newPricesFunction(d, func(ctx context.Context, prices []Price) error {
			errs := make([]error, 0, len(steps))
			for _, step := range steps {
				errs = append(errs, step(ctx, prices))
			}
			return errors.Join(errs...)
		})
	}
}

// MarshalData encodes prices as the data[] array of GET /api/crypto (the frontend's field names
// and display strings), for the WebSocket price stream, which must send exactly what the list
// route sends. The order is kept.
func MarshalData(prices []Price) ([]byte, error) {
	data := make([]frontendCoin, len(prices))
	for i, p := range prices {
		data[i] = toFrontendCoin(p)
	}
	return json.Marshal(data)
}

// toFrontendCoin is one element of data[].
func toFrontendCoin(p Price) frontendCoin {
	return frontendCoin{
		Symbol: p.Symbol, Name: p.Name, Price: p.Price, Change24h: p.Change24h,
		MarketCap: billions(p.MarketCap), Volume24h: billions(p.Volume24h),
	}
}
