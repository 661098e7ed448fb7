package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// onlyReader hides the concrete reader type so net/http cannot learn the
// length and sends the body chunked.
type onlyReader struct{ io.Reader }

// TestOverRealServer runs the stack behind a real net/http server, where
// bodies arrive chunked and HEAD bodies are dropped.
func TestOverRealServer(t *testing.T) {
	t.Parallel() // the server's 500 ms lingering close after a 413 overlaps other tests
	app := newTestApp(t, nil)
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)

	big := `{"name":"` + strings.Repeat("a", 2*web.MaxBodyBytes) + `"}`
	tests := []struct {
		name        string
		method      string
		path        string
		body        io.Reader
		contentType string
		status      int
		code        string
	}{
		{"chunked over limit", "POST", "/api/status", onlyReader{strings.NewReader(big)}, "application/json", 413, web.CodePayloadTooLarge},
		{"chunked ok", "POST", "/api/status", onlyReader{strings.NewReader(`{"name":"x"}`)}, "application/json", 200, ""},
		{"chunked empty no content type", "POST", "/api/status", onlyReader{strings.NewReader("")}, "", 200, ""},
		{"chunked body no content type", "POST", "/api/status", onlyReader{strings.NewReader("{}")}, "", 415, web.CodeUnsupportedMediaType},
		{"length over limit", "POST", "/api/status", strings.NewReader(big), "application/json", 413, web.CodePayloadTooLarge},
		{"HEAD", "HEAD", "/api/status", nil, "", 200, ""},
		{"405", "PUT", "/api/status", nil, "application/json", 405, web.CodeMethodNotAllowed},
		{"preflight", "OPTIONS", "/api/orders/1", nil, "", 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("Origin", testOrigin)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			checkSecurityHeaders(t, resp.Header, false)
			if resp.Header.Get("Access-Control-Allow-Origin") != testOrigin {
				t.Errorf("no CORS header")
			}
			if tc.code != "" {
				var env map[string]any
				if err := json.Unmarshal(body, &env); err != nil || env["code"] != tc.code || env["request_id"] != resp.Header.Get("X-Request-Id") {
					t.Errorf("envelope %s (%v)", body, err)
				}
			}
		})
	}
}
