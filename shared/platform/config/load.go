package config

import (
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MinJWTSecretBytes is the shortest HS256 key accepted: shorter keys are brute-forceable offline
// from any captured token.
const MinJWTSecretBytes = 32

// Load reads the configuration through getenv (os.Getenv in production; a map in tests).
// It returns *Error listing every bad variable.
func Load(mode Mode, getenv func(string) string) (*Config, error) {
	l := &loader{mode: mode, getenv: getenv}
	c := &Config{}

	c.Environment = l.oneOf("ENVIRONMENT", l.required("ENVIRONMENT", EnvLocal), EnvLocal, EnvDev, EnvProd)

	c.MongoURI, c.MongoSecretARN = l.valueOrSecret("MONGODB_URI", "MONGODB_SECRET_ARN")
	if c.MongoURI != "" && !validMongoURI(c.MongoURI) {
		l.problem("MONGODB_URI", "must be a mongodb:// or mongodb+srv:// connection string")
	}
	c.MongoDatabase = l.str("MONGODB_DATABASE", "cryptovault")
	if c.MongoDatabase != "" && !validDBName(c.MongoDatabase) {
		l.problem("MONGODB_DATABASE", "must be 1-63 letters, digits, '_' or '-'")
	}

	c.JWTSecret, c.JWTSecretARN = l.valueOrSecret("JWT_SECRET", "JWT_SECRET_ARN")
	if c.JWTSecret != "" && len(c.JWTSecret) < MinJWTSecretBytes {
		l.problem("JWT_SECRET", "must be at least 32 bytes")
	}
	c.JWTIssuer = l.str("JWT_ISSUER", "cryptovault")
	c.JWTAudience = l.str("JWT_AUDIENCE", "cryptovault-api")

	c.CORSOrigins = l.origins("CORS_ORIGINS", l.required("CORS_ORIGINS", "http://localhost:3000,http://127.0.0.1:3000"))

	// Cookies default to the strict production form outside local mode: a forgotten variable then
	// breaks nothing but a plain-HTTP setup, instead of leaking cookies over HTTP.
	c.CookieSecure = l.boolean("COOKIE_SECURE", c.Environment != EnvLocal)
	c.CookieSameSite = l.sameSite("COOKIE_SAMESITE", http.SameSiteLaxMode)
	if c.CookieSameSite == http.SameSiteNoneMode && !c.CookieSecure {
		l.problem("COOKIE_SAMESITE", "None requires COOKIE_SECURE=true (browsers drop such cookies)")
	}
	if c.Environment == EnvProd && !c.CookieSecure {
		l.problem("COOKIE_SECURE", "must be true in prod")
	}

	c.BcryptCost = l.integer("BCRYPT_COST", 11, 10, 31)
	c.StartingCashCents = l.cents("STARTING_CASH_USD", "10000")
	c.RequireEmailVerification = l.boolean("REQUIRE_EMAIL_VERIFICATION", false)

	c.Mailer = l.oneOf("MAILER", l.str("MAILER", "log"), "log", "ses")
	c.SESFrom = getenv("SES_FROM")
	if c.Mailer == "ses" && c.SESFrom == "" {
		l.problem("SES_FROM", "is required when MAILER=ses")
	}

	c.PriceFeed = l.str("PRICE_FEED", "simulated")
	switch {
	case c.PriceFeed == "simulated", c.PriceFeed == "coingecko":
	case strings.HasPrefix(c.PriceFeed, "file:") && len(c.PriceFeed) > len("file:"):
	default:
		l.problem("PRICE_FEED", "must be simulated, coingecko or file:PATH")
	}
	c.CoinGeckoKeySecretARN = getenv("COINGECKO_API_KEY_SECRET_ARN")
	if c.CoinGeckoKeySecretARN != "" && !validSecretID(c.CoinGeckoKeySecretARN) {
		l.problem("COINGECKO_API_KEY_SECRET_ARN", "must be a Secrets Manager ARN or name")
	}
	c.PriceRefreshInterval = l.duration("PRICE_REFRESH_INTERVAL", 10*time.Second)
	c.PriceMaxAge = l.duration("PRICE_MAX_AGE", 5*time.Minute)

	c.LogLevel = l.logLevel("LOG_LEVEL", slog.LevelInfo)

	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	return c, nil
}

// The patterns repeat with + and the length limits are checked in Go: a counted repetition such
// as {1,512} compiles into that many copies of its class, which cost every cold start about a
// millisecond at package initialisation (the functions' largest init).
var (
	dbName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// secretID accepts a Secrets Manager ARN or secret name (the API takes either). A name
	// cannot contain ':', so anything starting with "arn:" matched the ARN branch.
	secretID = regexp.MustCompile(`^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]+)$`)
)

const (
	maxDBNameLen     = 63
	maxSecretNameLen = 512
)

func validDBName(s string) bool { return len(s) <= maxDBNameLen && dbName.MatchString(s) }

func validSecretID(s string) bool {
	return secretID.MatchString(s) && (strings.HasPrefix(s, "arn:") || len(s) <= maxSecretNameLen)
}

// loader collects problems while reading variables, so Load can report them all at once.
type loader struct {
	mode     Mode
	getenv   func(string) string
	problems []Problem
}

func (l *loader) problem(name, msg string) {
	l.problems = append(l.problems, Problem{Variable: name, Message: msg})
}

// required returns the variable, or its local default in local mode; in Lambda a missing variable
// is a problem (recorded here) and "" is returned.
func (l *loader) required(name, localDefault string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	if l.mode == Local {
		return localDefault
	}
	l.problem(name, "is required")
	return ""
}

// str reads a variable whose default is safe in every mode.
func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// oneOf checks v against the allowed values (case-insensitively) and returns the canonical
// spelling. An empty v was already reported missing.
func (l *loader) oneOf(name, v string, allowed ...string) string {
	if v == "" {
		return ""
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	l.problem(name, "must be one of "+strings.Join(allowed, ", "))
	return ""
}

// valueOrSecret reads a setting given either directly or as a Secrets Manager reference. Exactly
// one of the two may be set; in Lambda one is required. In local mode neither is fine: the local
// server supplies its own (the embedded engine, a generated key).
func (l *loader) valueOrSecret(valueName, arnName string) (value, arn string) {
	value = strings.TrimSpace(l.getenv(valueName))
	arn = strings.TrimSpace(l.getenv(arnName))
	switch {
	case value != "" && arn != "":
		l.problem(valueName, "set either "+valueName+" or "+arnName+", not both")
		return "", ""
	case value == "" && arn == "" && l.mode == Lambda:
		l.problem(valueName, "is required (or "+arnName+")")
	case arn != "" && !validSecretID(arn):
		l.problem(arnName, "must be a Secrets Manager ARN or name")
		arn = ""
	}
	return value, arn
}

func validMongoURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	return (u.Scheme == "mongodb" || u.Scheme == "mongodb+srv") && u.Host != ""
}

func (l *loader) origins(name, raw string) []string {
	if raw == "" {
		return nil
	}
	var out []string
	for _, o := range strings.Split(raw, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			l.problem(name, "'*' is refused: credentials (cookies) need an explicit allowlist")
			return nil
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			l.problem(name, "each origin must be scheme://host[:port] with http or https, got "+strconv.Quote(o))
			return nil
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(out) == 0 {
		l.problem(name, "must list at least one origin")
	}
	return out
}

func (l *loader) boolean(name string, def bool) bool {
	raw := strings.TrimSpace(l.getenv(name))
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		l.problem(name, "must be true or false")
		return def
	}
	return b
}

func (l *loader) sameSite(name string, def http.SameSite) http.SameSite {
	switch strings.ToLower(strings.TrimSpace(l.getenv(name))) {
	case "":
		return def
	case "lax":
		return http.SameSiteLaxMode
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	default:
		l.problem(name, "must be Lax, Strict or None")
		return def
	}
}

func (l *loader) integer(name string, def, lo, hi int) int {
	raw := strings.TrimSpace(l.getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		l.problem(name, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

// maxStartingCashCents bounds STARTING_CASH_USD (one billion dollars) far below int64 overflow.
const maxStartingCashCents = 100_000_000_000

// cents parses a non-negative decimal USD amount with at most two decimals into cents, without
// going through float64.
func (l *loader) cents(name, def string) int64 {
	raw := strings.TrimSpace(l.getenv(name))
	if raw == "" {
		raw = def
	}
	c, ok := parseCents(raw)
	if !ok || c > maxStartingCashCents {
		l.problem(name, "must be a USD amount from 0 to 1000000000 with at most 2 decimals")
		return 0
	}
	return c
}

var centsPattern = regexp.MustCompile(`^(\d{1,12})(?:\.(\d{1,2}))?$`)

func parseCents(s string) (int64, bool) {
	m := centsPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	whole, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, false
	}
	frac := int64(0)
	if m[2] != "" {
		f := m[2]
		if len(f) == 1 {
			f += "0"
		}
		frac, _ = strconv.ParseInt(f, 10, 64)
	}
	return whole*100 + frac, true
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	raw := strings.TrimSpace(l.getenv(name))
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		l.problem(name, "must be a positive Go duration such as 10s or 5m")
		return def
	}
	return d
}

func (l *loader) logLevel(name string, def slog.Level) slog.Level {
	switch strings.ToLower(strings.TrimSpace(l.getenv(name))) {
	case "":
		return def
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		l.problem(name, "must be debug, info, warn or error")
		return def
	}
}
