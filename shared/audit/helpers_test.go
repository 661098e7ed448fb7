package audit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// userHeader names the user a test request acts as.
const userHeader = "X-Test-User"

// requireTestUser stands in for auth.Guard.Require, which has its own tests: it trusts
// X-Test-User so these tests can act as any user, and answers 401 like the guard without it.
func requireTestUser(next web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.Header.Get(userHeader)
		if id == "" {
			return web.NewError(http.StatusUnauthorized, "UNAUTHENTICATED", "Authentication required")
		}
		return next(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{UserID: id, SessionID: "s-" + id})))
	}
}

// passThrough is a guard that lets every request through without a principal.
func passThrough(next web.HandlerFunc) web.HandlerFunc { return next }

// harness is the audit function on a fresh embedded database, with a Writer whose clock the test
// sets, so entries can be dated in the past.
type harness struct {
	t      *testing.T
	db     *devdb.Server
	env    *testenv.Env
	fn     *lambdahttp.Function
	writer *audit.Writer
	clock  time.Time // the Writer's now; zero means time.Now
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	fn, err := audit.NewFunction(env.Deps, requireTestUser)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, env: env, fn: fn}
	h.writer = audit.NewWriter(env.Deps.Mongo.Database, env.Deps.Logger, func() time.Time {
		if h.clock.IsZero() {
			return time.Now()
		}
		return h.clock
	})
	return h
}

// withExportLimit rebuilds the function with a lower export cap.
func (h *harness) withExportLimit(n int) {
	s := audit.NewService(h.env.Deps.Mongo.Database, audit.Options{ExportLimit: n})
	h.fn = audit.NewFunctionWithService(h.env.Deps, s, requireTestUser)
}

// record writes an entry for user dated at, through the real Writer.
func (h *harness) record(user, action string, at time.Time) {
	h.t.Helper()
	h.recordEvent(audit.Event{UserID: user, Action: action, Resource: "test", Details: map[string]any{"n": 1}}, at)
}

func (h *harness) recordEvent(e audit.Event, at time.Time) {
	h.t.Helper()
	h.clock = at
	defer func() { h.clock = time.Time{} }()
	before := h.count()
	r, _ := http.NewRequest(http.MethodPost, "/api/anything", nil)
	r.RemoteAddr = "198.51.100.7:50000"
	r.Header.Set("User-Agent", "audit-test/1.0")
	h.writer.Record(r, e)
	if h.count() != before+1 {
		h.t.Fatalf("Record(%+v) wrote nothing; logs:\n%s", e, h.env.Logs.String())
	}
}

func (h *harness) collection() *mongo.Collection {
	h.t.Helper()
	d, err := h.env.Deps.Mongo.Database(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return d.Collection(audit.Collection)
}

func (h *harness) count() int64 {
	h.t.Helper()
	n, err := h.collection().CountDocuments(context.Background(), map[string]any{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// get sends GET path as user ("" = anonymous) through API Gateway's event and the Lambda adapter.
func (h *harness) get(user, path string) testenv.Response {
	h.t.Helper()
	hdr := testenv.JSONHeader()
	if user != "" {
		hdr.Set(userHeader, user)
	}
	return testenv.Do(h.t, h.fn, testenv.Request{Method: http.MethodGet, Path: path, Header: hdr})
}

// logJSON is the API's log object as a client decodes it.
type logJSON struct {
	ID             string         `json:"id"`
	Action         string         `json:"action"`
	Resource       string         `json:"resource"`
	Status         string         `json:"status"`
	IPAddress      string         `json:"ip_address"`
	UserAgent      string         `json:"user_agent"`
	Details        map[string]any `json:"details"`
	CreatedAt      string         `json:"created_at"`
	CreatedAtCamel string         `json:"createdAt"`
}

type listJSON struct {
	Logs   []logJSON `json:"logs"`
	Total  *int      `json:"total"`
	Limit  *int      `json:"limit"`
	Offset *int      `json:"offset"`
}

// decode unmarshals a 200 body into v.
func decode(t *testing.T, r testenv.Response, v any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body: %v\n%s", err, r.Body)
	}
}

func actions(logs []logJSON) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = l.Action
	}
	return out
}

// checkError asserts an error response: status, envelope and, for 422, the fields named.
func checkError(t *testing.T, r testenv.Response, status int, code string, fields ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	body := r.JSON(t)
	msg, _ := body["error"].(string)
	if body["code"] != code || msg == "" || body["detail"] != msg || body["request_id"] == "" {
		t.Errorf("envelope %v, want code %s", body, code)
	}
	got, _ := body["fields"].(map[string]any)
	for _, f := range fields {
		if got[f] == nil {
			t.Errorf("fields %v lack %q", got, f)
		}
	}
	if len(got) != len(fields) {
		t.Errorf("fields %v, want exactly %v", got, fields)
	}
}

// checkTime asserts an RFC 3339 UTC "Z" time.
func checkTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Errorf("time %q is not RFC 3339 UTC with Z", s)
	}
	return ts
}
