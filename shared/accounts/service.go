// Package accounts is the auth function: signup, login, sessions and refresh-token rotation,
// lockout, two-factor authentication, email verification and password changes.
package accounts

import (
	"context"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// Service holds the auth function's dependencies.
type Service struct {
	db          func(context.Context) (*mongo.Database, error)
	cfg         *config.Config
	log         *slog.Logger
	passwords   *passwords
	tokens      *auth.Tokens
	revocations *auth.Revocations
	ledger      *ledger.Ledger
	audit       *audit.Writer
	mailer      mailer.Mailer
	metrics     *obs.Metrics
	cookies     auth.CookieOptions
	now         func() time.Time
}

// Options are the Service's dependencies.
type Options struct {
	DB          func(context.Context) (*mongo.Database, error)
	Config      *config.Config
	Logger      *slog.Logger
	Tokens      *auth.Tokens
	Revocations *auth.Revocations
	Ledger      *ledger.Ledger
	Audit       *audit.Writer
	Mailer      mailer.Mailer
	// Metrics receives the business counts (Logins, FailedLogins) the dashboard and the
	// failed-logins alarm read; nil publishes nothing.
	Metrics *obs.Metrics
	// Now replaces the clock (lockout and code expiry tests).
	Now func() time.Time
}

// NewService builds the service.
func NewService(o Options) *Service {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		db: o.DB, cfg: o.Config, log: o.Logger, passwords: newPasswords(o.Config.BcryptCost),
		tokens: o.Tokens, revocations: o.Revocations, ledger: o.Ledger, audit: o.Audit, mailer: o.Mailer, metrics: o.Metrics,
		cookies: auth.CookieOptions{Secure: o.Config.CookieSecure, SameSite: o.Config.CookieSameSite},
		now:     now,
	}
}

// Indexes are the indexes the auth function's queries need.
func Indexes() []mongodb.Index {
	return []mongodb.Index{
		{Collection: usersCollection, Name: "email_unique", Keys: bson.D{{Key: "email", Value: 1}}, Unique: true},
		{Collection: auth.SessionsCollection, Name: "refresh_hashes", Keys: bson.D{{Key: "refresh_hashes", Value: 1}}},
		{Collection: auth.SessionsCollection, Name: "user_id", Keys: bson.D{{Key: "user_id", Value: 1}}},
		{Collection: auth.SessionsCollection, Name: "expires_ttl", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpireAfter: 24 * time.Hour},
	}
}

func auditEvent(userID, action, status string, details map[string]any) audit.Event {
	return audit.Event{UserID: userID, Action: action, Resource: "auth", Status: status, Details: details}
}

// count publishes one business count (EMF, no network call). A failure to write it is logged,
// never the user's problem.
func (s *Service) count(ctx context.Context, name string) {
	if s.metrics == nil {
		return
	}
	if err := s.metrics.Emit(obs.Metric{Name: name, Unit: obs.Count, Value: 1}); err != nil {
		s.log.ErrorContext(ctx, "metric not written", "metric", name, "error", err.Error())
	}
}
