package web_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

func ok(w http.ResponseWriter, r *http.Request) error {
	web.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func TestRouterRoutes(t *testing.T) {
	rt := web.NewRouter(web.RouterOptions{})
	for _, p := range []string{"POST /api/status", "GET /health", "GET  /api/status", "DELETE /api/orders/{id}", "GET /api/{$}"} {
		rt.Handle(p, ok)
	}
	want := []string{"DELETE /api/orders/{id}", "GET /api/status", "GET /api/{$}", "GET /health", "POST /api/status"}
	if got := rt.Routes(); !slices.Equal(got, want) {
		t.Errorf("Routes() = %q, want %q", got, want)
	}
}

func TestRouterHandlePanics(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		h       web.HandlerFunc
	}{
		{"no method", "/api/status", ok},
		{"lower-case method", "get /api/status", ok},
		{"method only", "GET", ok},
		{"empty", "", ok},
		{"nil handler", "GET /x", nil},
		{"duplicate", "GET /dup", ok},
		{"invalid pattern", "GET /{x", ok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := web.NewRouter(web.RouterOptions{})
			rt.Handle("GET /dup", ok)
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", tc.pattern)
				}
			}()
			rt.Handle(tc.pattern, tc.h)
		})
	}
}

// TestRouterWithoutWrap checks that the Router alone still answers with the
// envelope (with an empty request id), e.g. when tests mount it directly.
func TestRouterWithoutWrap(t *testing.T) {
	rt := web.NewRouter(web.RouterOptions{})
	rt.Handle("POST /api/status", ok)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/api/status", 200, ""},
		{"GET", "/api/status", 405, "POST"},
		{"GET", "/missing", 404, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.status, tc.allow)
		}
		if tc.status >= 400 && rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, rec.Header().Get("Content-Type"))
		}
	}
}
