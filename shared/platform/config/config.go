// Package config turns the process environment into typed, validated settings.
//
// Every function and the local server call Load once, at init. Load reports every bad variable in
// one error (a function that fails init should say everything that is wrong at once, not one
// variable per deploy), and never echoes a secret value back.
package config

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Mode says who is loading the configuration. The local defaults of architecture.md are a
// convenience of the local server; in Lambda a variable without a production default is required,
// so a forgotten template variable fails loudly instead of silently running on a local default.
type Mode int

const (
	// Lambda is a function running in AWS (or under the emulator or `sam local`).
	Lambda Mode = iota
	// Local is the local development server (cmd/local).
	Local
)

// Environments the service knows.
const (
	EnvLocal = "local"
	EnvDev   = "dev"
	EnvProd  = "prod"
)

// Config is the validated configuration. Secret fields are redacted by LogValue and String.
type Config struct {
	Environment string

	// MongoURI is the connection string (secret). Empty when MongoSecretARN is set, and in local
	// mode when the embedded engine is to be used.
	MongoURI       string
	MongoSecretARN string
	MongoDatabase  string

	// JWTSecret is the HS256 signing key (secret). Empty when JWTSecretARN is set, and in local
	// mode when the local server is to generate and keep one.
	JWTSecret    string
	JWTSecretARN string
	JWTIssuer    string
	JWTAudience  string

	CORSOrigins []string

	CookieSecure   bool
	CookieSameSite http.SameSite

	BcryptCost int
	// StartingCashCents is the demo cash of a new account in USD cents.
	StartingCashCents int64

	RequireEmailVerification bool
	Mailer                   string
	SESFrom                  string

	PriceFeed             string
	CoinGeckoKeySecretARN string
	PriceRefreshInterval  time.Duration
	PriceMaxAge           time.Duration
	LogLevel              slog.Level
}

// Local reports whether the service runs in local mode (no HSTS, relaxed cookie defaults).
func (c *Config) Local() bool { return c.Environment == EnvLocal }

// LogValue is the redacted start-up summary: where each secret comes from, never its value.
func (c *Config) LogValue() slog.Value {
	mongo := "embedded engine"
	switch {
	case c.MongoSecretARN != "":
		mongo = "secret " + c.MongoSecretARN
	case c.MongoURI != "":
		mongo = "uri " + redactURI(c.MongoURI)
	}
	jwt := "generated local key"
	switch {
	case c.JWTSecretARN != "":
		jwt = "secret " + c.JWTSecretARN
	case c.JWTSecret != "":
		jwt = "static key [redacted]"
	}
	return slog.GroupValue(
		slog.String("environment", c.Environment),
		slog.String("mongodb", mongo),
		slog.String("mongodb_database", c.MongoDatabase),
		slog.String("jwt_key", jwt),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.String("jwt_audience", c.JWTAudience),
		slog.String("cors_origins", strings.Join(c.CORSOrigins, ",")),
		slog.Bool("cookie_secure", c.CookieSecure),
		slog.String("cookie_samesite", sameSiteName(c.CookieSameSite)),
		slog.Int("bcrypt_cost", c.BcryptCost),
		slog.Int64("starting_cash_cents", c.StartingCashCents),
		slog.Bool("require_email_verification", c.RequireEmailVerification),
		slog.String("mailer", c.Mailer),
		slog.String("price_feed", c.PriceFeed),
		slog.Duration("price_refresh_interval", c.PriceRefreshInterval),
		slog.Duration("price_max_age", c.PriceMaxAge),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// String keeps an accidental %v of the config as redacted as its log value.
func (c *Config) String() string { return c.LogValue().String() }

// redactURI keeps only the scheme of a connection string: its host names the cluster and its user
// info holds the password, neither of which belongs in a log line.
func redactURI(uri string) string {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return "[redacted]"
	}
	return scheme + "://[redacted]"
}

func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	default:
		return "Lax"
	}
}

// Problem is one bad variable.
type Problem struct {
	Variable string
	Message  string
}

// Error lists every problem Load found. Its text is one line, safe to log: messages describe the
// expected form and never quote a secret's value.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Variable + ": " + p.Message
	}
	return fmt.Sprintf("invalid configuration (%d problems): %s", len(e.Problems), strings.Join(parts, "; "))
}
