package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

func TestConventions(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	big := `{"name":"` + strings.Repeat("a", web.MaxBodyBytes) + `"}`

	tests := []struct {
		name       string
		req        reqSpec
		wantStatus int
		wantCode   string            // "" = success, no envelope
		wantFields map[string]string // checked when non-nil
		wantHeader map[string]string
		// absent are strings that must not appear in the body.
		absent []string
	}{
		{name: "GET ok", req: reqSpec{method: "GET", path: "/api/status"}, wantStatus: 200},
		{name: "HEAD served by GET route", req: reqSpec{method: "HEAD", path: "/api/status"}, wantStatus: 200},
		{name: "exact trailing slash route", req: reqSpec{method: "GET", path: "/api/"}, wantStatus: 200},
		{name: "path value", req: reqSpec{method: "DELETE", path: "/api/orders/abc"}, wantStatus: 200},

		{name: "unknown path 404", req: reqSpec{method: "GET", path: "/api/nope"}, wantStatus: 404, wantCode: web.CodeNotFound},
		{name: "unknown path any method 404", req: reqSpec{method: "POST", path: "/nope", headers: jsonCT}, wantStatus: 404, wantCode: web.CodeNotFound},
		{name: "redirect to slash is 404", req: reqSpec{method: "GET", path: "/api"}, wantStatus: 404, wantCode: web.CodeNotFound},
		{name: "unclean path is 404", req: reqSpec{method: "GET", path: "/api//status"}, wantStatus: 404, wantCode: web.CodeNotFound},
		{name: "wrong method 405 with Allow", req: reqSpec{method: "DELETE", path: "/api/status"}, wantStatus: 405,
			wantCode: web.CodeMethodNotAllowed, wantHeader: map[string]string{"Allow": "GET, HEAD, POST"}},
		{name: "wrong method POST-only route", req: reqSpec{method: "GET", path: "/api/map"}, wantStatus: 405,
			wantCode: web.CodeMethodNotAllowed, wantHeader: map[string]string{"Allow": "POST"}},

		// Content-Type rules.
		{name: "POST json ok", req: reqSpec{method: "POST", path: "/api/status", body: `{"name":"x"}`, headers: jsonCT}, wantStatus: 200},
		{name: "POST json charset and case ok", req: reqSpec{method: "POST", path: "/api/status", body: `{"name":"x"}`,
			headers: map[string]string{"Content-Type": "Application/JSON; charset=UTF-8"}}, wantStatus: 200},
		{name: "POST json empty body ok", req: reqSpec{method: "POST", path: "/api/status", headers: jsonCT}, wantStatus: 200},
		{name: "POST json whitespace body ok", req: reqSpec{method: "POST", path: "/api/status", body: " \n\t ", headers: jsonCT}, wantStatus: 200},
		{name: "POST no content type empty body ok", req: reqSpec{method: "POST", path: "/api/status"}, wantStatus: 200},
		{name: "POST no content type empty streamed body ok", req: reqSpec{method: "POST", path: "/api/status", unknownLength: true}, wantStatus: 200},
		{name: "DELETE no content type ok", req: reqSpec{method: "DELETE", path: "/api/orders/1"}, wantStatus: 200},
		{name: "POST no content type with body 415", req: reqSpec{method: "POST", path: "/api/status", body: `{}`},
			wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST no content type streamed body 415", req: reqSpec{method: "POST", path: "/api/status", body: `{}`, unknownLength: true},
			wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST text/plain with body 415", req: reqSpec{method: "POST", path: "/api/status", body: `{}`,
			headers: map[string]string{"Content-Type": "text/plain"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST text/plain empty body 415", req: reqSpec{method: "POST", path: "/api/status",
			headers: map[string]string{"Content-Type": "text/plain"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST form with body 415", req: reqSpec{method: "POST", path: "/api/status", body: "a=b",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST form empty body 415", req: reqSpec{method: "POST", path: "/api/status",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST multipart 415", req: reqSpec{method: "POST", path: "/api/status",
			headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "POST malformed content type 415", req: reqSpec{method: "POST", path: "/api/status",
			headers: map[string]string{"Content-Type": "application/json; ;;"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "DELETE text/plain 415", req: reqSpec{method: "DELETE", path: "/api/orders/1",
			headers: map[string]string{"Content-Type": "text/plain"}}, wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "415 before 404", req: reqSpec{method: "POST", path: "/nope", headers: map[string]string{"Content-Type": "text/plain"}},
			wantStatus: 415, wantCode: web.CodeUnsupportedMediaType},
		{name: "GET text/plain ignored", req: reqSpec{method: "GET", path: "/api/status",
			headers: map[string]string{"Content-Type": "text/plain"}}, wantStatus: 200},

		// Body size.
		{name: "413 by Content-Length", req: reqSpec{method: "POST", path: "/api/status", body: big, headers: jsonCT},
			wantStatus: 413, wantCode: web.CodePayloadTooLarge},
		{name: "413 streamed without length", req: reqSpec{method: "POST", path: "/api/status", body: big, headers: jsonCT, unknownLength: true},
			wantStatus: 413, wantCode: web.CodePayloadTooLarge},

		// Decoding.
		{name: "invalid JSON 400", req: reqSpec{method: "POST", path: "/api/status", body: `{"name":`, headers: jsonCT},
			wantStatus: 400, wantCode: web.CodeInvalidJSON},
		{name: "trailing data 400", req: reqSpec{method: "POST", path: "/api/status", body: `{"name":"a"} {}`, headers: jsonCT},
			wantStatus: 400, wantCode: web.CodeInvalidJSON},
		{name: "invalid UTF-8 400", req: reqSpec{method: "POST", path: "/api/status", body: "{\"name\":\"\xff\xfe\"}", headers: jsonCT},
			wantStatus: 400, wantCode: web.CodeInvalidJSON},
		{name: "wrong type 422 names field", req: reqSpec{method: "POST", path: "/api/status", body: `{"age":"old"}`, headers: jsonCT},
			wantStatus: 422, wantCode: web.CodeValidation, wantFields: map[string]string{"age": "must be an integer"}},
		{name: "wrong nested type 422", req: reqSpec{method: "POST", path: "/api/status", body: `{"nested":{"price":"x"}}`, headers: jsonCT},
			wantStatus: 422, wantCode: web.CodeValidation, wantFields: map[string]string{"nested.price": "must be a number"}},
		{name: "array top level 422", req: reqSpec{method: "POST", path: "/api/status", body: `[1,2]`, headers: jsonCT},
			wantStatus: 422, wantCode: web.CodeValidation, wantFields: map[string]string{"body": "must be a JSON object"}},
		{name: "null top level 422", req: reqSpec{method: "POST", path: "/api/status", body: `null`, headers: jsonCT},
			wantStatus: 422, wantCode: web.CodeValidation, wantFields: map[string]string{"body": "must be a JSON object"}},
		{name: "string top level into map 422", req: reqSpec{method: "POST", path: "/api/map", body: `"x"`, headers: jsonCT},
			wantStatus: 422, wantCode: web.CodeValidation, wantFields: map[string]string{"body": "must be a JSON object"}},
		{name: "unknown fields ignored", req: reqSpec{method: "POST", path: "/api/status", body: `{"zzz":1,"name":"a"}`, headers: jsonCT},
			wantStatus: 200},

		// Error mapping.
		{name: "handler validation error", req: reqSpec{method: "GET", path: "/api/validation"}, wantStatus: 422,
			wantCode: web.CodeValidation, wantFields: map[string]string{"symbol": "is required"}},
		{name: "unknown error 500 generic", req: reqSpec{method: "GET", path: "/api/fail"}, wantStatus: 500,
			wantCode: web.CodeInternal, absent: []string{"INTERNALDETAIL", "hunter2", "mongodb"}},
		{name: "panic 500 generic", req: reqSpec{method: "GET", path: "/api/panic"}, wantStatus: 500,
			wantCode: web.CodeInternal, absent: []string{"PANICDETAIL", "goroutine", "panic"}},
		{name: "deadline exceeded 503 TIMEOUT", req: reqSpec{method: "GET", path: "/api/timeout"}, wantStatus: 503, wantCode: web.CodeTimeout},
		{name: "database sentinel 503", req: reqSpec{method: "GET", path: "/api/db"}, wantStatus: 503, wantCode: web.CodeDatabaseUnavailable},
		{name: "secrets sentinel 503", req: reqSpec{method: "GET", path: "/api/secrets"}, wantStatus: 503, wantCode: web.CodeSecretsUnavailable},
		{name: "price sentinel 503", req: reqSpec{method: "GET", path: "/api/prices"}, wantStatus: 503, wantCode: web.CodePriceStale},
		{name: "classifier maps error", req: reqSpec{method: "GET", path: "/api/classified"}, wantStatus: 503,
			wantCode: web.CodeDatabaseUnavailable, absent: []string{"10.1.2.3", "admin"}},
		{name: "wrapped *Error keeps its status, not its cause", req: reqSpec{method: "GET", path: "/api/wrapped"}, wantStatus: 409,
			wantCode: "IDEMPOTENCY_KEY_REUSED", absent: []string{"CAUSEDETAIL"}},
		{name: "retry after rounded up", req: reqSpec{method: "GET", path: "/api/limited"}, wantStatus: 429,
			wantCode: web.CodeRateLimited, wantHeader: map[string]string{"Retry-After": "2"}},
		{name: "encoding failure 500", req: reqSpec{method: "GET", path: "/api/badjson"}, wantStatus: 500, wantCode: web.CodeInternal},

		// Caching.
		{name: "no-store by default", req: reqSpec{method: "GET", path: "/api/status"}, wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "no-store"}},
		{name: "MarkPublic", req: reqSpec{method: "GET", path: "/api/public"}, wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "public, max-age=30"}},
		{name: "error after MarkPublic is no-store", req: reqSpec{method: "GET", path: "/api/public-fail"}, wantStatus: 503,
			wantCode: web.CodePriceStale, wantHeader: map[string]string{"Cache-Control": "no-store"}},
		{name: "errors are no-store", req: reqSpec{method: "GET", path: "/nope"}, wantStatus: 404,
			wantCode: web.CodeNotFound, wantHeader: map[string]string{"Cache-Control": "no-store"}},
	}

	app := newTestApp(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := app.do(t, tc.req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			checkSecurityHeaders(t, rec.Header(), false)
			for k, v := range tc.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("body reveals %q: %s", s, rec.Body)
				}
			}
			if tc.wantCode == "" {
				if rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
				}
				return
			}
			env := decodeEnvelope(t, rec)
			if env["code"] != tc.wantCode {
				t.Errorf("code = %v, want %s", env["code"], tc.wantCode)
			}
			if tc.wantStatus >= 500 && tc.wantStatus != 503 && env["error"] != "Internal server error" {
				t.Errorf("5xx message = %q", env["error"])
			}
			fields, hasFields := env["fields"].(map[string]any)
			if tc.wantCode == web.CodeValidation && !hasFields {
				t.Errorf("validation error without fields: %v", env)
			}
			if tc.wantCode != web.CodeValidation && hasFields {
				t.Errorf("unexpected fields: %v", env)
			}
			if tc.wantFields != nil {
				if len(fields) != len(tc.wantFields) {
					t.Errorf("fields = %v, want %v", fields, tc.wantFields)
				}
				for k, v := range tc.wantFields {
					if fields[k] != v {
						t.Errorf("fields[%q] = %v, want %q", k, fields[k], v)
					}
					if !strings.Contains(env["error"].(string), k) {
						t.Errorf("message %q does not name field %q", env["error"], k)
					}
				}
			}
		})
	}
}

func TestPanicResetsHandlerHeaders(t *testing.T) {
	app := newTestApp(t, nil)
	rec := app.do(t, reqSpec{method: "GET", path: "/api/panic", headers: map[string]string{"Origin": testOrigin}})
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != testOrigin {
		t.Errorf("CORS headers lost on panic: %v", rec.Header())
	}
	checkSecurityHeaders(t, rec.Header(), false)
	var panicLine map[string]any
	for _, l := range app.logs.lines(t) {
		if l["msg"] == "panic" {
			panicLine = l
		}
	}
	if panicLine == nil {
		t.Fatalf("no panic log line: %s", app.logs)
	}
	if !strings.Contains(panicLine["stack"].(string), "goroutine") || panicLine["request_id"] != rec.Header().Get("X-Request-Id") {
		t.Errorf("panic line lacks stack or request id: %v", panicLine)
	}
}

func TestErrAbortHandlerIsRepanicked(t *testing.T) {
	logs := &syncBuffer{}
	h := web.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }),
		web.Options{Logger: newJSONLogger(logs)})
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
		lines := logs.accessLines(t)
		if len(lines) != 1 || lines[0]["aborted"] != true {
			t.Errorf("access lines = %v", lines)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestLocalModeOmitsHSTS(t *testing.T) {
	app := newTestApp(t, func(o *web.Options) { o.Local = true })
	for _, path := range []string{"/api/status", "/nope", "/api/panic"} {
		rec := app.do(t, reqSpec{method: "GET", path: path})
		checkSecurityHeaders(t, rec.Header(), true)
	}
}

func TestWrapRefusesWildcardOrigin(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Wrap accepted \"*\"")
		}
	}()
	web.Wrap(http.NotFoundHandler(), web.Options{AllowedOrigins: []string{"https://app.example.com", "*"}})
}

func TestCORS(t *testing.T) {
	const other = "https://evil.example.com"
	tests := []struct {
		name       string
		method     string
		path       string
		origin     string
		wantStatus int
		wantCORS   bool
		preflight  bool
	}{
		{"allowed simple", "GET", "/api/status", testOrigin, 200, true, false},
		{"allowed on error", "GET", "/nope", testOrigin, 404, true, false},
		{"disallowed simple", "GET", "/api/status", other, 200, false, false},
		{"no origin", "GET", "/api/status", "", 200, false, false},
		{"allowed preflight", "OPTIONS", "/api/orders/1", testOrigin, 204, true, true},
		{"allowed preflight unknown path", "OPTIONS", "/anything", testOrigin, 204, true, true},
		{"disallowed preflight", "OPTIONS", "/api/status", other, 204, false, true},
		{"preflight without origin", "OPTIONS", "/api/status", "", 204, false, true},
		{"origin case-insensitive", "GET", "/api/status", "HTTP://LOCALHOST:3000", 200, true, false},
		{"port must match", "GET", "/api/status", "http://localhost:3001", 200, false, false},
		{"suffix attack", "GET", "/api/status", testOrigin + ".evil.com", 200, false, false},
	}
	app := newTestApp(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.origin != "" {
				h["Origin"] = tc.origin
			}
			if tc.preflight {
				h["Access-Control-Request-Method"] = "POST"
				h["Access-Control-Request-Headers"] = "content-type,authorization"
			}
			rec := app.do(t, reqSpec{method: tc.method, path: tc.path, headers: h})
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			checkSecurityHeaders(t, rec.Header(), false)
			got := rec.Header()
			if tc.wantCORS {
				want := map[string]string{
					"Access-Control-Allow-Origin":      tc.origin,
					"Access-Control-Allow-Credentials": "true",
					"Access-Control-Expose-Headers":    "X-Request-Id, Retry-After",
				}
				if tc.preflight {
					want["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
					want["Access-Control-Allow-Headers"] = "Content-Type, Authorization, Idempotency-Key, X-Token-Delivery"
					want["Access-Control-Max-Age"] = "600"
				}
				for k, v := range want {
					if got.Get(k) != v {
						t.Errorf("%s = %q, want %q", k, got.Get(k), v)
					}
				}
			} else {
				for k := range got {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("disallowed origin got %s: %q", k, got.Get(k))
					}
				}
			}
			if tc.preflight && rec.Body.Len() != 0 {
				t.Errorf("preflight has a body: %q", rec.Body)
			}
			if n := len(got.Values("Vary")); n != 1 {
				t.Errorf("Vary values = %q, want one", got.Values("Vary"))
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		hook   func(*http.Request) string
		want   string // "" = generated
		client string // X-Request-Id sent by the client, never trusted
	}{
		{name: "from hook", hook: func(*http.Request) string { return "c0ffee-123" }, want: "c0ffee-123"},
		{name: "nil hook generates"},
		{name: "empty hook generates", hook: func(*http.Request) string { return "" }},
		{name: "unsafe hook value generates", hook: func(*http.Request) string { return "a\r\nSet-Cookie: x" }},
		{name: "client header ignored", client: "forged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp(t, func(o *web.Options) { o.RequestID = tc.hook })
			h := map[string]string{}
			if tc.client != "" {
				h["X-Request-Id"] = tc.client
			}
			rec := app.do(t, reqSpec{method: "GET", path: "/nope", headers: h})
			id := rec.Header().Get("X-Request-Id")
			env := decodeEnvelope(t, rec)
			if env["request_id"] != id {
				t.Errorf("body request_id %v != header %q", env["request_id"], id)
			}
			if tc.want != "" {
				if id != tc.want {
					t.Errorf("id = %q, want %q", id, tc.want)
				}
			} else if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Errorf("generated id %q is not 16 bytes of hex", id)
			}
			lines := app.logs.accessLines(t)
			if len(lines) != 1 || lines[0]["request_id"] != id {
				t.Errorf("access log request_id: %v", lines)
			}
		})
	}
	// RequestIDFrom inside the handler sees the same id.
	app := newTestApp(t, nil)
	rec := app.do(t, reqSpec{method: "GET", path: "/api/me"})
	if !strings.Contains(rec.Body.String(), rec.Header().Get("X-Request-Id")) {
		t.Errorf("RequestIDFrom disagrees with header: %s", rec.Body)
	}
	// Two requests get different ids.
	if a, b := app.do(t, reqSpec{method: "GET", path: "/api/status"}), app.do(t, reqSpec{method: "GET", path: "/api/status"}); a.Header().Get("X-Request-Id") == b.Header().Get("X-Request-Id") {
		t.Errorf("ids repeat")
	}
}
