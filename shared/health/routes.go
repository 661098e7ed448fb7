package health

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "health"

// New builds the health function: its routes and its scheduled probe.
func New(d *app.Deps) (*lambdahttp.Function, error) {
	s := NewService(d)
	rt := d.Router()
	s.Routes(rt)
	return &lambdahttp.Function{
		Name:      Name,
		HTTP:      d.HTTP(Name, rt),
		Routes:    rt.Routes(),
		Scheduled: s.Probe,
		Logger:    d.Logger,
	}, nil
}

// Routes registers the function's routes on rt.
func (s *Service) Routes(rt *web.Router) {
	rt.Handle("GET /health", s.getHealth)
	rt.Handle("GET /api/health", s.getHealth)
	// API Gateway has no trailing-slash resources: its /api resource serves both /api and /api/.
	rt.Handle("GET /api", s.getRoot)
	rt.Handle("GET /api/{$}", s.getRoot)
	rt.Handle("GET /api/status", s.getStatus)
	rt.Handle("POST /api/status", s.postStatus)
}

func (s *Service) getHealth(w http.ResponseWriter, r *http.Request) error {
	report := s.Run(r.Context())
	status := http.StatusOK
	if !report.Healthy() {
		status = http.StatusServiceUnavailable
	}
	web.WriteJSON(w, status, report)
	return nil
}

func (s *Service) getRoot(w http.ResponseWriter, _ *http.Request) error {
	web.WriteJSON(w, http.StatusOK, map[string]string{
		"message": "CryptoVault API", "status": "operational", "version": s.version,
	})
	return nil
}

func (s *Service) getStatus(w http.ResponseWriter, _ *http.Request) error {
	web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "timestamp": s.timestamp()})
	return nil
}

// postStatus accepts any JSON object (or nothing) from clients that report in; it stores nothing.
func (s *Service) postStatus(w http.ResponseWriter, r *http.Request) error {
	var body map[string]any
	if err := web.DecodeJSON(r, &body); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Status check received", "timestamp": s.timestamp()})
	return nil
}

func (s *Service) timestamp() string { return s.now().UTC().Format(time.RFC3339) }

// Probe is the scheduled run (every minute): it publishes the checks as EMF metrics, which the
// Healthy and price-age alarms watch. An unhealthy result is a metric, not a failed invocation:
// a failure would only add Lambda retries and error alarms on top of the Healthy alarm.
func (s *Service) Probe(ctx context.Context, _ events.EventBridgeEvent) error {
	report := s.Run(ctx)
	if err := s.metrics.Emit(report.Metrics()...); err != nil {
		s.log.ErrorContext(ctx, "health probe: metrics not written", "error", err.Error())
	}
	s.log.InfoContext(ctx, "health probe", "status", report.Status,
		"database", report.Checks.Database.Status, "secrets", report.Checks.Secrets.Status, "prices", report.Checks.Prices.Status)
	return nil
}
