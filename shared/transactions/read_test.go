package transactions_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// seed gives u a history of every entry type, one second apart, and returns the expected cash:
//
//	t0 opening deposit 10000.00          t3 buy 0.1 BTC at 65000 (6500.00) + fee 6.50
//	t1 deposit 500.25 (API)              t4 sell 0.05 BTC at 70000 (3500.00) + fee 3.50
//	t2 withdrawal 200.10 (API)           t5 adjustment -0.01 BTC (valued -700.00)
func seed(t *testing.T, h *harness, u *user) money.USD {
	t.Helper()
	h.Clock.Advance(time.Second)
	testenv.Expect(t, u.post(movement("deposit", "500.25"), ""), http.StatusCreated, "")
	h.Clock.Advance(time.Second)
	testenv.Expect(t, u.post(movement("withdrawal", "200.10"), ""), http.StatusCreated, "")
	price := func(p money.Price) *money.Price { return &p }
	changes := []ledger.Change{
		{UserID: u.id, Entries: []ledger.Entry{
			{Type: ledger.TypeBuy, Symbol: "BTC", Amount: 10_000_000, Price: price(6_500_000_000_000), Value: 650_000, OrderID: "ord-1"},
			{Type: ledger.TypeFee, Symbol: ledger.CashSymbol, Amount: 650, Value: 650, OrderID: "ord-1"},
		}},
		{UserID: u.id, Entries: []ledger.Entry{
			{Type: ledger.TypeSell, Symbol: "BTC", Amount: 5_000_000, Price: price(7_000_000_000_000), Value: 350_000, OrderID: "ord-2"},
			{Type: ledger.TypeFee, Symbol: ledger.CashSymbol, Amount: 350, Value: 350, OrderID: "ord-2"},
		}},
		{UserID: u.id, Entries: []ledger.Entry{
			{Type: ledger.TypeAdjustment, Symbol: "BTC", Amount: -1_000_000, Value: -70_000, Description: "Holding removed"},
		}},
	}
	for _, c := range changes {
		h.Clock.Advance(time.Second)
		if _, err := h.Ledger.Apply(testCtx(t), c); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	return moneyenv.StartCash + 50_025 - 20_010 - 650_000 - 650 + 350_000 - 350
}

type listBody struct {
	Transactions []map[string]json.RawMessage `json:"transactions"`
	Total        int64                        `json:"total"`
	Limit        int                          `json:"limit"`
	Offset       int                          `json:"offset"`
}

func (u *user) list(query string) listBody {
	u.h.t.Helper()
	r := u.get("/api/transactions" + query)
	testenv.Expect(u.h.t, r, http.StatusOK, "")
	var b listBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		u.h.t.Fatal(err)
	}
	return b
}

// str returns a JSON string's value, or any other JSON value as written ("12.50", "null").
func str(raw json.RawMessage) string {
	if string(raw) == "null" {
		return "null"
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw) // numbers and null as written
	}
	return s
}

// TestList: newest first, every type in the contract's shape, filters and paging.
func TestList(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	seed(t, h, u)

	all := u.list("")
	if all.Total != 8 || len(all.Transactions) != 8 || all.Limit != web.DefaultLimit || all.Offset != 0 {
		t.Fatalf("list: total %d, %d items, limit %d, offset %d", all.Total, len(all.Transactions), all.Limit, all.Offset)
	}
	for i := 1; i < len(all.Transactions); i++ {
		if str(all.Transactions[i-1]["created_at"]) < str(all.Transactions[i]["created_at"]) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	byType := map[string]map[string]json.RawMessage{}
	for _, tx := range all.Transactions {
		byType[str(tx["type"])] = tx
	}
	// Coin amounts are quantities (trimmed), cash amounts have 2 decimals; price only for trades.
	wantFields := map[string]map[string]string{
		"adjustment": {"symbol": "BTC", "amount": "-0.01", "value": "-700.00", "price": "null", "order_id": "null"},
		"buy":        {"symbol": "BTC", "amount": "0.1", "value": "6500.00", "price": "65000", "order_id": "ord-1"},
		"withdrawal": {"symbol": "USD", "amount": "200.10", "value": "200.10", "price": "null", "description": "Withdrawal"},
		"deposit":    {"symbol": "USD", "status": "completed"},
	}
	for typ, fields := range wantFields {
		for k, v := range fields {
			if got := str(byType[typ][k]); got != v {
				t.Errorf("%s.%s = %s, want %s", typ, k, got, v)
			}
		}
		if c := str(byType[typ]["created_at"]); c != str(byType[typ]["createdAt"]) || !strings.HasSuffix(c, "Z") {
			t.Errorf("%s: created_at %s, createdAt %s", typ, c, str(byType[typ]["createdAt"]))
		}
	}

	filters := []struct {
		query string
		total int64
		items int
	}{
		{"?type=withdrawal", 1, 1},
		{"?type=fee", 2, 2},
		{"?type=deposit", 2, 2},
		{"?symbol=usd", 5, 5},
		{"?symbol=USD", 5, 5},
		{"?symbol=btc", 3, 3},
		{"?type=buy&symbol=BTC", 1, 1},
		{"?type=buy&symbol=ETH", 0, 0},
		{"?type=&symbol=", 8, 8},
		{"?limit=2", 8, 2},
		{"?limit=2&offset=7", 8, 1},
		{"?offset=8", 8, 0},
		{"?limit=200&offset=1000", 8, 0},
	}
	for _, f := range filters {
		b := u.list(f.query)
		if b.Total != f.total || len(b.Transactions) != f.items || b.Transactions == nil {
			t.Errorf("%s: total %d, %d items; want %d, %d", f.query, b.Total, len(b.Transactions), f.total, f.items)
		}
	}
	// Pages are slices of the full list, in order.
	page := u.list("?limit=3&offset=2")
	for i, tx := range page.Transactions {
		if str(tx["id"]) != str(all.Transactions[i+2]["id"]) {
			t.Errorf("page item %d is %s, want %s", i, str(tx["id"]), str(all.Transactions[i+2]["id"]))
		}
	}

	bad := []struct{ query, field string }{
		{"?type=foo", "type"},
		{"?type=Deposit", "type"},
		{"?type=deposit&type=fee", "type"},
		{"?symbol=XYZ", "symbol"},
		{"?symbol=usdx", "symbol"},
		{"?limit=0", "limit"},
		{"?limit=201", "limit"},
		{"?limit=1.5", "limit"},
		{"?limit=abc", "limit"},
		{"?offset=-1", "offset"},
	}
	for _, b := range bad {
		body := testenv.Expect(t, u.get("/api/transactions"+b.query), http.StatusUnprocessableEntity, web.CodeValidation)
		if f, _ := body["fields"].(map[string]any); f[b.field] == nil {
			t.Errorf("%s: no message for %s: %v", b.query, b.field, body)
		}
	}
}

// TestGet: one entry by id, identical to its list item; another user's, a malformed and an
// unknown id are 404 alike.
func TestGet(t *testing.T) {
	h := newHarness(t)
	a, b := h.newUser("alice"), h.newUser("bob")
	seed(t, h, a)
	for _, tx := range a.list("").Transactions {
		id := str(tx["id"])
		r := a.get("/api/transactions/" + id)
		testenv.Expect(t, r, http.StatusOK, "")
		var got struct {
			Transaction map[string]json.RawMessage `json:"transaction"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range tx {
			if string(got.Transaction[k]) != string(v) {
				t.Errorf("%s.%s: get %s, list %s", id, k, got.Transaction[k], v)
			}
		}
		testenv.Expect(t, b.get("/api/transactions/"+id), http.StatusNotFound, web.CodeNotFound)
	}
	for _, id := range []string{"0123456789abcdef01234567", "x", strings.Repeat("a", 65), "a.b", "a%24b", "%E2%82%AC"} {
		testenv.Expect(t, a.get("/api/transactions/"+id), http.StatusNotFound, web.CodeNotFound)
	}
	if b.list("").Total != 1 {
		t.Error("bob sees more than his opening deposit")
	}
}

// TestGetPendingEntry: an entry whose flush failed is still pending in the account; reading it
// flushes it first.
func TestGetPendingEntry(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	// The entry's insert and the audit's run side by side after the account update: fail both, so
	// that the entry's is failed whichever comes first. The error is not retryable and says
	// nothing about the server's state: a "shutdown in progress" would be retried (taking the
	// second failure itself) and make the driver check the server again, which the read below
	// could then meet.
	h.Server.Inject(devdb.Fault{Command: "insert", Times: 2, ErrorCode: 1, ErrorMessage: "injected"})
	tx := txOf(t, testenv.Expect(t, u.post(movement("deposit", "5"), ""), http.StatusCreated, ""))
	if len(h.Account("u1").Pending) != 1 || len(h.Entries("u1")) != 1 {
		t.Fatal("the entry should be pending, and not in transactions, after the failed flush")
	}
	got := txOf(t, testenv.Expect(t, u.get("/api/transactions/"+tx["id"].(string)), http.StatusOK, ""))
	if got["id"] != tx["id"] || got["amount"] != tx["amount"] {
		t.Fatalf("got %v, want %v", got, tx)
	}
	h.assertInvariant("u1")
}

// TestStats: totals are exact, per user.
func TestStats(t *testing.T) {
	h := newHarness(t)
	a, b := h.newUser("alice"), h.newUser("bob")
	cash := seed(t, h, a)

	r := a.get("/api/transactions/stats/overview")
	testenv.Expect(t, r, http.StatusOK, "")
	want := map[string]string{
		"total_deposits": "10500.25", "total_withdrawals": "200.10", "total_trades": "2",
		"total_fees": "10.00", "net_deposits": "10300.15", "net_balance": cash.String(),
	}
	for k, v := range want {
		if got := decimal(t, r.Body, "stats", k); got != v {
			t.Errorf("stats.%s = %s, want %s", k, got, v)
		}
	}
	if cash.String() != "7290.15" {
		t.Errorf("seeded cash %s, want 7290.15", cash)
	}

	r = b.get("/api/transactions/stats/overview")
	testenv.Expect(t, r, http.StatusOK, "")
	for k, v := range map[string]string{"total_deposits": "10000.00", "total_withdrawals": "0.00", "total_trades": "0", "total_fees": "0.00", "net_deposits": "10000.00", "net_balance": "10000.00"} {
		if got := decimal(t, r.Body, "stats", k); got != v {
			t.Errorf("bob: stats.%s = %s, want %s", k, got, v)
		}
	}
	h.assertInvariant("alice")
}

// TestStatsCountPendingEntries: the stats count every committed change once, whatever step of
// the ledger it is at when they are read: committed only (in the account's pending map, not in
// transactions), recorded with its clean deferred (in both), or cleaned by another instance just
// before the read. The changes are made through another Ledger (another function's instance);
// the first read after each takes the slow path, the second the fast one, and both must agree.
func TestStatsCountPendingEntries(t *testing.T) {
	price := func(p money.Price) *money.Price { return &p }
	fill := ledger.Change{Entries: []ledger.Entry{
		{Type: ledger.TypeBuy, Symbol: "BTC", Amount: 10_000_000, Price: price(6_500_000_000_000), Value: 650_000, OrderID: "ord-1"},
		{Type: ledger.TypeFee, Symbol: ledger.CashSymbol, Amount: 650, Value: 650, OrderID: "ord-1"},
	}}
	deposit := ledger.Change{Entries: []ledger.Entry{{Type: ledger.TypeDeposit, Symbol: ledger.CashSymbol, Amount: 2_500, Value: 2_500}}}
	want := map[string]string{
		"total_deposits": "10026.00", "total_withdrawals": "0.00", "total_trades": "1",
		"total_fees": "6.50", "net_deposits": "10026.00", "net_balance": "3519.50",
	}
	tests := []struct {
		name string
		// book makes the changes through l, leaving them at the step under test.
		book func(t *testing.T, l *ledger.Ledger, c ledger.Change)
	}{
		{"committed, not in transactions", func(t *testing.T, l *ledger.Ledger, c ledger.Change) {
			if _, err := l.Commit(testCtx(t), c); err != nil {
				t.Fatal(err)
			}
		}},
		{"recorded, clean deferred", func(t *testing.T, l *ledger.Ledger, c ledger.Change) {
			cm, err := l.Commit(testCtx(t), c)
			if err != nil {
				t.Fatal(err)
			}
			if err := cm.Record(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"cleaned by another instance just now", func(t *testing.T, l *ledger.Ledger, c ledger.Change) {
			if _, err := l.Apply(testCtx(t), c); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			// The function's own instance makes the last clean (its deposit's flush), so that only
			// the pending entries can send the first read down the slow path.
			testenv.Expect(t, u.post(movement("deposit", "1"), ""), http.StatusCreated, "")
			for _, c := range []ledger.Change{fill, deposit} {
				c.UserID = u.id
				h.Clock.Advance(time.Second)
				tt.book(t, h.Ledger, c)
			}
			for _, read := range []string{"first read", "second read"} {
				r := u.get("/api/transactions/stats/overview")
				testenv.Expect(t, r, http.StatusOK, "")
				for k, v := range want {
					if got := decimal(t, r.Body, "stats", k); got != v {
						t.Errorf("%s: stats.%s = %s, want %s", read, k, got, v)
					}
				}
			}
			if n := len(h.Account("u1").Pending); n != 0 {
				t.Errorf("%d entries still pending after the reads", n)
			}
			h.assertInvariant("u1")
		})
	}
}
