// Package health is the health function: liveness and dependency checks for load balancers,
// monitors and the frontend's status page, the API's root and status routes, and a scheduled probe
// that publishes the checks as CloudWatch metrics for the alarms.
package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/platform/secrets"
)

// checkTimeout bounds each dependency check, so /health answers (503) well before API Gateway's
// 29 s integration timeout and the function's own timeout, even against a dead dependency.
const checkTimeout = 2 * time.Second

// Check statuses.
const (
	Up      = "up"
	Down    = "down"
	Unknown = "unknown"
)

// PriceAge reports how old the newest stored price is; ok is false while nothing is stored (a
// new deployment before its first refresh): the prices check is then "unknown" and does not count.
type PriceAge func(ctx context.Context) (age time.Duration, ok bool, err error)

// Service runs the checks.
type Service struct {
	mongo       *mongodb.Client
	keys        secrets.KeyRing
	prices      PriceAge
	maxPriceAge time.Duration
	environment string
	version     string
	log         *slog.Logger
	metrics     *obs.Metrics
	now         func() time.Time
}

// NewService builds the checks from the platform dependencies.
func NewService(d *app.Deps) *Service {
	return &Service{
		mongo:       d.Mongo,
		keys:        d.Keys,
		prices:      market.NewStoreFor(d).Age,
		maxPriceAge: d.Config.PriceMaxAge,
		environment: d.Config.Environment,
		version:     app.Version,
		log:         d.Logger,
		metrics:     d.Metrics(Name),
		now:         time.Now,
	}
}

// Report is the body of GET /health: the same shape for 200 and 503 (monitors parse one shape).
type Report struct {
	Status      string `json:"status"`
	Checks      Checks `json:"checks"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
	Timestamp   string `json:"timestamp"`
}

// Checks are the individual dependency checks.
type Checks struct {
	Database DatabaseCheck `json:"database"`
	Secrets  SecretsCheck  `json:"secrets"`
	Prices   PricesCheck   `json:"prices"`
}

// DatabaseCheck is a ping of the primary; LatencyMs is null when it is down.
type DatabaseCheck struct {
	Status    string `json:"status"`
	LatencyMs *int64 `json:"latency_ms"`
}

// SecretsCheck says whether the signing keys can be had (from the cache or Secrets Manager).
type SecretsCheck struct {
	Status string `json:"status"`
}

// PricesCheck says whether the newest stored price is younger than PRICE_MAX_AGE; AgeSeconds is
// null while unknown.
type PricesCheck struct {
	Status     string `json:"status"`
	AgeSeconds *int64 `json:"age_seconds"`
}

// Healthy reports whether every check that counts is up ("unknown" does not count).
func (r Report) Healthy() bool { return r.Status == "healthy" }

// Run performs the checks in parallel, each bounded by checkTimeout.
func (s *Service) Run(ctx context.Context) Report {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()

	var (
		wg     sync.WaitGroup
		checks Checks
	)
	wg.Go(func() { checks.Database = s.checkDatabase(ctx) })
	wg.Go(func() { checks.Secrets = s.checkSecrets(ctx) })
	wg.Go(func() { checks.Prices = s.checkPrices(ctx) })
	wg.Wait()

	status := "healthy"
	if checks.Database.Status == Down || checks.Secrets.Status == Down || checks.Prices.Status == Down {
		status = "unhealthy"
	}
	return Report{
		Status: status, Checks: checks, Version: s.version, Environment: s.environment,
		Timestamp: s.now().UTC().Format(time.RFC3339),
	}
}

func (s *Service) checkDatabase(ctx context.Context) DatabaseCheck {
	latency, err := s.mongo.Ping(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "health: database down", "error", err.Error())
		return DatabaseCheck{Status: Down}
	}
	ms := latency.Milliseconds()
	return DatabaseCheck{Status: Up, LatencyMs: &ms}
}

func (s *Service) checkSecrets(ctx context.Context) SecretsCheck {
	if err := s.keys.Check(ctx); err != nil {
		s.log.WarnContext(ctx, "health: secrets down", "error", err.Error())
		return SecretsCheck{Status: Down}
	}
	return SecretsCheck{Status: Up}
}

func (s *Service) checkPrices(ctx context.Context) PricesCheck {
	if s.prices == nil {
		return PricesCheck{Status: Unknown}
	}
	age, ok, err := s.prices(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "health: price store unreadable", "error", err.Error())
		return PricesCheck{Status: Down}
	}
	if !ok {
		return PricesCheck{Status: Unknown}
	}
	secs := int64(age / time.Second)
	if age > s.maxPriceAge {
		return PricesCheck{Status: Down, AgeSeconds: &secs}
	}
	return PricesCheck{Status: Up, AgeSeconds: &secs}
}

// Metrics turns a report into the health metrics the alarms watch.
func (r Report) Metrics() []obs.Metric {
	healthy := 0.0
	if r.Healthy() {
		healthy = 1
	}
	ms := []obs.Metric{{Name: "Healthy", Unit: obs.Count, Value: healthy}}
	if l := r.Checks.Database.LatencyMs; l != nil {
		ms = append(ms, obs.Metric{Name: "DatabaseLatencyMs", Unit: obs.Milliseconds, Value: float64(*l)})
	}
	if a := r.Checks.Prices.AgeSeconds; a != nil {
		ms = append(ms, obs.Metric{Name: "PriceAgeSeconds", Unit: obs.Seconds, Value: float64(*a)})
	}
	return ms
}
