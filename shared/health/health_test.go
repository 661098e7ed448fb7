package health_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/health"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// newHealth builds the health function on a fresh embedded database.
func newHealth(t *testing.T) (*lambdahttp.Function, *testenv.Env) {
	t.Helper()
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	fn, err := health.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	return fn, env
}

func get(path string) testenv.Request {
	return testenv.Request{Method: http.MethodGet, Path: path, Header: testenv.JSONHeader()}
}

type report struct {
	Status string `json:"status"`
	Checks struct {
		Database struct {
			Status    string `json:"status"`
			LatencyMs *int64 `json:"latency_ms"`
		} `json:"database"`
		Secrets struct {
			Status string `json:"status"`
		} `json:"secrets"`
		Prices struct {
			Status     string `json:"status"`
			AgeSeconds *int64 `json:"age_seconds"`
		} `json:"prices"`
	} `json:"checks"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
	Timestamp   string `json:"timestamp"`
}

func decodeReport(t *testing.T, r testenv.Response) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal(r.Body, &rep); err != nil {
		t.Fatalf("health body: %v\n%s", err, r.Body)
	}
	return rep
}

func TestHealthy(t *testing.T) {
	fn, _ := newHealth(t)
	for _, path := range []string{"/health", "/api/health"} {
		t.Run(path, func(t *testing.T) {
			r := testenv.Do(t, fn, get(path))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			rep := decodeReport(t, r)
			if rep.Status != "healthy" || rep.Checks.Database.Status != "up" || rep.Checks.Database.LatencyMs == nil ||
				rep.Checks.Secrets.Status != "up" || rep.Checks.Prices.Status != "unknown" || rep.Checks.Prices.AgeSeconds != nil ||
				rep.Environment != "dev" || rep.Version == "" {
				t.Errorf("report = %+v", rep)
			}
			if ts, err := time.Parse(time.RFC3339, rep.Timestamp); err != nil || !strings.HasSuffix(rep.Timestamp, "Z") || time.Since(ts) > time.Minute {
				t.Errorf("timestamp %q is not a current RFC 3339 UTC time", rep.Timestamp)
			}
			checkCommonHeaders(t, r)
		})
	}
}

// checkCommonHeaders: every response carries the request id, the security headers and CORS for
// the allowed origin.
func checkCommonHeaders(t *testing.T, r testenv.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Type":                     "application/json; charset=utf-8",
		"X-Content-Type-Options":           "nosniff",
		"X-Frame-Options":                  "DENY",
		"Referrer-Policy":                  "no-referrer",
		"Cache-Control":                    "no-store",
		"Access-Control-Allow-Origin":      testenv.Origin,
		"Access-Control-Allow-Credentials": "true",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if r.Header.Get("X-Request-Id") == "" || r.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("missing X-Request-Id or HSTS: %v", r.Header)
	}
}

func TestRootAndStatus(t *testing.T) {
	fn, _ := newHealth(t)
	tests := []struct {
		req  testenv.Request
		want map[string]string
	}{
		{get("/api/"), map[string]string{"message": "CryptoVault API", "status": "operational"}},
		{get("/api"), map[string]string{"message": "CryptoVault API", "status": "operational"}},
		{get("/api/status"), map[string]string{"status": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.req.Path, func(t *testing.T) {
			r := testenv.Do(t, fn, tt.req)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			body := r.JSON(t)
			for k, v := range tt.want {
				if body[k] != v {
					t.Errorf("%s = %v, want %q", k, body[k], v)
				}
			}
			checkCommonHeaders(t, r)
		})
	}
}

func TestPostStatus(t *testing.T) {
	fn, _ := newHealth(t)
	jsonType := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		header http.Header
		body   string
		status int
		code   string
	}{
		{"empty body labelled JSON", jsonType, "", 200, ""},
		{"empty object", jsonType, "{}", 200, ""},
		{"object", jsonType, `{"client":"web","ok":true,"n":[1,2]}`, 200, ""},
		{"charset", http.Header{"Content-Type": {"application/json; charset=utf-8"}}, `{}`, 200, ""},
		{"no content type, empty body", nil, "", 200, ""},
		{"array", jsonType, `[1,2]`, 422, "VALIDATION_ERROR"},
		{"string", jsonType, `"hello"`, 422, "VALIDATION_ERROR"},
		{"number", jsonType, `42`, 422, "VALIDATION_ERROR"},
		{"null", jsonType, `null`, 422, "VALIDATION_ERROR"},
		{"invalid JSON", jsonType, `{"a":`, 400, "INVALID_JSON"},
		{"trailing data", jsonType, `{} {}`, 400, "INVALID_JSON"},
		{"text/plain", http.Header{"Content-Type": {"text/plain"}}, `{}`, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, `a=1`, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"text/plain empty", http.Header{"Content-Type": {"text/plain"}}, ``, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no content type with body", nil, `{}`, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"oversize", jsonType, `{"a":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testenv.Do(t, fn, testenv.Request{Method: http.MethodPost, Path: "/api/status", Header: tt.header, Body: tt.body})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			body := r.JSON(t)
			if tt.status == 200 {
				if body["message"] != "Status check received" || body["timestamp"] == nil {
					t.Errorf("body %v", body)
				}
				return
			}
			checkEnvelope(t, body, tt.code)
		})
	}
}

// checkEnvelope asserts the error envelope of api.md.
func checkEnvelope(t *testing.T, body map[string]any, code string) {
	t.Helper()
	msg, _ := body["error"].(string)
	if body["code"] != code || msg == "" || body["detail"] != msg || body["request_id"] == "" || body["request_id"] == nil {
		t.Errorf("envelope %v, want code %s with error == detail and a request_id", body, code)
	}
}

func TestWrongMethodAndUnknownPath(t *testing.T) {
	fn, _ := newHealth(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodDelete, "/api/status", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
		{http.MethodPost, "/health", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
		{http.MethodPut, "/api/health", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
		{http.MethodGet, "/api/nope", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/api/status/extra", 404, "NOT_FOUND", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := testenv.Do(t, fn, testenv.Request{Method: tt.method, Path: tt.path, Header: testenv.JSONHeader()})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			checkEnvelope(t, r.JSON(t), tt.code)
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			checkCommonHeaders(t, r)
		})
	}
}

func TestPreflight(t *testing.T) {
	fn, _ := newHealth(t)
	preflight := func(origin string) testenv.Response {
		return testenv.Do(t, fn, testenv.Request{Method: http.MethodOptions, Path: "/api/status", Header: http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"},
		}})
	}
	r := preflight(testenv.Origin)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") || r.Header.Get("Access-Control-Max-Age") != "600" {
		t.Errorf("allowed preflight: %d %v", r.Status, r.Header)
	}
	r = preflight("https://evil.example.com")
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("disallowed preflight: %d %v", r.Status, r.Header)
	}
}

// waitStatus polls until path answers want, failing after the timeout.
func waitStatus(t *testing.T, fn *lambdahttp.Function, path string, want int, timeout time.Duration) testenv.Response {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := testenv.Do(t, fn, get(path))
		if r.Status == want || time.Now().After(deadline) {
			if r.Status != want {
				t.Fatalf("%s stayed %d, want %d: %s", path, r.Status, want, r.Body)
			}
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDatabaseDownAndBack: a warm function whose database goes away answers 503 in the health
// shape with CORS headers, and recovers without a restart.
func TestDatabaseDownAndBack(t *testing.T) {
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	fn, err := health.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, fn, "/health", 200, 5*time.Second)

	if err := db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	r := waitStatus(t, fn, "/health", 503, 10*time.Second)
	rep := decodeReport(t, r)
	if rep.Status != "unhealthy" || rep.Checks.Database.Status != "down" || rep.Checks.Database.LatencyMs != nil || rep.Checks.Secrets.Status != "up" {
		t.Errorf("report while down = %+v", rep)
	}
	checkCommonHeaders(t, r)

	if err := db.StartEngine(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, fn, "/health", 200, 15*time.Second)
}

// TestDatabaseUnreachableAtStart: init does not fail when the database is down; /health is 503
// and becomes 200 once the engine is up, with no restart.
func TestDatabaseUnreachableAtStart(t *testing.T) {
	db := testenv.DB(t)
	if err := db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	fn, err := health.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.Do(t, fn, get("/health"))
	if r.Status != 503 || decodeReport(t, r).Checks.Database.Status != "down" {
		t.Fatalf("health with the engine down: %d %s", r.Status, r.Body)
	}
	checkCommonHeaders(t, r)
	if err := db.StartEngine(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, fn, "/health", 200, 15*time.Second)
}

// TestSecretsUnreachableAtStart: with the JWT key in Secrets Manager and the endpoint down at
// cold start, the function starts, /health reports secrets down, and recovers when it is back.
func TestSecretsUnreachableAtStart(t *testing.T) {
	db := testenv.DB(t)
	sm := smfake.Start(t)
	sm.Put("cryptovault/jwt", `{"kid":"k1","secret":"`+testenv.JWTSecret+`"}`)
	sm.SetDown(true)
	cfg := testenv.Config(t, db.URI(), map[string]string{"JWT_SECRET": "", "JWT_SECRET_ARN": "cryptovault/jwt"})
	env := testenv.NewDeps(t, cfg, app.Options{SecretsAPI: sm.Client(t)})
	fn, err := health.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.Do(t, fn, get("/health"))
	rep := decodeReport(t, r)
	if r.Status != 503 || rep.Checks.Secrets.Status != "down" || rep.Checks.Database.Status != "up" {
		t.Fatalf("health with Secrets Manager down: %d %s", r.Status, r.Body)
	}
	checkCommonHeaders(t, r)

	sm.SetDown(false)
	waitStatus(t, fn, "/health", 200, 10*time.Second)
	if strings.Contains(env.Logs.String(), testenv.JWTSecret) {
		t.Error("the signing key reached a log line")
	}
}

// TestScheduledProbe: the EventBridge run publishes the health metrics in EMF.
func TestScheduledProbe(t *testing.T) {
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	fn, err := health.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	event := []byte(`{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
		"time":"2026-11-28T09:15:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/probe"],"detail":{}}`)

	probe := func() map[string]any {
		t.Helper()
		before := len(env.Metrics.String())
		if _, err := fn.Handle(context.Background(), event); err != nil {
			t.Fatalf("scheduled run: %v", err)
		}
		line := strings.TrimSpace(env.Metrics.String()[before:])
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		return doc
	}
	doc := probe()
	if doc["Healthy"] != 1.0 || doc["DatabaseLatencyMs"] == nil || doc["Service"] != "health" || doc["Environment"] != "dev" || doc["_aws"] == nil {
		t.Errorf("healthy probe EMF = %v", doc)
	}
	if err := db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	doc = probe()
	if doc["Healthy"] != 0.0 || doc["DatabaseLatencyMs"] != nil {
		t.Errorf("unhealthy probe EMF = %v", doc)
	}
}

func TestUnsupportedEvent(t *testing.T) {
	fn, _ := newHealth(t)
	for _, ev := range []string{`{}`, `[1]`, `{"detail-type":"Other","source":"x"}`} {
		if _, err := fn.Handle(context.Background(), []byte(ev)); err == nil {
			t.Errorf("Handle(%s) succeeded, want an unsupported-event error", ev)
		}
	}
}

// TestPriceAge: once the price store exists, /health reports its age, and a price older than
// PRICE_MAX_AGE makes the service unhealthy (trading would refuse it).
func TestPriceAge(t *testing.T) {
	db := testenv.DB(t)
	file := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(file, []byte(`{"quotes":[{"symbol":"BTC","price":"65000"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Config(t, db.URI(), map[string]string{"PRICE_FEED": "file:" + file, "PRICE_MAX_AGE": "1s"})
	env := testenv.NewDeps(t, cfg, app.Options{})
	prices, err := market.NewPricesFunction(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prices.Handle(context.Background(), []byte(`{"detail-type":"Scheduled Event","source":"aws.events"}`)); err != nil {
		t.Fatal(err)
	}
	fn, err := health.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, waitStatus(t, fn, "/health", 200, 5*time.Second))
	if rep.Checks.Prices.Status != "up" || rep.Checks.Prices.AgeSeconds == nil || *rep.Checks.Prices.AgeSeconds > 1 {
		t.Errorf("fresh prices check = %+v", rep.Checks.Prices)
	}
	time.Sleep(1100 * time.Millisecond) // PRICE_MAX_AGE is 1 s in this test
	rep = decodeReport(t, waitStatus(t, fn, "/health", 503, 10*time.Second))
	if rep.Checks.Prices.Status != "down" || rep.Checks.Database.Status != "up" {
		t.Errorf("stale prices check = %+v", rep.Checks)
	}
}
