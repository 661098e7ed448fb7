package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// newTestGateway serves the real template.yaml's functions on an embedded database.
func newTestGateway(t *testing.T) *httptest.Server {
	t.Helper()
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	gw, err := newGateway(tpl, env.Deps, env.Deps.Logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

func TestGatewayRoutes(t *testing.T) {
	srv := newTestGateway(t)
	tests := []struct {
		method, path, contentType, body string
		status                          int
		code, allow                     string
	}{
		{"GET", "/health", "", "", 200, "", ""},
		{"GET", "/api/health", "application/json", "", 200, "", ""},
		{"GET", "/api/", "", "", 200, "", ""},
		{"GET", "/api", "", "", 200, "", ""},
		{"GET", "/api/status", "", "", 200, "", ""},
		{"POST", "/api/status", "application/json", `{"x":1}`, 200, "", ""},
		{"POST", "/api/status", "application/json", `[]`, 422, "VALIDATION_ERROR", ""},
		{"POST", "/api/status", "text/plain", `{}`, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"DELETE", "/api/status", "", "", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
		{"GET", "/api/unknown", "", "", 404, "NOT_FOUND", ""},
		{"GET", "/nothing/here", "", "", 404, "NOT_FOUND", ""},
		{"POST", "/api/unknown", "text/plain", "x", 404, "NOT_FOUND", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Origin", testenv.Origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body is not a JSON object: %s", raw)
			}
			if tt.code != "" && (body["code"] != tt.code || body["error"] == nil || body["request_id"] == nil) {
				t.Errorf("envelope %v, want code %s", body, tt.code)
			}
			if resp.Header.Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", resp.Header.Get("Allow"), tt.allow)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != testenv.Origin || resp.Header.Get("X-Request-Id") == "" ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
}

// TestGatewayRequestIDReachesFunction: the id in the event is the one the client sees.
func TestGatewayRequestIDReachesFunction(t *testing.T) {
	srv := newTestGateway(t)
	resp, err := http.Get(srv.URL + "/api/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if id := resp.Header.Get("X-Request-Id"); id == "" || body["request_id"] != id {
		t.Errorf("header id %q, body id %v", id, body["request_id"])
	}
}

func TestGatewayPreflight(t *testing.T) {
	srv := newTestGateway(t)
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/api/status", nil)
	req.Header.Set("Origin", testenv.Origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != testenv.Origin {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestGatewayRefusesTemplateCodeMismatch: a template route the code does not serve stops the
// server at start instead of 404ing at run time.
func TestGatewayRefusesTemplateCodeMismatch(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(raw), "Path: /api/status", "Path: /api/statuz", 1)
	if broken == string(raw) {
		t.Fatal("template has no 'Path: /api/status' line to break")
	}
	tpl, err := samtemplate.Parse([]byte(broken))
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	if _, err := newGateway(tpl, env.Deps, env.Deps.Logger); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("newGateway with a mismatched template: err = %v", err)
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		expr string
		ok   bool
		want string
	}{
		{"rate(1 minute)", true, "1m0s"},
		{"rate(5 minutes)", true, "5m0s"},
		{"rate(2 hours)", true, "2h0m0s"},
		{"rate(1 day)", true, "24h0m0s"},
		{"rate(0 minutes)", false, ""},
		{"cron(0 12 * * ? *)", false, ""},
		{"rate(1 fortnight)", false, ""},
	}
	for _, tt := range tests {
		d, err := parseRate(tt.expr)
		if (err == nil) != tt.ok || (tt.ok && d.String() != tt.want) {
			t.Errorf("parseRate(%q) = %v, %v", tt.expr, d, err)
		}
	}
}

func TestLocalJWTSecretIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-key.json")
	first, err := localJWTSecret(path)
	if err != nil || len(first) < 32 {
		t.Fatalf("first = %d bytes, %v", len(first), err)
	}
	second, err := localJWTSecret(path)
	if err != nil || second != first {
		t.Fatalf("second read differs or failed: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if err := os.WriteFile(path, []byte(`{"kid":"x","secret":"tooshortsecretvalue"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localJWTSecret(path); err == nil || strings.Contains(err.Error(), "tooshortsecretvalue") {
		t.Errorf("corrupt key file: err = %v (must fail without quoting the secret)", err)
	}
}

func TestParseFlags(t *testing.T) {
	f, err := parseFlags([]string{"-addr", "127.0.0.1:9999", "-data", "/tmp/x", "-reset"}, io.Discard)
	if err != nil || f.addr != "127.0.0.1:9999" || f.data != "/tmp/x" || !f.reset || f.template != "template.yaml" {
		t.Errorf("parseFlags = %+v, %v", f, err)
	}
	for _, bad := range [][]string{{"-nope"}, {"extra"}, {"-addr"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) succeeded", bad)
		}
	}
}
