// Package testenv builds the real platform for tests: an embedded database (devdb), a validated
// local configuration, the dependencies every function takes, and requests driven through the
// real API Gateway event translation and Lambda adapter. Test-only: never linked into a Lambda.
package testenv

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/openapicheck"
)

// JWTSecret is the static signing key of test configurations.
const JWTSecret = "test-signing-key-0123456789abcdef-0123456789"

// Origin is an allowed CORS origin in test configurations.
const Origin = "http://localhost:3000"

// DB starts an embedded database for the test, stopped at cleanup.
func DB(t testing.TB) *devdb.Server {
	t.Helper()
	db, err := devdb.Start(context.Background(), devdb.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start devdb: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close devdb: %v", err)
		}
	})
	return db
}

// Config is a valid configuration for a function using uri, with env overriding variables.
func Config(t testing.TB, uri string, env map[string]string) *config.Config {
	t.Helper()
	vars := map[string]string{
		"ENVIRONMENT":  "dev",
		"MONGODB_URI":  uri,
		"JWT_SECRET":   JWTSecret,
		"CORS_ORIGINS": Origin,
	}
	maps.Copy(vars, env)
	cfg, err := config.Load(config.Lambda, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// Logs is a concurrency-safe buffer of log lines.
type Logs = logbuf.Buffer

// Env is a function's dependencies for a test, with its log and metrics output captured.
type Env struct {
	Deps    *app.Deps
	Logs    *Logs
	Metrics *Logs
}

// NewDeps builds the dependencies for cfg (o may set SecretsAPI and Monitor), with logs and
// EMF output captured. The clients are closed at cleanup.
func NewDeps(t testing.TB, cfg *config.Config, o app.Options) *Env {
	t.Helper()
	env := &Env{Logs: &Logs{}, Metrics: &Logs{}}
	o.Logger = obs.NewLogger(env.Logs, slog.LevelDebug)
	o.MetricsOut = env.Metrics
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	deps, err := app.New(ctx, cfg, o)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = deps.Close(ctx)
	})
	env.Deps = deps
	return env
}

// AssertNoSecrets fails the test if a log line or metric of the environment holds the signing key,
// an Authorization header's "Bearer ", a JWT (its base64 always starts "eyJ", for `{"`) or one of
// values.
func (e *Env) AssertNoSecrets(t testing.TB, values ...string) {
	t.Helper()
	out := e.Logs.String() + e.Metrics.String()
	for _, v := range append(values, JWTSecret, "Bearer ", "eyJ") {
		if v != "" && strings.Contains(out, v) {
			t.Errorf("a secret (%.8s…) appears in the logs", v)
		}
	}
}

// Request is one HTTP request to send through API Gateway's event translation.
type Request struct {
	Method string
	Path   string // may include a query string
	// Resource is the template resource matched (defaults to the path without query): only routes
	// with path parameters need it.
	Resource string
	Header   http.Header
	Body     string
}

// Response is the client's view of the answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map, failing the test if it is not a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Expect fails the test unless r has the status and, for an error, the platform's envelope (error
// and detail alike, a request id) with code when code is not empty; it returns the decoded body.
func Expect(t testing.TB, r Response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	body := r.JSON(t)
	if code != "" && body["code"] != code {
		t.Fatalf("code %v, want %s: %s", body["code"], code, r.Body)
	}
	if status >= 400 && (body["error"] == nil || body["error"] != body["detail"] || body["request_id"] == nil) {
		t.Fatalf("not the error envelope: %s", r.Body)
	}
	return body
}

// ValidateResponses makes Do check every response of an API function against openapi.yaml (see
// openapicheck). On by default; OPENAPI_CHECK=off turns it off (a function in mid-rewrite).
var ValidateResponses = os.Getenv("OPENAPI_CHECK") != "off"

// Do sends req to fn as the stage "dev" would (execute-api URL, /dev prefix) and returns the
// response as the client would receive it.
func Do(t testing.TB, fn *lambdahttp.Function, req Request) Response {
	t.Helper()
	r := httptest.NewRequest(req.Method, req.Path, strings.NewReader(req.Body))
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	resource := req.Resource
	if resource == "" {
		resource = r.URL.Path
	}
	ev := apigateway.Event(r, resource, []byte(req.Body), apigateway.Stage{Name: "dev", PathPrefix: "/dev"}, "test-"+t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := fn.ServeEvent(ctx, ev)
	if err != nil {
		t.Fatalf("ServeEvent(%s %s): %v", req.Method, req.Path, err)
	}
	rec := httptest.NewRecorder()
	if err := apigateway.WriteResponse(rec, resp); err != nil {
		t.Fatalf("WriteResponse: %v", err)
	}
	body, _ := io.ReadAll(rec.Result().Body)
	out := Response{Status: rec.Code, Header: rec.Result().Header, Body: body}
	if ValidateResponses {
		openapicheck.Check(t, openapicheck.Exchange{Function: fn.Name, Routes: fn.Routes, Method: req.Method,
			Target: req.Path, Status: out.Status, Header: out.Header, Body: out.Body})
	}
	return out
}

// JSONHeader is the header set the React frontend sends on every request.
func JSONHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Origin": {Origin}}
}
