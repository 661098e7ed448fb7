package stream

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/awsconfig"
	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// New is the catalog's build of the stream function: its name and indexes, which the local server
// ensures at start. Its events are WebSocket events, which lambdahttp.Function does not dispatch:
// the bootstrap runs Main, and the local server serves /ws/prices with a Handler.
func New(d *app.Deps) (*lambdahttp.Function, error) {
	return &lambdahttp.Function{Name: Name, Logger: d.Logger, Indexes: Indexes()}, nil
}

// NewHandlerFor builds a process's Handler from its dependencies: its connections, the price
// store, endpoints to post through, and initial (nil locally; see HandlerOptions.Initial).
func NewHandlerFor(d *app.Deps, endpoints Endpoints, initial Invoker) *Handler {
	return NewHandler(HandlerOptions{
		Connections: NewConnections(d.Mongo.Database), Prices: market.NewStoreFor(d),
		Endpoints: endpoints, Initial: initial, Logger: d.Logger,
	})
}

// EndpointsFor is where a process posts: the management API in AWS, only this process's own
// sockets on the local server (nothing local may reach AWS).
func EndpointsFor(d *app.Deps) Endpoints {
	if d.Config.Local() {
		return LocalEndpoints{}
	}
	return NewManagementAPI(awsconfig.Load, DefaultConcurrency)
}

// AfterRefresh is the prices function's market.AfterRefreshHook that broadcasts price_update to
// every live connection after each refresh. It does no I/O when built (the AWS configuration is
// loaded on the first post), so a prices function with no connections needs nothing from AWS.
func AfterRefresh(d *app.Deps) (func(ctx context.Context, prices []market.Price) error, error) {
	b := NewBroadcaster(NewConnections(d.Mongo.Database), EndpointsFor(d), BroadcastOptions{
		Logger: d.Logger, Metrics: d.Metrics(market.PricesName),
	})
	return func(ctx context.Context, prices []market.Price) error {
		_, err := b.Broadcast(ctx, prices)
		return err
	}, nil
}

var _ market.AfterRefreshHook = AfterRefresh

// initBudget bounds the warm-up in init, as app.Main's does.
const initBudget = 3 * time.Second

// Main is the stream bootstrap's whole main: app.Main's steps (configuration, dependencies,
// indexes beside the first invocations, SIGTERM hook) with the Handler as the entry point,
// because lambdahttp.Function has no WebSocket dispatch. The function invokes itself for the
// initial_prices task: AWS_LAMBDA_FUNCTION_NAME is its own name, and AWS_ENDPOINT_URL_LAMBDA or
// AWS_ENDPOINT_URL may point the call elsewhere, by the same rules as the SDK's clients
// (awsconfig.Endpoint).
func Main() {
	boot := obs.NewLogger(os.Stdout, slog.LevelInfo, slog.String("function", Name))
	cfg, err := config.Load(config.Lambda, os.Getenv)
	if err != nil {
		boot.Error("init failed: "+err.Error(), "version", app.Version)
		os.Exit(1)
	}
	log := obs.NewLogger(os.Stdout, cfg.LogLevel, slog.String("function", Name))
	log.Info("init", "version", app.Version, "config", cfg)

	ctx, cancel := context.WithTimeout(context.Background(), initBudget)
	deps, err := app.New(ctx, cfg, app.Options{Logger: log, MetricsOut: os.Stdout})
	cancel()
	if err != nil {
		log.Error("init failed: " + err.Error())
		os.Exit(1)
	}
	var initial Invoker
	if self := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); self != "" {
		endpoint, err := awsconfig.Endpoint("Lambda")
		if err != nil {
			log.Error("init failed: " + err.Error())
			os.Exit(1)
		}
		initial = NewLambdaInvoker(awsconfig.Load, self, endpoint)
	} else {
		log.Warn("init: AWS_LAMBDA_FUNCTION_NAME is not set; clients get prices from the first update only")
	}
	h := NewHandlerFor(deps, EndpointsFor(deps), initial)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		app.EnsureIndexes(ctx, deps, Indexes())
	}()
	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM(lambdahttp.ShutdownHook(log, deps.Close)))
}
