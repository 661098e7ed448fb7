package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

const testOrigin = "http://localhost:3000"

// errCustom is recognised only by testClassifier, standing in for the
// classifier a database package would provide.
var errCustom = errors.New("driver: connection refused to 10.1.2.3 user=admin")

func testClassifier(err error) *web.Error {
	if errors.Is(err, errCustom) {
		return web.NewError(http.StatusServiceUnavailable, web.CodeDatabaseUnavailable, "Database temporarily unavailable")
	}
	return nil
}

type statusBody struct {
	Name     string   `json:"name"`
	Age      int      `json:"age"`
	Password string   `json:"password"`
	Tags     []string `json:"tags"`
	Nested   struct {
		Price float64 `json:"price"`
	} `json:"nested"`
}

// syncBuffer is a concurrency-safe log sink with JSON helpers.
type syncBuffer struct{ logbuf.Buffer }

// lines returns the log lines decoded as JSON objects, failing on any line
// that is not valid JSON.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		out = append(out, m)
	}
	return out
}

// accessLines returns only the access-log lines.
func (b *syncBuffer) accessLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range b.lines(t) {
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

type testApp struct {
	handler http.Handler
	logs    *syncBuffer
	router  *web.Router
}

func newTestApp(t *testing.T, mutate func(*web.Options)) *testApp {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	rt := web.NewRouter(web.RouterOptions{Classifiers: []web.Classifier{testClassifier}})
	rt.Handle("GET /api/status", func(w http.ResponseWriter, r *http.Request) error {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	rt.Handle("POST /api/status", func(w http.ResponseWriter, r *http.Request) error {
		var body statusBody
		if err := web.DecodeJSON(r, &body); err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]any{"message": "Status check received", "name": body.Name})
		return nil
	})
	rt.Handle("POST /api/map", func(w http.ResponseWriter, r *http.Request) error {
		m := map[string]any{}
		if err := web.DecodeJSON(r, &m); err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]any{"keys": len(m)})
		return nil
	})
	rt.Handle("DELETE /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) error {
		web.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
		return nil
	})
	rt.Handle("GET /api/panic", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/html")
		panic("PANICDETAIL at secret line")
	})
	rt.Handle("GET /api/fail", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("load portfolio: %w", errors.New("mongodb://admin:hunter2@db INTERNALDETAIL"))
	})
	rt.Handle("GET /api/timeout", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("query: %w", context.DeadlineExceeded)
	})
	rt.Handle("GET /api/db", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("ping: %w", web.ErrDatabaseUnavailable)
	})
	rt.Handle("GET /api/secrets", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("get jwt keys: %w", web.ErrSecretsUnavailable)
	})
	rt.Handle("GET /api/prices", func(w http.ResponseWriter, r *http.Request) error {
		return web.ErrPriceStale
	})
	rt.Handle("GET /api/classified", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("find user: %w", errCustom)
	})
	rt.Handle("GET /api/limited", func(w http.ResponseWriter, r *http.Request) error {
		e := web.NewError(http.StatusTooManyRequests, web.CodeRateLimited, "Too many requests")
		e.RetryAfter = 1500 * time.Millisecond
		return e
	})
	rt.Handle("GET /api/validation", func(w http.ResponseWriter, r *http.Request) error {
		return web.ValidationError(map[string]string{"symbol": "is required"})
	})
	rt.Handle("GET /api/wrapped", func(w http.ResponseWriter, r *http.Request) error {
		e := web.NewError(http.StatusConflict, "IDEMPOTENCY_KEY_REUSED", "Idempotency key reused")
		e.Cause = errors.New("CAUSEDETAIL")
		return fmt.Errorf("orders: %w", e)
	})
	rt.Handle("GET /api/public", func(w http.ResponseWriter, r *http.Request) error {
		web.MarkPublic(w, 30*time.Second)
		web.WriteJSON(w, http.StatusOK, map[string]string{"BTC": "1"})
		return nil
	})
	rt.Handle("GET /api/public-fail", func(w http.ResponseWriter, r *http.Request) error {
		web.MarkPublic(w, 30*time.Second)
		return web.ErrPriceStale
	})
	rt.Handle("GET /api/me", func(w http.ResponseWriter, r *http.Request) error {
		web.SetUserID(r.Context(), "user-42")
		web.WriteJSON(w, http.StatusOK, map[string]string{"request_id": web.RequestIDFrom(r.Context())})
		return nil
	})
	rt.Handle("GET /api/badjson", func(w http.ResponseWriter, r *http.Request) error {
		web.WriteJSON(w, http.StatusOK, map[string]any{"f": func() {}})
		return nil
	})
	rt.Handle("GET /api/{$}", func(w http.ResponseWriter, r *http.Request) error {
		web.WriteJSON(w, http.StatusOK, map[string]string{"message": "CryptoVault API"})
		return nil
	})

	opts := web.Options{
		Function:       "test",
		AllowedOrigins: []string{testOrigin},
		Logger:         logger,
		Classifiers:    nil,
	}
	if mutate != nil {
		mutate(&opts)
	}
	return &testApp{handler: web.Wrap(rt, opts), logs: logs, router: rt}
}

type reqSpec struct {
	method  string
	path    string
	body    string
	headers map[string]string
	// unknownLength sends the body with ContentLength -1, as a chunked
	// upload arrives.
	unknownLength bool
}

func (a *testApp) do(t *testing.T, rs reqSpec) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if rs.body != "" {
		body = strings.NewReader(rs.body)
	}
	req := httptest.NewRequest(rs.method, rs.path, body)
	for k, v := range rs.headers {
		req.Header.Set(k, v)
	}
	if rs.unknownLength {
		req.Body = io.NopCloser(strings.NewReader(rs.body))
		req.ContentLength = -1
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return rec
}

// decodeEnvelope checks the shape shared by every error response and returns
// the decoded body.
func decodeEnvelope(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, rec.Body.String())
	}
	for _, k := range []string{"error", "detail", "code", "request_id"} {
		if _, ok := m[k].(string); !ok {
			t.Errorf("envelope field %q missing or not a string: %v", k, m)
		}
	}
	for k := range m {
		switch k {
		case "error", "detail", "code", "request_id", "fields":
		default:
			t.Errorf("unexpected envelope field %q", k)
		}
	}
	if m["error"] != m["detail"] {
		t.Errorf("error %q != detail %q", m["error"], m["detail"])
	}
	if m["error"] == "" {
		t.Errorf("empty error message")
	}
	if id := rec.Header().Get("X-Request-Id"); id == "" || m["request_id"] != id {
		t.Errorf("request_id %v, X-Request-Id %q", m["request_id"], id)
	}
	return m
}

// checkSecurityHeaders asserts the headers every response carries.
func checkSecurityHeaders(t *testing.T, h http.Header, local bool) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	hsts := h.Get("Strict-Transport-Security")
	if local && hsts != "" {
		t.Errorf("HSTS %q in local mode", hsts)
	}
	if !local && hsts != "max-age=63072000; includeSubDomains" {
		t.Errorf("HSTS = %q", hsts)
	}
	if h.Get("X-Request-Id") == "" {
		t.Errorf("X-Request-Id missing")
	}
	if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("Vary = %q, want Origin", h.Values("Vary"))
	}
}

func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}
