package transactions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/transactions"
)

// harness is the transactions function on a money test environment (moneyenv), wired as New
// wires it but with the real guard on the environment's clock, and a hook between a committed
// movement and the rest of the request.
type harness struct {
	*moneyenv.Env
	t  *testing.T
	fn *lambdahttp.Function
	// afterApply, when set, runs after each committed movement (see NewFunctionWithHook).
	afterApply atomic.Pointer[func() error]
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{Env: moneyenv.New(t), t: t}
	h.fn = transactions.NewFunctionWithHook(h.Deps, h.Guard.Require, h.Clock.Now, func() error {
		if f := h.afterApply.Load(); f != nil {
			return (*f)()
		}
		return nil
	})
	app.EnsureIndexes(testCtx(t), h.Deps, h.fn.Indexes)
	return h
}

// testCtx bounds a test's direct database calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// user is a test user with an open account.
type user struct {
	h  *harness
	id string
}

// newUser opens id's account with moneyenv.StartCash, as signup does.
func (h *harness) newUser(id string) *user {
	h.t.Helper()
	h.OpenAccount(id)
	return &user{h: h, id: id}
}

// do sends a request as the user (see moneyenv.Env.Header).
func (u *user) do(method, path, body, key string) testenv.Response {
	u.h.t.Helper()
	resource := ""
	if rest, ok := strings.CutPrefix(strings.SplitN(path, "?", 2)[0], "/api/transactions/"); ok && rest != "stats/overview" {
		resource = "/api/transactions/{id}"
	}
	return testenv.Do(u.h.t, u.h.fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: u.h.Header(u.id, key), Body: body})
}

// post is POST /api/transactions.
func (u *user) post(body, key string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodPost, "/api/transactions", body, key)
}

func (u *user) get(path string) testenv.Response {
	u.h.t.Helper()
	return u.do(http.MethodGet, path, "", "")
}

// movement is a POST body.
func movement(typ, amount string) string {
	return fmt.Sprintf(`{"type":%q,"amount":%s}`, typ, amount)
}

// txOf returns the "transaction" object of a 201 or a GET.
func txOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	tx, ok := body["transaction"].(map[string]any)
	if !ok {
		t.Fatalf("no transaction in %v", body)
	}
	return tx
}

// countType counts userID's entries of type typ.
func (h *harness) countType(userID, typ string) int {
	h.t.Helper()
	n := 0
	for _, e := range h.Entries(userID) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// assertInvariant checks userID's ledger (moneyenv.Env.AssertLedger) and that all of the cash is
// available: this function reserves nothing.
func (h *harness) assertInvariant(userID string) {
	h.t.Helper()
	if acc := h.AssertLedger(userID).Account; acc.CashAvailable != acc.Cash {
		h.t.Errorf("%s: cash %d, available %d: nothing is reserved here", userID, acc.Cash, acc.CashAvailable)
	}
}

// decimal renders a JSON number field for comparisons ("12.50" stays "12.50").
func decimal(t *testing.T, raw []byte, path ...string) string {
	t.Helper()
	var v any = json.RawMessage(raw)
	for _, p := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v.(json.RawMessage), &m); err != nil {
			t.Fatalf("%s: not an object at %q", raw, p)
		}
		v = m[p]
	}
	return string(v.(json.RawMessage))
}

// testenvDo posts body as u with an explicit Content-Type.
func testenvDo(h *harness, u *user, contentType, body string) testenv.Response {
	h.t.Helper()
	header := h.Header(u.id, "")
	header.Set("Content-Type", contentType)
	return testenv.Do(h.t, h.fn, testenv.Request{Method: http.MethodPost, Path: "/api/transactions", Header: header, Body: body})
}
