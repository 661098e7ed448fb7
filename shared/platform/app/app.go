// Package app wires the platform together once per process: configuration, logger, the warm
// Mongo client, the Secrets Manager cache and JWT key ring. A Lambda function builds its Deps in
// init (Main); the local server builds one Deps for all functions.
package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Version is the build's version, set with -ldflags "-X .../shared/platform/app.Version=...".
var Version = "dev"

// LocalKeyID is the kid of a JWT key given directly in configuration (JWT_SECRET).
const LocalKeyID = "static"

// Deps is what every function's handlers depend on.
type Deps struct {
	Config *config.Config
	Logger *slog.Logger
	Mongo  *mongodb.Client
	Keys   secrets.KeyRing
	// Secrets reads other Secrets Manager values (nil when no ARN is configured).
	Secrets *secrets.Cache

	metricsOut io.Writer
	outboxDir  string
	auth       authOnce
}

// Options are the process-specific parts of building Deps.
type Options struct {
	Logger *slog.Logger
	// MetricsOut receives EMF lines (os.Stdout in Lambda, where CloudWatch extracts them).
	MetricsOut io.Writer
	// SecretsAPI overrides the Secrets Manager client (tests point the real SDK client at a local
	// endpoint); nil builds the default client when an ARN is configured.
	SecretsAPI secrets.API
	// Monitor sees every Mongo command (round-trip counting in tests and benchmarks).
	Monitor *event.CommandMonitor
	// OutboxDir is where MAILER=log writes messages ("" = a folder under the system temp dir:
	// /tmp in Lambda, which is per instance, so the log mailer is for local use and tests).
	OutboxDir string
}

// OutboxDir is the folder where MAILER=log writes messages (Options.OutboxDir or its default).
// The mailer itself is built by the function that sends mail (shared/accounts), so the SES
// client is linked into that function's binary only.
func (d *Deps) OutboxDir() string { return d.outboxDir }

// New builds the dependencies and warms them within ctx: the Mongo connection and the JWT keys
// are fetched in parallel, since both may be a Secrets Manager round trip. Neither failing is
// fatal: the function starts, and requests that need the missing piece get a 503 until it is back.
func New(ctx context.Context, cfg *config.Config, o Options) (*Deps, error) {
	log := o.Logger
	if log == nil {
		log = obs.Discard()
	}
	d := &Deps{Config: cfg, Logger: log, metricsOut: o.MetricsOut, outboxDir: o.OutboxDir}
	if d.metricsOut == nil {
		d.metricsOut = io.Discard
	}
	if d.outboxDir == "" {
		d.outboxDir = filepath.Join(os.TempDir(), "cryptovault-outbox")
	}

	if cfg.MongoSecretARN != "" || cfg.JWTSecretARN != "" || cfg.CoinGeckoKeySecretARN != "" {
		api := o.SecretsAPI
		if api == nil {
			client, err := secrets.NewClient(ctx, "")
			if err != nil {
				return nil, err
			}
			api = client
		}
		d.Secrets = secrets.NewCache(api, secrets.CacheOptions{Logger: log})
	}

	switch {
	case cfg.JWTSecretARN != "":
		d.Keys = secrets.NewSecretsManagerKeyRing(d.Secrets, cfg.JWTSecretARN)
	case cfg.JWTSecret != "":
		d.Keys = secrets.NewStaticKeyRing(secrets.Key{ID: LocalKeyID, Secret: []byte(cfg.JWTSecret)})
	default:
		return nil, errors.New("app: no JWT key configured (JWT_SECRET or JWT_SECRET_ARN)")
	}

	uri := func(context.Context) (string, error) { return cfg.MongoURI, nil }
	if cfg.MongoSecretARN != "" {
		uri = func(ctx context.Context) (string, error) {
			return secrets.ConnectionString(ctx, d.Secrets, cfg.MongoSecretARN)
		}
	}
	d.Mongo = mongodb.New(mongodb.Options{
		URI: uri, Database: cfg.MongoDatabase, AppName: "cryptovault", Logger: log, Monitor: o.Monitor,
	})

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Mongo.Connect(ctx); err != nil {
			log.WarnContext(ctx, "init: database not reachable yet; requests get 503 until it is", "error", err.Error())
		}
	})
	wg.Go(func() {
		if err := d.Keys.Check(ctx); err != nil {
			log.WarnContext(ctx, "init: signing keys not available yet; requests get 503 until they are", "error", err.Error())
		}
	})
	wg.Wait()
	return d, nil
}

// Close releases the warm clients (the SIGTERM hook and the local server's shutdown call it).
func (d *Deps) Close(ctx context.Context) error {
	return d.Mongo.Disconnect(ctx)
}

// Classifiers map platform failures to their 503s. Secrets first: a connection string that could
// not be read is a secrets outage, not a database one.
func (d *Deps) Classifiers() []web.Classifier {
	return []web.Classifier{classifySecrets, mongodb.Classify}
}

func classifySecrets(err error) *web.Error {
	if !errors.Is(err, secrets.ErrUnavailable) {
		return nil
	}
	e := web.NewError(http.StatusServiceUnavailable, web.CodeSecretsUnavailable, "A required secret is temporarily unavailable; please retry")
	e.Cause = err
	e.RetryAfter = time.Second
	return e
}

// Router returns a router with the platform's error classifiers.
func (d *Deps) Router() *web.Router {
	return web.NewRouter(web.RouterOptions{Classifiers: d.Classifiers()})
}

// HTTP wraps a function's router in the platform middleware (request id, security headers, CORS,
// body rules, access log).
func (d *Deps) HTTP(function string, h http.Handler) http.Handler {
	return web.Wrap(h, web.Options{
		Function:       function,
		AllowedOrigins: d.Config.CORSOrigins,
		Local:          d.Config.Local(),
		Logger:         d.Logger,
		RequestID:      lambdahttp.RequestID,
		Classifiers:    d.Classifiers(),
	})
}

// Metrics returns an EMF writer whose metrics carry the function and environment dimensions.
func (d *Deps) Metrics(function string) *obs.Metrics {
	return obs.NewMetrics(d.metricsOut, map[string]string{"Service": function, "Environment": d.Config.Environment})
}
