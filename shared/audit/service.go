package audit

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// MaxExport is the most entries one export returns (the contract's cap): it bounds the memory and
// the response size of a Lambda invocation.
const MaxExport = 10_000

// Day windows of the summary and the export (the contract's defaults and range).
const (
	defaultSummaryDays = 30
	defaultExportDays  = 90
	maxDays            = 365
)

// codeUnauthenticated is the contract's 401 code. The auth guard answers it first; the handlers
// answer it only if a route were ever registered without the guard.
const codeUnauthenticated = "UNAUTHENTICATED"

// Options tunes a Service; the zero value is production's.
type Options struct {
	// ExportLimit caps an export's entries; 0 (or anything above MaxExport) means MaxExport.
	// Tests lower it to check the cap without writing 10,000 entries.
	ExportLimit int
	// ExportBytes caps an export's escaped body size; 0 (or anything above MaxExportBytes) means
	// MaxExportBytes.
	ExportBytes int
	// Now replaces time.Now for the day windows.
	Now func() time.Time
}

// Service serves a user's own audit entries.
type Service struct {
	store       store
	exportLimit int
	exportBytes int
	now         func() time.Time
}

// NewService returns the service reading through db (the warm client's Database).
func NewService(db func(ctx context.Context) (*mongo.Database, error), o Options) *Service {
	if o.ExportLimit <= 0 || o.ExportLimit > MaxExport {
		o.ExportLimit = MaxExport
	}
	if o.ExportBytes <= 0 || o.ExportBytes > MaxExportBytes {
		o.ExportBytes = MaxExportBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{store: store{db: db}, exportLimit: o.ExportLimit, exportBytes: o.ExportBytes, now: o.Now}
}

// New builds the audit function behind the process's auth guard.
func New(d *app.Deps) (*lambdahttp.Function, error) {
	return NewFunction(d, d.Auth().Guard.Require)
}

// NewFunction builds the audit function. require is the auth guard (auth.Guard.Require): it
// answers 401 for a request without a valid session and puts the caller's principal in the
// context for the handlers. Tests pass their own.
func NewFunction(d *app.Deps, require func(web.HandlerFunc) web.HandlerFunc) (*lambdahttp.Function, error) {
	if require == nil {
		// Every audit route is a user's private data: refuse to build them unguarded.
		return nil, errors.New("audit: NewFunction needs the auth guard")
	}
	return newFunction(d, NewService(d.Mongo.Database, Options{}), require), nil
}

func newFunction(d *app.Deps, s *Service, require func(web.HandlerFunc) web.HandlerFunc) *lambdahttp.Function {
	rt := d.Router()
	s.Routes(rt, require)
	return &lambdahttp.Function{
		Name:   Name,
		HTTP:   d.HTTP(Name, rt),
		Routes: rt.Routes(),
		Logger: d.Logger,
		// The guard's revocation query needs the sessions index too.
		Indexes: append(Indexes(), auth.Indexes()...),
	}
}

// Routes registers the audit routes on rt, each behind require. The literal paths (summary,
// export) take precedence over {id} in ServeMux, whatever the registration order.
func (s *Service) Routes(rt *web.Router, require func(web.HandlerFunc) web.HandlerFunc) {
	rt.Handle("GET /api/audit-logs", require(s.list))
	rt.Handle("GET /api/audit-logs/summary", require(s.summary))
	rt.Handle("GET /api/audit-logs/export", require(s.export))
	rt.Handle("GET /api/audit-logs/{id}", require(s.get))
}

// callerID is the authenticated user's id.
func callerID(r *http.Request) (string, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return "", web.NewError(http.StatusUnauthorized, codeUnauthenticated, "Authentication required")
	}
	return p.UserID, nil
}

type listResponse struct {
	Logs   []logView `json:"logs"`
	Total  int64     `json:"total"`
	Limit  int       `json:"limit"`
	Offset int       `json:"offset"`
}

// list is GET /api/audit-logs?limit=&offset=&action=.
func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	q := web.NewQuery(r)
	page := q.Page()
	action := q.String("action", "")
	if action != "" && !validActionFilter(action) {
		q.Add("action", "must be 1 to 64 letters, digits or underscores")
	}
	if err := q.Err(); err != nil {
		return err
	}
	entries, total, err := s.store.list(r.Context(), userID, action, page.Limit, page.Offset)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, listResponse{Logs: views(entries), Total: total, Limit: page.Limit, Offset: page.Offset})
	return nil
}

// get is GET /api/audit-logs/{id}. A malformed id and another user's id are 404 like a missing
// one: an id reveals nothing about whether it exists.
func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	id, err := bson.ObjectIDFromHex(r.PathValue("id"))
	if err != nil {
		return notFound()
	}
	e, ok, err := s.store.get(r.Context(), userID, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound()
	}
	web.WriteJSON(w, http.StatusOK, map[string]logView{"log": e.view()})
	return nil
}

func notFound() error {
	return web.NewError(http.StatusNotFound, web.CodeNotFound, "Audit log not found")
}

type summary struct {
	TotalEvents  int64            `json:"total_events"`
	ActionCounts map[string]int64 `json:"action_counts"`
	PeriodDays   int              `json:"period_days"`
}

// summary is GET /api/audit-logs/summary?days=: counts per action over the last days.
func (s *Service) summary(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	days, err := web.QueryInt(r, "days", defaultSummaryDays, 1, maxDays)
	if err != nil {
		return err
	}
	counts, err := s.store.countByAction(r.Context(), userID, s.windowStart(days))
	if err != nil {
		return err
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	web.WriteJSON(w, http.StatusOK, map[string]summary{
		"summary": {TotalEvents: total, ActionCounts: counts, PeriodDays: days},
	})
	return nil
}

// windowStart is the start of a window of the last days, as 24-hour days back from now.
func (s *Service) windowStart(days int) time.Time {
	return s.now().UTC().Add(-time.Duration(days) * 24 * time.Hour)
}
