package transactions_test

import (
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/transactions"
)

// TestCreate: a deposit and a withdrawal move the cash, answer 201 with the transaction in the
// contract's shape, and are audited.
func TestCreate(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")

	r := u.post(`{"type":"deposit","amount":12.5,"description":"  paycheck  "}`, "")
	body := testenv.Expect(t, r, http.StatusCreated, "")
	tx := txOf(t, body)
	if body["message"] != "Deposit completed" {
		t.Errorf("message %v", body["message"])
	}
	want := map[string]any{
		"type": "deposit", "symbol": "USD", "price": nil, "description": "paycheck", "status": "completed",
		"order_id": nil, "created_at": "2026-11-28T09:00:00Z", "createdAt": "2026-11-28T09:00:00Z",
	}
	for k, v := range want {
		if tx[k] != v {
			t.Errorf("transaction.%s = %v, want %v", k, tx[k], v)
		}
	}
	// Money is a JSON number with 2 decimals, as written (not re-formatted by a float).
	if a, v := decimal(t, r.Body, "transaction", "amount"), decimal(t, r.Body, "transaction", "value"); a != "12.50" || v != "12.50" {
		t.Errorf("amount %s, value %s; want 12.50 both", a, v)
	}
	depositID, _ := tx["id"].(string)
	if len(depositID) != 24 {
		t.Errorf("id %q: want an opaque 24-character id", depositID)
	}

	h.Clock.Advance(1)
	r = u.post(movement("withdrawal", `"100"`), "")
	body = testenv.Expect(t, r, http.StatusCreated, "")
	tx = txOf(t, body)
	if body["message"] != "Withdrawal completed" || tx["type"] != "withdrawal" || tx["description"] != "Withdrawal" {
		t.Errorf("withdrawal: %s", r.Body)
	}
	if a := decimal(t, r.Body, "transaction", "amount"); a != "100.00" {
		t.Errorf("withdrawal amount %s, want 100.00 (positive)", a)
	}
	if acc := h.Account("u1"); acc.Cash != int64(moneyenv.StartCash)+1250-10000 {
		t.Errorf("cash %d, want %d", acc.Cash, int64(moneyenv.StartCash)+1250-10000)
	}
	h.assertInvariant("u1")

	// The audit trail has one entry per movement, naming the transaction.
	for action, id := range map[string]string{audit.ActionDeposit: depositID, audit.ActionWithdrawal: tx["id"].(string)} {
		var e struct {
			UserID   string         `bson:"user_id"`
			Resource string         `bson:"resource"`
			Details  map[string]any `bson:"details"`
		}
		err := h.DB.Collection(audit.Collection).FindOne(testCtx(t), bson.D{{Key: "action", Value: action}}).Decode(&e)
		if err != nil || e.UserID != "u1" || e.Resource != "transaction:"+id || e.Details["transaction_id"] != id {
			t.Errorf("audit %s: %+v, %v", action, e, err)
		}
	}
	h.AssertNoSecrets(t)
}

// TestCreateValidation: every bad input is 422 naming its field (or the platform's 400/415), and
// changes nothing; the money input rules of api.md, including the per-request deposit cap.
func TestCreateValidation(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	long := strings.Repeat("é", transactions.MaxDescription+1)
	tests := []struct {
		name   string
		body   string
		status int
		field  string // the field named in a 422 VALIDATION_ERROR
		code   string // another error code
		cents  int64  // the amount of a 201
	}{
		{name: "9 decimals", body: movement("deposit", "0.123456789"), status: 422, field: "amount"},
		{name: "3 decimals", body: movement("deposit", "1.005"), status: 422, field: "amount"},
		{name: "negative", body: movement("deposit", "-5"), status: 422, field: "amount"},
		{name: "negative string", body: movement("deposit", `"-5"`), status: 422, field: "amount"},
		{name: "zero", body: movement("deposit", "0"), status: 422, field: "amount"},
		{name: "zero with decimals", body: movement("deposit", "0.00"), status: 422, field: "amount"},
		{name: "exponent overflow", body: movement("deposit", "1e400"), status: 422, field: "amount"},
		{name: "exponent", body: movement("deposit", "1e2"), status: 422, field: "amount"},
		{name: "NaN string", body: movement("deposit", `"NaN"`), status: 422, field: "amount"},
		{name: "Infinity string", body: movement("deposit", `"Infinity"`), status: 422, field: "amount"},
		{name: "empty string", body: movement("deposit", `""`), status: 422, field: "amount"},
		{name: "boolean", body: movement("deposit", "true"), status: 422, field: "amount"},
		{name: "null", body: movement("deposit", "null"), status: 422, field: "amount"},
		{name: "missing", body: `{"type":"deposit"}`, status: 422, field: "amount"},
		{name: "out of range", body: movement("withdrawal", "100000000001"), status: 422, field: "amount"},
		{name: "deposit above the cap", body: movement("deposit", "1000000.01"), status: 422, field: "amount"},
		{name: "numeric string", body: movement("deposit", `"1.5"`), status: 201, cents: 150},
		{name: "trailing zero", body: movement("deposit", "1.50"), status: 201, cents: 150},
		{name: "zeros past the cents", body: movement("deposit", "2.5000000000"), status: 201, cents: 250},
		{name: "deposit at the cap", body: movement("deposit", "1000000"), status: 201, cents: 100_000_000},
		{name: "withdrawal above the deposit cap is a funds question", body: movement("withdrawal", "2000000.01"), status: 422, code: transactions.CodeInsufficientFunds},
		{name: "type buy", body: movement("buy", "1"), status: 422, field: "type"},
		{name: "type adjustment", body: movement("adjustment", "1"), status: 422, field: "type"},
		{name: "type capitalised", body: movement("Deposit", "1"), status: 422, field: "type"},
		{name: "type missing", body: `{"amount":1}`, status: 422, field: "type"},
		{name: "type number", body: `{"type":1,"amount":1}`, status: 422, field: "type"},
		{name: "symbol BTC", body: `{"type":"deposit","amount":1,"symbol":"BTC"}`, status: 422, field: "symbol"},
		{name: "symbol empty", body: `{"type":"deposit","amount":1,"symbol":""}`, status: 422, field: "symbol"},
		{name: "symbol usd", body: `{"type":"deposit","amount":1,"symbol":"usd"}`, status: 201, cents: 100},
		{name: "description too long", body: `{"type":"deposit","amount":1,"description":"` + long + `"}`, status: 422, field: "description"},
		{name: "description at the limit", body: `{"type":"deposit","amount":1,"description":"` + long[2:] + `"}`, status: 201, cents: 100},
		{name: "description of 200 emoji is over the ledger's 500 bytes", body: `{"type":"deposit","amount":1,"description":"` + strings.Repeat("😀", 200) + `"}`, status: 422, field: "description"},
		{name: "description of 125 emoji", body: `{"type":"deposit","amount":1,"description":"` + strings.Repeat("😀", 125) + `"}`, status: 201, cents: 100},
		{name: "description newline", body: `{"type":"deposit","amount":1,"description":"a\nb"}`, status: 422, field: "description"},
		{name: "description escape", body: `{"type":"deposit","amount":1,"description":"a\u001bb"}`, status: 422, field: "description"},
		{name: "description number", body: `{"type":"deposit","amount":1,"description":5}`, status: 422, field: "description"},
		{name: "empty body", body: ``, status: 422, field: "type"},
		{name: "array body", body: `[]`, status: 422, field: "body"},
		{name: "invalid JSON", body: `{"type":`, status: 400, code: web.CodeInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Account("u1").Cash
			r := u.post(tt.body, "")
			code := tt.code
			if tt.field != "" {
				code = web.CodeValidation
			}
			body := testenv.Expect(t, r, tt.status, code)
			after := h.Account("u1").Cash
			if tt.status != http.StatusCreated {
				if after != before {
					t.Fatalf("a refused request changed the cash: %d -> %d", before, after)
				}
				if tt.field != "" {
					if f, _ := body["fields"].(map[string]any); f[tt.field] == nil {
						t.Fatalf("no message for %s: %s", tt.field, r.Body)
					}
				}
				return
			}
			if after-before != tt.cents {
				t.Fatalf("cash moved by %d, want %d", after-before, tt.cents)
			}
		})
	}
	h.assertInvariant("u1")

	// A body that is not JSON-labelled is 415 before anything runs.
	r := testenvDo(h, u, "text/plain", movement("deposit", "1"))
	testenv.Expect(t, r, http.StatusUnsupportedMediaType, web.CodeUnsupportedMediaType)
}

// TestWithdrawalFunds: a withdrawal needs available cash; the whole balance can leave, a cent more
// cannot.
func TestWithdrawalFunds(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	testenv.Expect(t, u.post(movement("withdrawal", "10000.01"), ""), http.StatusUnprocessableEntity, transactions.CodeInsufficientFunds)
	testenv.Expect(t, u.post(movement("withdrawal", "10000.00"), ""), http.StatusCreated, "")
	testenv.Expect(t, u.post(movement("withdrawal", "0.01"), ""), http.StatusUnprocessableEntity, transactions.CodeInsufficientFunds)
	if acc := h.Account("u1"); acc.Cash != 0 {
		t.Fatalf("cash %d, want 0", acc.Cash)
	}
	h.assertInvariant("u1")
}

// TestUnauthenticated: every route needs a session (the real guard answers 401).
func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	h.newUser("u1")
	anon := &user{h: h}
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/api/transactions"},
		{http.MethodPost, "/api/transactions"},
		{http.MethodGet, "/api/transactions/stats/overview"},
		{http.MethodGet, "/api/transactions/0123456789abcdef01234567"},
	} {
		r := anon.do(tt.method, tt.path, movement("deposit", "1"), "")
		testenv.Expect(t, r, http.StatusUnauthorized, "UNAUTHENTICATED")
	}
	if acc := h.Account("u1"); acc.Cash != int64(moneyenv.StartCash) {
		t.Fatal("an anonymous request moved money")
	}
}

// TestRoutes: the function serves exactly the contract's routes; a wrong method is 405.
func TestRoutes(t *testing.T) {
	h := newHarness(t)
	want := []string{
		"GET /api/transactions", "GET /api/transactions/stats/overview", "GET /api/transactions/{id}", "POST /api/transactions",
	}
	if strings.Join(h.fn.Routes, ",") != strings.Join(want, ",") {
		t.Fatalf("routes %v, want %v", h.fn.Routes, want)
	}
	u := h.newUser("u1")
	testenv.Expect(t, u.do(http.MethodDelete, "/api/transactions", "", ""), http.StatusMethodNotAllowed, web.CodeMethodNotAllowed)
}
