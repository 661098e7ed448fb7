package openapicheck

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testSpec(t *testing.T) *spec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var healthRoutes = []string{"GET /api", "GET /api/health", "GET /api/status", "GET /api/{$}", "GET /health", "POST /api/status"}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Request-Id": {"req-1"}}
}

func exchange(method, target string, status int, body string) Exchange {
	return Exchange{Function: "health", Routes: healthRoutes, Method: method, Target: target, Status: status, Header: jsonHeader(), Body: []byte(body)}
}

const envelope404 = `{"error":"Not found","detail":"Not found","code":"NOT_FOUND","request_id":"req-1"}`

func TestValidate(t *testing.T) {
	s := testSpec(t)
	tests := []struct {
		name string
		ex   Exchange
		// want lists "where" of the expected problems, in order; nil means none.
		want []string
	}{
		{"conforming", exchange("GET", "/api/status", 200, `{"status":"ok","timestamp":"2026-11-28T09:15:00Z"}`), nil},
		{"query string ignored", exchange("GET", "/api/status?x=1", 200, `{"status":"ok","timestamp":"2026-11-28T09:15:00Z"}`), nil},
		{"wrong type", exchange("GET", "/api/status", 200, `{"status":"ok","timestamp":5}`), []string{"/timestamp"}},
		{"time without Z", exchange("GET", "/api/status", 200, `{"status":"ok","timestamp":"2026-11-28T09:15:00+01:00"}`), []string{"/timestamp"}},
		{"wrong const", exchange("GET", "/api/status", 200, `{"status":"fine","timestamp":"2026-11-28T09:15:00Z"}`), []string{"/status"}},
		{"missing field", exchange("GET", "/api/status", 200, `{"status":"ok"}`), []string{""}},
		{"extra field", exchange("GET", "/api/status", 200, `{"status":"ok","timestamp":"2026-11-28T09:15:00Z","x":1}`), []string{""}},
		{"undocumented status", exchange("GET", "/api/status", 404, envelope404), []string{"status"}},
		{"not JSON", exchange("GET", "/api/status", 200, `nope`), []string{""}},
		{"/api is the /api/ resource", exchange("GET", "/api", 200, `{"message":"CryptoVault API","status":"operational","version":"dev"}`), nil},
		{"HEAD as GET", exchange("HEAD", "/api/status", 200, ``), nil},
		{"HEAD undocumented status", exchange("HEAD", "/api/status", 404, ``), []string{"status"}},
		{"preflight", exchange("OPTIONS", "/api/status", 204, ``), nil},
		{"preflight with a body", exchange("OPTIONS", "/api/status", 200, `{}`), []string{"status"}},
		{"unknown path 404", exchange("GET", "/api/health/", 404, envelope404), nil},
		{"unknown path served", exchange("GET", "/api/health/", 200, `{}`), []string{"status"}},
		{"unknown path bad envelope", exchange("GET", "/nowhere", 404, `{"error":"x"}`), []string{"", "/code"}},
		{"405 with Allow", func() Exchange {
			ex := exchange("DELETE", "/api/status", 405, `{"error":"Method not allowed","detail":"Method not allowed","code":"METHOD_NOT_ALLOWED","request_id":"r"}`)
			ex.Header.Set("Allow", "GET, HEAD, POST")
			return ex
		}(), nil},
		{"405 without Allow", exchange("DELETE", "/api/status", 405, `{"error":"Method not allowed","detail":"Method not allowed","code":"METHOD_NOT_ALLOWED","request_id":"r"}`), []string{"header Allow"}},
		{"405 wrong code", func() Exchange {
			ex := exchange("DELETE", "/api/status", 405, envelope404)
			ex.Header.Set("Allow", "GET")
			return ex
		}(), []string{"/code"}},
		{"422 without fields", exchange("POST", "/api/status", 422, `{"error":"x","detail":"x","code":"VALIDATION_ERROR","request_id":"r"}`), []string{""}},
		{"422 with fields", exchange("POST", "/api/status", 422, `{"error":"x","detail":"x","code":"VALIDATION_ERROR","request_id":"r","fields":{"body":"must be a JSON object"}}`), nil},
		{"fields on another error", exchange("POST", "/api/status", 415, `{"error":"x","detail":"x","code":"UNSUPPORTED_MEDIA_TYPE","request_id":"r","fields":{}}`), []string{""}},
		{"wrong code for the status", exchange("POST", "/api/status", 415, `{"error":"x","detail":"x","code":"NOT_FOUND","request_id":"r"}`), []string{"/code"}},
		{"missing X-Request-Id", func() Exchange {
			ex := exchange("GET", "/api/status", 200, `{"status":"ok","timestamp":"2026-11-28T09:15:00Z"}`)
			ex.Header.Del("X-Request-Id")
			return ex
		}(), []string{"header X-Request-Id"}},
		{"wrong content type", func() Exchange {
			ex := exchange("GET", "/api/status", 200, `{"status":"ok","timestamp":"2026-11-28T09:15:00Z"}`)
			ex.Header.Set("Content-Type", "text/plain")
			return ex
		}(), []string{"header Content-Type"}},
		{"429 without Retry-After", exchange("GET", "/api/status", 429, `{"error":"x","detail":"x","code":"RATE_LIMITED","request_id":"r"}`), []string{"header Retry-After"}},
		{"stub function", Exchange{Function: "probe", Routes: []string{"GET /api/probe"}, Method: "GET", Target: "/api/probe", Status: 200, Header: jsonHeader(), Body: []byte(`{}`)}, nil},
		{"function without routes", Exchange{Function: "orders", Method: "POST", Target: "/api/orders", Status: 201, Header: jsonHeader(), Body: []byte(`{}`)}, nil},
		{"function serving a route the document lacks", Exchange{Function: "health", Routes: append([]string{"GET /api/extra"}, healthRoutes...),
			Method: "GET", Target: "/api/status", Status: 200, Header: jsonHeader(), Body: []byte(`{"status":"ok","timestamp":"2026-11-28T09:15:00Z"}`)}, []string{"routes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Validate(tt.ex)
			var where []string
			for _, p := range got {
				where = append(where, p.Where)
			}
			if strings.Join(where, "|") != strings.Join(tt.want, "|") {
				t.Errorf("problems at %q, want %q:\n%s", where, tt.want, describe(got))
			}
		})
	}
}

func describe(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\t" + p.String() + "\n")
	}
	return b.String()
}

// TestProblemMessage: a problem names the operation, the status and the JSON pointer.
func TestProblemMessage(t *testing.T) {
	s := testSpec(t)
	ps := s.Validate(Exchange{Function: "auth", Routes: []string{"GET /api/auth/me"}, Method: "GET", Target: "/api/auth/me",
		Status: 200, Header: jsonHeader(), Body: []byte(`{"user":{"id":"u1","email":"a@example.com","name":"Al","createdAt":"2026-11-28T09:15:00Z",` +
			`"created_at":"2026-11-28T09:15:00Z","emailVerified":"yes","twoFactorEnabled":false}}`)})
	if len(ps) != 1 {
		t.Fatalf("problems: %s", describe(ps))
	}
	msg := ps[0].String()
	for _, want := range []string{"GET /api/auth/me (getMe)", "→ 200", "body at /user/emailVerified", "boolean"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

// TestCSVExport: a non-JSON 2xx is validated by its own media type.
func TestCSVExport(t *testing.T) {
	s := testSpec(t)
	h := http.Header{"Content-Type": {"text/csv; charset=utf-8"}, "X-Request-Id": {"r"}}
	ps := s.Validate(Exchange{Function: "audit", Routes: []string{"GET /api/audit-logs/export"}, Method: "GET",
		Target: "/api/audit-logs/export?format=csv", Status: 200, Header: h, Body: []byte("id,action\n1,USER_LOGIN\n")})
	if len(ps) != 0 {
		t.Errorf("problems: %s", describe(ps))
	}
}

// TestDeviationsAreNarrow: every known deviation names an operation and a status the document
// has, and matches only its own place.
func TestDeviationsAreNarrow(t *testing.T) {
	s := testSpec(t)
	ops := map[string]map[int]bool{}
	for _, item := range s.doc.Paths.Map() {
		for _, op := range item.Operations() {
			ops[op.OperationID] = map[int]bool{}
			for code := range op.Responses.Map() {
				n, _ := strconv.Atoi(code)
				ops[op.OperationID][n] = true
			}
		}
	}
	for _, d := range Deviations {
		statuses, ok := ops[d.OperationID]
		if !ok {
			t.Errorf("deviation %+v: no operation %q", d, d.OperationID)
		}
		if !statuses[d.Status] && d.Where != "status" {
			t.Errorf("deviation %+v: %s does not document %d", d, d.OperationID, d.Status)
		}
		if d.Why == "" {
			t.Errorf("deviation %+v: no reason", d)
		}
	}
	p := Problem{OperationID: "getHealth", Status: 200, Where: "/checks/prices/status"}
	if _, ok := knownDeviation(p); !ok {
		t.Errorf("%+v should match a deviation", p)
	}
	for _, other := range []Problem{
		{OperationID: "getHealth", Status: 200, Where: "/checks/pricesx"},
		{OperationID: "getHealth", Status: 200, Where: "/checks/database/status"},
		{OperationID: "getStatus", Status: 200, Where: "/checks/prices/status"},
	} {
		if _, ok := knownDeviation(other); ok {
			t.Errorf("%+v matches a deviation", other)
		}
	}
}

// TestRepoRoot: the root found from this package's directory holds go.mod and the document.
func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs("../../.."); root != want {
		t.Errorf("RepoRoot = %s, want %s", root, want)
	}
	if _, err := Load(filepath.Join(root, SpecFile)); err != nil {
		t.Fatal(err)
	}
}
