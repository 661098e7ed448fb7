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

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/transactions"
)

// startCash is every test user's opening balance: 10000.00, the default STARTING_CASH_USD.
const startCash money.USD = 1_000_000

var clockBase = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// harness is the transactions function on a fresh embedded database, wired as New wires it but
// with the real guard on an injected clock, and a hook between a committed movement and the rest
// of the request.
type harness struct {
	t      *testing.T
	srv    *devdb.Server
	env    *testenv.Env
	clock  *fakeclock.Clock
	fn     *lambdahttp.Function
	ledger *ledger.Ledger
	tokens *auth.Tokens
	db     *mongo.Database
	// afterApply, when set, runs after each committed movement (see NewFunctionWithHook).
	afterApply atomic.Pointer[func() error]
	commands   cmdlog.Log
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, srv: testenv.DB(t), clock: fakeclock.New(clockBase)}
	cfg := testenv.Config(t, h.srv.URI(), nil)
	h.env = testenv.NewDeps(t, cfg, app.Options{Monitor: h.commands.Monitor()})
	d := h.env.Deps

	h.tokens = auth.NewTokens(auth.TokensOptions{Keys: d.Keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Now: h.clock.Now})
	revocations := auth.NewRevocations(auth.RevocationsOptions{DB: d.Mongo.Database, Logger: d.Logger, Now: h.clock.Now})
	guard := auth.NewGuard(h.tokens, revocations)
	h.fn = transactions.NewFunctionWithHook(d, guard.Require, h.clock.Now, func() error {
		if f := h.afterApply.Load(); f != nil {
			return (*f)()
		}
		return nil
	})
	h.ledger = ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger, Now: h.clock.Now})
	ctx := testCtx(t)
	app.EnsureIndexes(ctx, d, h.fn.Indexes)
	db, err := d.Mongo.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
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

// newUser opens id's account with startCash, as signup does.
func (h *harness) newUser(id string) *user {
	h.t.Helper()
	if err := h.ledger.OpenAccount(testCtx(h.t), id, startCash); err != nil {
		h.t.Fatalf("OpenAccount(%s): %v", id, err)
	}
	return &user{h: h, id: id}
}

// do sends a request as the user, with a token minted now (so that moving the clock never
// expires it) and the Idempotency-Key header when key is not empty.
func (u *user) do(method, path, body, key string) testenv.Response {
	u.h.t.Helper()
	header := testenv.JSONHeader()
	if u.id != "" {
		tok, _, err := u.h.tokens.Issue(context.Background(), u.id, "session-"+u.id)
		if err != nil {
			u.h.t.Fatal(err)
		}
		header.Set("Authorization", "Bearer "+tok)
	}
	if key != "" {
		header.Set(idempotency.HeaderName, key)
	}
	resource := ""
	if rest, ok := strings.CutPrefix(strings.SplitN(path, "?", 2)[0], "/api/transactions/"); ok && rest != "stats/overview" {
		resource = "/api/transactions/{id}"
	}
	return testenv.Do(u.h.t, u.h.fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: header, Body: body})
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

// expect fails the test unless r has the status (and, for errors, the envelope and code), and
// returns the decoded body.
func expect(t *testing.T, r testenv.Response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	body := r.JSON(t)
	if code != "" && body["code"] != code {
		t.Fatalf("code %v, want %s: %s", body["code"], code, r.Body)
	}
	if status >= 400 && (body["error"] == nil || body["error"] != body["detail"] || body["request_id"] == nil) {
		t.Fatalf("not the error envelope: %s", r.Body)
	}
	return body
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

// rawAccount and rawEntry are the stored shapes, decoded independently of the packages' types.
type rawAccount struct {
	Cash          int64            `bson:"cash"`
	CashAvailable int64            `bson:"cash_available"`
	Pending       bson.M           `bson:"pending"`
	Markers       map[string]any   `bson:"idem"`
	Holdings      map[string]int64 `bson:"holdings"`
}

type rawEntry struct {
	ID     string `bson:"_id"`
	Type   string `bson:"type"`
	Symbol string `bson:"symbol"`
	Amount int64  `bson:"amount"`
	Value  int64  `bson:"value"`
}

func (h *harness) account(userID string) rawAccount {
	h.t.Helper()
	var a rawAccount
	if err := h.db.Collection(ledger.AccountsCollection).FindOne(testCtx(h.t), bson.D{{Key: "_id", Value: userID}}).Decode(&a); err != nil {
		h.t.Fatalf("read account %s: %v", userID, err)
	}
	return a
}

func (h *harness) entries(userID string) []rawEntry {
	h.t.Helper()
	ctx := testCtx(h.t)
	cur, err := h.db.Collection(ledger.TransactionsCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []rawEntry
	if err := cur.All(ctx, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// countType counts userID's entries of type typ.
func (h *harness) countType(userID, typ string) int {
	h.t.Helper()
	n := 0
	for _, e := range h.entries(userID) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// assertInvariant flushes userID's ledger, then recomputes the cash balance from the entries
// with this test's own reading of the types and compares: balance == sum of the ledger, nothing
// pending, nothing negative, available == balance (this function reserves nothing).
func (h *harness) assertInvariant(userID string) {
	h.t.Helper()
	if err := h.ledger.Flush(testCtx(h.t), userID); err != nil {
		h.t.Fatalf("Flush(%s): %v", userID, err)
	}
	acc := h.account(userID)
	var cash int64
	holdings := map[string]int64{}
	for _, e := range h.entries(userID) {
		switch e.Type {
		case "deposit":
			cash += e.Amount
		case "withdrawal", "fee":
			cash -= e.Amount
		case "buy":
			cash -= e.Value
			holdings[e.Symbol] += e.Amount
		case "sell":
			cash += e.Value
			holdings[e.Symbol] -= e.Amount
		case "adjustment":
			holdings[e.Symbol] += e.Amount
		default:
			h.t.Errorf("%s: entry %s of unknown type %q", userID, e.ID, e.Type)
		}
	}
	if acc.Cash != cash || acc.CashAvailable != acc.Cash || acc.Cash < 0 || len(acc.Pending) != 0 {
		h.t.Errorf("%s: cash %d, available %d, ledger says %d, %d pending", userID, acc.Cash, acc.CashAvailable, cash, len(acc.Pending))
	}
	for sym, q := range holdings {
		if acc.Holdings[sym] != q {
			h.t.Errorf("%s: holdings.%s %d, ledger says %d", userID, sym, acc.Holdings[sym], q)
		}
	}
}

// assertNoSecrets fails if a token or the signing key reached a log line.
func (h *harness) assertNoSecrets(values ...string) {
	h.t.Helper()
	logs := h.env.Logs.String()
	for _, v := range append(values, testenv.JWTSecret, "Bearer ") {
		if v != "" && strings.Contains(logs, v) {
			h.t.Errorf("a secret (%.8s…) appears in the logs", v)
		}
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
	tok, _, err := h.tokens.Issue(context.Background(), u.id, "session-"+u.id)
	if err != nil {
		h.t.Fatal(err)
	}
	header := testenv.JSONHeader()
	header.Set("Content-Type", contentType)
	header.Set("Authorization", "Bearer "+tok)
	return testenv.Do(h.t, h.fn, testenv.Request{Method: http.MethodPost, Path: "/api/transactions", Header: header, Body: body})
}
