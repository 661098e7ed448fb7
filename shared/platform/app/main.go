package app

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// initBudget bounds the warm-up in init. Lambda allows 10 s of init; a cold start that waits on a
// dead database or Secrets Manager should give up long before that and serve 503s instead.
const initBudget = 3 * time.Second

// Build makes a function from the dependencies. Every function package exports one.
type Build func(d *Deps) (*lambdahttp.Function, error)

// Main is a function binary's whole main: configuration, dependencies, the function, the Lambda
// runtime. A configuration error ends init with one log line naming every bad variable (the
// Lambda service then reports the init failure); everything else degrades to 503s.
func Main(name string, build Build) {
	boot := obs.NewLogger(os.Stdout, slog.LevelInfo, slog.String("function", name))
	cfg, err := config.Load(config.Lambda, os.Getenv)
	if err != nil {
		boot.Error("init failed: "+err.Error(), "version", Version)
		os.Exit(1)
	}
	log := obs.NewLogger(os.Stdout, cfg.LogLevel, slog.String("function", name))
	log.Info("init", "version", Version, "config", cfg)

	ctx, cancel := context.WithTimeout(context.Background(), initBudget)
	deps, err := New(ctx, cfg, Options{Logger: log, MetricsOut: os.Stdout})
	cancel()
	if err != nil {
		log.Error("init failed: " + err.Error())
		os.Exit(1)
	}
	fn, err := build(deps)
	if err != nil {
		log.Error("init failed: " + err.Error())
		os.Exit(1)
	}
	// Index creation is a round trip per collection on every cold start: run it beside the first
	// invocations instead of in front of them. Nothing on a request path waits for it (an
	// existing deployment has the indexes; a first deployment gets them within its first
	// requests).
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		EnsureIndexes(ctx, deps, fn.Indexes)
	}()
	lambdahttp.Start(fn, deps.Close)
}

// EnsureIndexes creates a function's indexes (a no-op round trip when they exist). A failure is
// logged, not fatal: the function serves what it can, and the next cold start tries again.
func EnsureIndexes(ctx context.Context, d *Deps, indexes []mongodb.Index) {
	if len(indexes) == 0 {
		return
	}
	db, err := d.Mongo.Database(ctx)
	if err == nil {
		err = mongodb.EnsureIndexes(ctx, db, d.Logger, indexes)
	}
	if err != nil {
		d.Logger.ErrorContext(ctx, "init: indexes not ensured", "error", err.Error())
	}
}
