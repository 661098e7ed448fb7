package samtemplate_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/cryptovault/serverless/shared/samtemplate"
)

func TestRoutePattern(t *testing.T) {
	tests := []struct {
		route    samtemplate.Route
		pattern  string
		patterns []string
	}{
		{samtemplate.Route{Method: "GET", Path: "/health"}, "GET /health",
			[]string{"GET /health", "GET /health/{$}"}},
		{samtemplate.Route{Method: "GET", Path: "/api"}, "GET /api",
			[]string{"GET /api", "GET /api/{$}"}},
		{samtemplate.Route{Method: "GET", Path: "/api/crypto/{symbol}"}, "GET /api/crypto/{symbol}",
			[]string{"GET /api/crypto/{symbol}", "GET /api/crypto/{symbol}/{$}"}},
		{samtemplate.Route{Method: "POST", Path: "/api/orders/{id}/cancel"}, "POST /api/orders/{id}/cancel",
			[]string{"POST /api/orders/{id}/cancel", "POST /api/orders/{id}/cancel/{$}"}},
		{samtemplate.Route{Method: "OPTIONS", Path: "/api/status"}, "OPTIONS /api/status",
			[]string{"OPTIONS /api/status", "OPTIONS /api/status/{$}"}},
		{samtemplate.Route{Method: "ANY", Path: "/files/{proxy+}"}, "/files/{proxy...}",
			[]string{"/files/{proxy...}"}},
		{samtemplate.Route{Method: "GET", Path: "/"}, "GET /{$}", []string{"GET /{$}"}},
	}
	for _, tt := range tests {
		t.Run(tt.route.String(), func(t *testing.T) {
			if got := tt.route.Pattern(); got != tt.pattern {
				t.Errorf("Pattern() = %q, want %q", got, tt.pattern)
			}
			if got := tt.route.Patterns(); !reflect.DeepEqual(got, tt.patterns) {
				t.Errorf("Patterns() = %q, want %q", got, tt.patterns)
			}
		})
	}
}

// The patterns behave in a ServeMux the way the stage routes: /api and /api/
// reach the API root, nothing below it does.
func TestPatternsInServeMux(t *testing.T) {
	mux := http.NewServeMux()
	for _, r := range []samtemplate.Route{
		{Method: "GET", Path: "/api"},
		{Method: "GET", Path: "/api/crypto/{symbol}"},
		{Method: "GET", Path: "/api/crypto/{symbol}/history"},
	} {
		for _, p := range r.Patterns() {
			mux.HandleFunc(p, func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("X-Route", r.String())
				w.Header().Set("X-Symbol", req.PathValue("symbol"))
			})
		}
	}
	tests := []struct {
		method, path, route, symbol string
		status                      int
	}{
		{"GET", "/api", "GET /api", "", 200},
		{"GET", "/api/", "GET /api", "", 200},
		{"GET", "/api/other", "", "", 404},
		{"POST", "/api", "", "", 405},
		{"GET", "/api/crypto/BTC", "GET /api/crypto/{symbol}", "BTC", 200},
		{"GET", "/api/crypto/BTC/", "GET /api/crypto/{symbol}", "BTC", 200},
		{"GET", "/api/crypto/BTC/history", "GET /api/crypto/{symbol}/history", "BTC", 200},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || rec.Header().Get("X-Route") != tt.route || rec.Header().Get("X-Symbol") != tt.symbol {
			t.Errorf("%s %s: status %d route %q symbol %q; want %d %q %q", tt.method, tt.path,
				rec.Code, rec.Header().Get("X-Route"), rec.Header().Get("X-Symbol"), tt.status, tt.route, tt.symbol)
		}
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		path, request string
		params        map[string]string
		ok            bool
	}{
		{"/api", "/api", map[string]string{}, true},
		{"/api", "/api/", map[string]string{}, true},
		{"/api", "/api/x", nil, false},
		{"/api", "/apix", nil, false},
		{"/api", "/API", nil, false},
		{"/", "/", map[string]string{}, true},
		{"/", "", map[string]string{}, true},
		{"/", "/api", nil, false},
		{"/api/crypto/{symbol}", "/api/crypto/btc", map[string]string{"symbol": "btc"}, true},
		{"/api/crypto/{symbol}", "/api/crypto/btc/", map[string]string{"symbol": "btc"}, true},
		{"/api/crypto/{symbol}", "/api/crypto", nil, false},
		{"/api/crypto/{symbol}", "/api/crypto//", nil, false},
		{"/api/crypto/{symbol}/history", "/api/crypto/ETH/history", map[string]string{"symbol": "ETH"}, true},
		{"/files/{proxy+}", "/files/a/b/c", map[string]string{"proxy": "a/b/c"}, true},
		{"/files/{proxy+}", "/files/a", map[string]string{"proxy": "a"}, true},
		{"/files/{proxy+}", "/files", nil, false},
	}
	for _, tt := range tests {
		params, ok := samtemplate.Route{Method: "GET", Path: tt.path}.MatchPath(tt.request)
		if ok != tt.ok || (ok && !reflect.DeepEqual(params, tt.params)) {
			t.Errorf("%s ~ %q: %v %v, want %v %v", tt.path, tt.request, params, ok, tt.params, tt.ok)
		}
	}
}

func TestResolve(t *testing.T) {
	routes := []samtemplate.Route{
		{Method: "GET", Path: "/api/audit-logs"},
		{Method: "GET", Path: "/api/audit-logs/{id}"},
		{Method: "GET", Path: "/api/audit-logs/summary"},
		{Method: "OPTIONS", Path: "/api/audit-logs/summary"},
		{Method: "POST", Path: "/api/orders/{id}/cancel"},
		{Method: "OPTIONS", Path: "/api/orders/{id}/cancel"},
		{Method: "GET", Path: "/api/orders/{id}"},
		{Method: "ANY", Path: "/files/{proxy+}"},
		{Method: "GET", Path: "/files/index"},
	}
	tests := []struct {
		method, path string
		route        samtemplate.Route
		params       map[string]string
		allowed      []string
		ok           bool
	}{
		{"GET", "/api/audit-logs/summary", routes[2], map[string]string{}, nil, true},
		{"GET", "/api/audit-logs/abc123", routes[1], map[string]string{"id": "abc123"}, nil, true},
		{"get", "/api/audit-logs/", routes[0], map[string]string{}, nil, true},
		// The literal resource wins even without the method: no fallback to {id}.
		{"POST", "/api/audit-logs/summary", samtemplate.Route{}, nil, []string{"GET", "OPTIONS"}, false},
		{"POST", "/api/orders/o1/cancel", routes[4], map[string]string{"id": "o1"}, nil, true},
		{"DELETE", "/api/orders/o1/cancel", samtemplate.Route{}, nil, []string{"OPTIONS", "POST"}, false},
		{"GET", "/files/index", routes[8], map[string]string{}, nil, true},
		{"PUT", "/files/a/b", routes[7], map[string]string{"proxy": "a/b"}, nil, true},
		{"GET", "/nowhere", samtemplate.Route{}, nil, nil, false},
	}
	for _, tt := range tests {
		route, params, allowed, ok := samtemplate.Resolve(routes, tt.method, tt.path)
		if route != tt.route || ok != tt.ok || !reflect.DeepEqual(allowed, tt.allowed) ||
			(ok && !reflect.DeepEqual(params, tt.params)) {
			t.Errorf("%s %s: %v %v %v %v; want %v %v %v %v", tt.method, tt.path,
				route, params, allowed, ok, tt.route, tt.params, tt.allowed, tt.ok)
		}
	}
}
