package config

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testKey = "0123456789abcdef0123456789abcdef-local-test-key"

// lambdaEnv is a complete, valid Lambda environment; cases change one thing at a time.
func lambdaEnv() map[string]string {
	return map[string]string{
		"ENVIRONMENT":        "dev",
		"MONGODB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cryptovault/mongo-AbCdEf",
		"JWT_SECRET_ARN":     "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cryptovault/jwt-AbCdEf",
		"CORS_ORIGINS":       "https://app.example.com",
		"COOKIE_SAMESITE":    "None",
	}
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadLocalDefaults(t *testing.T) {
	c, err := Load(Local, getenv(nil))
	if err != nil {
		t.Fatalf("Load(Local, empty) = %v", err)
	}
	want := Config{
		Environment: "local", MongoDatabase: "cryptovault", JWTIssuer: "cryptovault", JWTAudience: "cryptovault-api",
		CORSOrigins:  []string{"http://localhost:3000", "http://127.0.0.1:3000"},
		CookieSecure: false, CookieSameSite: http.SameSiteLaxMode, BcryptCost: 11, StartingCashCents: 1_000_000,
		Mailer: "log", PriceFeed: "simulated", PriceRefreshInterval: 10 * time.Second, PriceMaxAge: 5 * time.Minute,
		LogLevel: slog.LevelInfo,
	}
	if c.String() != want.String() || !c.Local() || c.MongoURI != "" || c.JWTSecret != "" {
		t.Errorf("local defaults:\n got %v\nwant %v", c, &want)
	}
}

func TestLoadLambdaValid(t *testing.T) {
	c, err := Load(Lambda, getenv(lambdaEnv()))
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !c.CookieSecure || c.CookieSameSite != http.SameSiteNoneMode || c.Local() {
		t.Errorf("cookie defaults outside local: secure=%v samesite=%v", c.CookieSecure, c.CookieSameSite)
	}
	if got := c.CORSOrigins; len(got) != 1 || got[0] != "https://app.example.com" {
		t.Errorf("CORSOrigins = %v", got)
	}
}

// TestLoadLambdaRequiresEverythingWithoutDefault: the local defaults belong to the local server only.
func TestLoadLambdaRequiresEverythingWithoutDefault(t *testing.T) {
	_, err := Load(Lambda, getenv(nil))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load(Lambda, empty) = %v, want *Error", err)
	}
	for _, v := range []string{"ENVIRONMENT", "MONGODB_URI", "JWT_SECRET", "CORS_ORIGINS"} {
		if !strings.Contains(err.Error(), v+":") {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("error is not one line: %q", err)
	}
}

func TestLoadProblems(t *testing.T) {
	secretURI := "mongodb+srv://admin:hunter2-secret@cluster0.example.mongodb.net/db"
	tests := []struct {
		name    string
		change  map[string]string
		badVars []string
	}{
		{"cors star", map[string]string{"CORS_ORIGINS": "*"}, []string{"CORS_ORIGINS"}},
		{"cors star in list", map[string]string{"CORS_ORIGINS": "https://a.example.com, *"}, []string{"CORS_ORIGINS"}},
		{"cors with path", map[string]string{"CORS_ORIGINS": "https://a.example.com/app"}, []string{"CORS_ORIGINS"}},
		{"cors bad scheme", map[string]string{"CORS_ORIGINS": "ftp://a.example.com"}, []string{"CORS_ORIGINS"}},
		{"bad uri scheme", map[string]string{"MONGODB_SECRET_ARN": "", "MONGODB_URI": "postgres://u:hunter2-secret@h/db"}, []string{"MONGODB_URI"}},
		{"uri and arn", map[string]string{"MONGODB_URI": secretURI}, []string{"MONGODB_URI"}},
		{"short jwt secret", map[string]string{"JWT_SECRET_ARN": "", "JWT_SECRET": "hunter2-secret"}, []string{"JWT_SECRET"}},
		{"bad arn", map[string]string{"JWT_SECRET_ARN": "not a secret id!"}, []string{"JWT_SECRET_ARN"}},
		{"unknown environment", map[string]string{"ENVIRONMENT": "staging"}, []string{"ENVIRONMENT"}},
		{"samesite none insecure", map[string]string{"COOKIE_SECURE": "false"}, []string{"COOKIE_SAMESITE"}},
		{"prod insecure", map[string]string{"ENVIRONMENT": "prod", "COOKIE_SECURE": "false", "COOKIE_SAMESITE": "Lax"}, []string{"COOKIE_SECURE"}},
		{"bad bool", map[string]string{"COOKIE_SECURE": "yes please"}, []string{"COOKIE_SECURE"}},
		{"bad samesite", map[string]string{"COOKIE_SAMESITE": "sometimes"}, []string{"COOKIE_SAMESITE"}},
		{"bcrypt too low", map[string]string{"BCRYPT_COST": "4"}, []string{"BCRYPT_COST"}},
		{"bcrypt not int", map[string]string{"BCRYPT_COST": "eleven"}, []string{"BCRYPT_COST"}},
		{"cash three decimals", map[string]string{"STARTING_CASH_USD": "10.001"}, []string{"STARTING_CASH_USD"}},
		{"cash negative", map[string]string{"STARTING_CASH_USD": "-5"}, []string{"STARTING_CASH_USD"}},
		{"cash float syntax", map[string]string{"STARTING_CASH_USD": "1e4"}, []string{"STARTING_CASH_USD"}},
		{"cash too big", map[string]string{"STARTING_CASH_USD": "1000000000.01"}, []string{"STARTING_CASH_USD"}},
		{"ses without from", map[string]string{"MAILER": "ses"}, []string{"SES_FROM"}},
		{"bad mailer", map[string]string{"MAILER": "pigeon"}, []string{"MAILER"}},
		{"bad feed", map[string]string{"PRICE_FEED": "file:"}, []string{"PRICE_FEED"}},
		{"bad duration", map[string]string{"PRICE_MAX_AGE": "-1s"}, []string{"PRICE_MAX_AGE"}},
		{"bad interval", map[string]string{"PRICE_REFRESH_INTERVAL": "soon"}, []string{"PRICE_REFRESH_INTERVAL"}},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL"}},
		{"bad db name", map[string]string{"MONGODB_DATABASE": "a.b"}, []string{"MONGODB_DATABASE"}},
		{"db name too long", map[string]string{"MONGODB_DATABASE": strings.Repeat("a", 64)}, []string{"MONGODB_DATABASE"}},
		{"secret name too long", map[string]string{"JWT_SECRET_ARN": strings.Repeat("s", 513)}, []string{"JWT_SECRET_ARN"}},
		{"arn with a short account", map[string]string{"JWT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1234:secret:jwt"}, []string{"JWT_SECRET_ARN"}},
		{"several at once", map[string]string{"CORS_ORIGINS": "*", "LOG_LEVEL": "loud", "BCRYPT_COST": "99"},
			[]string{"CORS_ORIGINS", "LOG_LEVEL", "BCRYPT_COST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := lambdaEnv()
			for k, v := range tt.change {
				env[k] = v
			}
			_, err := Load(Lambda, getenv(env))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want *Error", err)
			}
			got := map[string]bool{}
			for _, p := range ce.Problems {
				got[p.Variable] = true
			}
			for _, v := range tt.badVars {
				if !got[v] {
					t.Errorf("problems %v do not name %s", ce.Problems, v)
				}
			}
			if len(ce.Problems) != len(tt.badVars) {
				t.Errorf("problems = %v, want exactly %v", ce.Problems, tt.badVars)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestLoadParsesValues(t *testing.T) {
	env := lambdaEnv()
	env["STARTING_CASH_USD"] = "2500.5"
	env["LOG_LEVEL"] = "DEBUG"
	env["BCRYPT_COST"] = "12"
	env["CORS_ORIGINS"] = " https://a.example.com/ ,http://localhost:3000"
	env["PRICE_FEED"] = "file:testdata/prices.json"
	c, err := Load(Lambda, getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.StartingCashCents != 250050 || c.LogLevel != slog.LevelDebug || c.BcryptCost != 12 ||
		strings.Join(c.CORSOrigins, ",") != "https://a.example.com,http://localhost:3000" || c.PriceFeed != "file:testdata/prices.json" {
		t.Errorf("parsed %v", c)
	}
}

// TestSummaryRedactsSecrets: the start-up summary says where secrets come from, never what they are.
func TestSummaryRedactsSecrets(t *testing.T) {
	env := lambdaEnv()
	env["MONGODB_SECRET_ARN"] = ""
	env["MONGODB_URI"] = "mongodb+srv://admin:hunter2-pass@cluster0.secret-host.mongodb.net/db"
	env["JWT_SECRET_ARN"] = ""
	env["JWT_SECRET"] = testKey
	c, err := Load(Lambda, getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", c)
	out := b.String() + c.String()
	for _, secret := range []string{"hunter2", "secret-host", "admin", testKey} {
		if strings.Contains(out, secret) {
			t.Errorf("summary leaks %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "mongodb+srv://[redacted]") || !strings.Contains(out, "static key [redacted]") {
		t.Errorf("summary does not say where secrets come from: %s", out)
	}
}

// TestIdentifierLimits pins the length limits that the patterns leave to Go code.
func TestIdentifierLimits(t *testing.T) {
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + strings.Repeat("k", 600)
	tests := []struct {
		name  string
		valid func(string) bool
		in    string
		want  bool
	}{
		{"db name 63", validDBName, strings.Repeat("a", 63), true},
		{"db name 64", validDBName, strings.Repeat("a", 64), false},
		{"db name empty", validDBName, "", false},
		{"secret name 512", validSecretID, strings.Repeat("s", 512), true},
		{"secret name 513", validSecretID, strings.Repeat("s", 513), false},
		{"long arn", validSecretID, arn, true},
		{"name with colon", validSecretID, "arn:not-an-arn", false},
		{"empty secret id", validSecretID, "", false},
	}
	for _, tt := range tests {
		if got := tt.valid(tt.in); got != tt.want {
			t.Errorf("%s: valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}
