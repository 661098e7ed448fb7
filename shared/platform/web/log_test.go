package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/web"
)

func TestAccessLog(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name      string
		req       reqSpec
		wantRoute string
		wantCode  string
		wantUser  string
		wantLevel string
		status    float64
	}{
		{"matched route", reqSpec{method: "GET", path: "/api/status"}, "GET /api/status", "", "", "INFO", 200},
		{"path pattern not raw path", reqSpec{method: "DELETE", path: "/api/orders/xyz?token=QUERYSECRET"}, "DELETE /api/orders/{id}", "", "", "INFO", 200},
		{"user id", reqSpec{method: "GET", path: "/api/me"}, "GET /api/me", "", "user-42", "INFO", 200},
		{"404", reqSpec{method: "GET", path: "/nope"}, "", web.CodeNotFound, "", "INFO", 404},
		{"validation", reqSpec{method: "POST", path: "/api/status", body: `{"age":"x"}`, headers: jsonCT}, "POST /api/status", web.CodeValidation, "", "INFO", 422},
		{"415 from middleware", reqSpec{method: "POST", path: "/api/status", body: "a", headers: map[string]string{"Content-Type": "text/plain"}}, "", web.CodeUnsupportedMediaType, "", "INFO", 415},
		{"preflight", reqSpec{method: "OPTIONS", path: "/api/status", headers: map[string]string{"Origin": testOrigin}}, "", "", "", "INFO", 204},
		{"500 at error level", reqSpec{method: "GET", path: "/api/fail"}, "GET /api/fail", web.CodeInternal, "", "ERROR", 500},
		{"panic at error level", reqSpec{method: "GET", path: "/api/panic"}, "GET /api/panic", web.CodeInternal, "", "ERROR", 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
			app := newTestApp(t, func(o *web.Options) {
				o.Now = func() time.Time { now = now.Add(1500 * time.Microsecond); return now }
			})
			rec := app.do(t, tc.req)
			lines := app.logs.accessLines(t)
			if len(lines) != 1 {
				t.Fatalf("want exactly one access line, got %d: %s", len(lines), app.logs)
			}
			l := lines[0]
			want := map[string]any{
				"request_id": rec.Header().Get("X-Request-Id"),
				"function":   "test",
				"method":     tc.req.method,
				"route":      tc.wantRoute,
				"status":     tc.status,
				"latency_ms": 1.5,
				"user_id":    tc.wantUser,
				"error_code": tc.wantCode,
				"level":      tc.wantLevel,
			}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("%s = %v (%T), want %v", k, l[k], l[k], v)
				}
			}
			if strings.Contains(app.logs.String(), "QUERYSECRET") {
				t.Errorf("query string logged: %s", app.logs)
			}
		})
	}
}

// TestLogsNoSecrets sends credentials in every place a request can carry
// them and checks that none reaches any log line, on success and on failure.
func TestLogsNoSecrets(t *testing.T) {
	secrets := []string{"SECRETTOKEN", "COOKIESECRET", "hunter2pass", "QUERYTOKEN"}
	for _, path := range []string{"/api/status", "/api/map"} {
		for _, body := range []string{`{"name":"a","password":"hunter2pass"}`, `{"password":"hunter2pass","age":"x"}`, `{"password":"hunter2pass",`} {
			app := newTestApp(t, nil)
			rec := app.do(t, reqSpec{method: "POST", path: path + "?token=QUERYTOKEN", body: body, headers: map[string]string{
				"Content-Type":  "application/json",
				"Authorization": "Bearer SECRETTOKEN",
				"Cookie":        "access_token=COOKIESECRET",
			}})
			out := app.logs.String()
			if len(app.logs.accessLines(t)) != 1 {
				t.Fatalf("no access line: %s", out)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s %s (status %d): log contains %q: %s", path, body, rec.Code, s, out)
				}
			}
		}
	}
}

func TestErrorLogCarriesCauseAndRequestID(t *testing.T) {
	app := newTestApp(t, nil)
	rec := app.do(t, reqSpec{method: "GET", path: "/api/fail"})
	id := rec.Header().Get("X-Request-Id")
	var found bool
	for _, l := range app.logs.lines(t) {
		if l["msg"] == "request error" {
			found = true
			if l["level"] != "ERROR" || l["request_id"] != id || !strings.Contains(l["error"].(string), "INTERNALDETAIL") {
				t.Errorf("error line = %v", l)
			}
		}
	}
	if !found {
		t.Fatalf("cause not logged: %s", app.logs)
	}
	if strings.Contains(rec.Body.String(), "INTERNALDETAIL") {
		t.Errorf("cause sent to client")
	}
}

func TestAccessLogWithPlainServeMux(t *testing.T) {
	// A handler that is not a Router still gets its route logged through
	// Request.Pattern.
	logs := &syncBuffer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /plain/{x}", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{})
	})
	h := web.Wrap(mux, web.Options{Function: "plain", Logger: newJSONLogger(logs)})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/plain/1", nil))
	lines := logs.accessLines(t)
	if len(lines) != 1 || lines[0]["route"] != "GET /plain/{x}" {
		t.Errorf("lines = %v", lines)
	}
}
