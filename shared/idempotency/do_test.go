package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// doHarness is a function with two routes whose handlers run a counting operation under Do,
// served through the platform middleware and the Lambda adapter.
type doHarness struct {
	t    *testing.T
	fn   *lambdahttp.Function
	runs atomic.Int64
}

func newDoHarness(t *testing.T) *doHarness {
	t.Helper()
	srv := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, srv.URI(), nil), app.Options{})
	d := env.Deps
	store := idempotency.NewStore(d.Mongo.Database, fakeclock.New(clockBase).Now)
	h := &doHarness{t: t}
	handler := func(route string) web.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			var req struct {
				Outcome string `json:"outcome"`
			}
			if err := web.DecodeJSON(r, &req); err != nil {
				return err
			}
			return store.Do(w, r, "u1", route, req.Outcome, func(ctx context.Context, c *idempotency.Claim) (int, any, error) {
				n := h.runs.Add(1)
				switch req.Outcome {
				case "funds":
					return 0, nil, web.NewError(http.StatusUnprocessableEntity, "INSUFFICIENT_FUNDS", "Insufficient funds")
				case "fail":
					return 0, nil, errors.New("boom: internal detail")
				}
				return http.StatusCreated, map[string]any{"run": n, "token": c.Token()}, nil
			})
		}
	}
	rt := d.Router()
	rt.Handle("POST /api/things", handler("POST /api/things"))
	rt.Handle("POST /api/other", handler("POST /api/other"))
	h.fn = &lambdahttp.Function{Name: "things", HTTP: d.HTTP("things", rt), Routes: rt.Routes()}
	return h
}

func (h *doHarness) post(path, key, body string) testenv.Response {
	h.t.Helper()
	header := testenv.JSONHeader()
	if key != "-" {
		header.Set(idempotency.HeaderName, key)
	}
	return testenv.Do(h.t, h.fn, testenv.Request{Method: http.MethodPost, Path: path, Header: header, Body: body})
}

// TestDo drives Do through a real function, step by step: each step's status, code, whether the
// operation ran, and whether the body is byte-identical to an earlier step's (a replay).
func TestDo(t *testing.T) {
	h := newDoHarness(t)
	steps := []struct {
		name      string
		path, key string // key "-" = no header
		body      string
		status    int
		code      string
		ran       bool
		sameAs    int // 1-based step whose body this one repeats; 0 = none
		replayed  bool
	}{
		{name: "no key", path: "/api/things", key: "-", body: `{"outcome":"ok"}`, status: 201, ran: true},
		{name: "no key again runs again", path: "/api/things", key: "-", body: `{"outcome":"ok"}`, status: 201, ran: true},
		{name: "first with key", path: "/api/things", key: "a", body: `{"outcome":"ok"}`, status: 201, ran: true},
		{name: "retry replays", path: "/api/things", key: "a", body: `{"outcome":"ok"}`, status: 201, sameAs: 3, replayed: true},
		{name: "other body", path: "/api/things", key: "a", body: `{"outcome":"funds"}`, status: 409, code: idempotency.CodeKeyReused},
		{name: "other route", path: "/api/other", key: "a", body: `{"outcome":"ok"}`, status: 409, code: idempotency.CodeKeyReused},
		{name: "4xx outcome", path: "/api/things", key: "b", body: `{"outcome":"funds"}`, status: 422, code: "INSUFFICIENT_FUNDS", ran: true},
		{name: "4xx replayed", path: "/api/things", key: "b", body: `{"outcome":"funds"}`, status: 422, code: "INSUFFICIENT_FUNDS", sameAs: 7, replayed: true},
		{name: "5xx", path: "/api/things", key: "c", body: `{"outcome":"fail"}`, status: 500, code: web.CodeInternal, ran: true},
		{name: "5xx not stored", path: "/api/things", key: "c", body: `{"outcome":"fail"}`, status: 500, code: web.CodeInternal, ran: true},
		{name: "empty key", path: "/api/things", key: "", body: `{"outcome":"ok"}`, status: 422, code: web.CodeValidation},
		{name: "key too long", path: "/api/things", key: strings.Repeat("k", 129), body: `{"outcome":"ok"}`, status: 422, code: web.CodeValidation},
	}
	bodies := make([][]byte, len(steps))
	for i, s := range steps {
		before := h.runs.Load()
		r := h.post(s.path, s.key, s.body)
		bodies[i] = r.Body
		m := r.JSON(t)
		if r.Status != s.status || (s.code != "" && m["code"] != s.code) {
			t.Fatalf("step %d %q: %d %s; want %d %s", i+1, s.name, r.Status, r.Body, s.status, s.code)
		}
		if ran := h.runs.Load() != before; ran != s.ran {
			t.Fatalf("step %d %q: operation ran %v, want %v", i+1, s.name, ran, s.ran)
		}
		if s.sameAs > 0 && !bytes.Equal(r.Body, bodies[s.sameAs-1]) {
			t.Fatalf("step %d %q: body %s, want the body of step %d %s", i+1, s.name, r.Body, s.sameAs, bodies[s.sameAs-1])
		}
		if got := r.Header.Get(idempotency.ReplayedHeader) == "true"; got != s.replayed {
			t.Fatalf("step %d %q: replayed header %v, want %v", i+1, s.name, got, s.replayed)
		}
		if s.code == web.CodeValidation {
			if f, _ := m["fields"].(map[string]any); f[idempotency.HeaderName] == nil {
				t.Fatalf("step %d %q: no field %s in %s", i+1, s.name, idempotency.HeaderName, r.Body)
			}
		}
		if r.Status >= 500 && strings.Contains(string(r.Body), "boom") {
			t.Fatalf("step %d %q: a 5xx leaks its cause: %s", i+1, s.name, r.Body)
		}
		if r.Header.Get("X-Request-Id") == "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("step %d %q: platform headers missing: %v", i+1, s.name, r.Header)
		}
	}
}
