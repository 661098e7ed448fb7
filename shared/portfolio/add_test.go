package portfolio_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestAddHolding: POST /api/portfolio/holding books an adjustment entry of +amount at the
// stored price, answers 201 {message, holding} with the new total, ignores name (even a wrongly
// typed one), accepts the coin id and a numeric string, and audits HOLDING_ADDED.
func TestAddHolding(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")

	r := must(t, u.add(`{"symbol":"BTC","amount":0.5,"name":"My cold wallet"}`, ""), http.StatusCreated)
	if msg := r.JSON(t)["message"]; msg != "Holding added" {
		t.Errorf("message %v", msg)
	}
	want := holdingRow{"BTC", "Bitcoin", "0.5", "0.5", "65000.12", "32500.06", "76.47", "2.5"}
	if got := row(t, decodeHolding(t, r)); got != want {
		t.Errorf("holding %+v\nwant    %+v", got, want)
	}
	r = must(t, u.add(`{"symbol":"bitcoin","amount":"0.25","name":42}`, ""), http.StatusCreated)
	want = holdingRow{"BTC", "Bitcoin", "0.75", "0.75", "65000.12", "48750.09", "82.98", "2.5"}
	if got := row(t, decodeHolding(t, r)); got != want {
		t.Errorf("second holding %+v\nwant           %+v", got, want)
	}

	entries := h.entries("u1", "BTC")
	if len(entries) != 2 {
		t.Fatalf("entries %+v, want two", entries)
	}
	for i, w := range []struct{ amount, value int64 }{{50_000_000, 3_250_006}, {25_000_000, 1_625_003}} {
		e := entries[i]
		if e.Type != "adjustment" || e.Amount != w.amount || e.Value != w.value || e.Price == nil || *e.Price != 6_500_012_000_000 {
			t.Errorf("entry %d = %+v, want adjustment %d valued %d at 65000.12", i, e, w.amount, w.value)
		}
	}
	logs := h.auditActions("u1")
	if len(logs) != 2 || logs[0].Action != audit.ActionHoldingAdded || logs[0].Resource != "holding:BTC" ||
		logs[0].Details["amount"] != "0.5" || logs[0].Details["price"] != "65000.12" ||
		logs[0].Details["value"] != "32500.06" || logs[0].Details["transaction_id"] != entries[0].ID {
		t.Errorf("audit %+v", logs)
	}
	h.AssertLedger("u1")
	h.AssertNoSecrets(t)
}

// TestAddValidation: every malformed request is refused before anything is written, with the
// contract's status and the field named.
func TestAddValidation(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("TRX", 99_999_999_900_000_000) // 999999999 TRX (unpriced): 1 more is the most allowed
	before := len(h.entries("u1", ""))

	tests := []struct {
		name   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"empty object", `{}`, 422, web.CodeValidation, []string{"symbol", "amount"}},
		{"empty body", ``, 422, web.CodeValidation, []string{"symbol", "amount"}},
		{"unsupported coin", addBody("DOGGO", "1"), 422, web.CodeValidation, []string{"symbol"}},
		{"cash is no coin", addBody("USD", "1"), 422, web.CodeValidation, []string{"symbol"}},
		{"symbol of the wrong type", `{"symbol":5,"amount":1}`, 422, web.CodeValidation, []string{"symbol"}},
		{"amount missing", `{"symbol":"BTC"}`, 422, web.CodeValidation, []string{"amount"}},
		{"amount null", `{"symbol":"BTC","amount":null}`, 422, web.CodeValidation, []string{"amount"}},
		{"amount zero", addBody("BTC", "0"), 422, web.CodeValidation, []string{"amount"}},
		{"amount zero as a string", addBody("BTC", `"0.00"`), 422, web.CodeValidation, []string{"amount"}},
		{"amount negative", addBody("BTC", "-1"), 422, web.CodeValidation, []string{"amount"}},
		{"amount with 9 decimals", addBody("BTC", "0.000000001"), 422, web.CodeValidation, []string{"amount"}},
		{"amount not a number", addBody("BTC", `"abc"`), 422, web.CodeValidation, []string{"amount"}},
		{"amount NaN", addBody("BTC", `"NaN"`), 422, web.CodeValidation, []string{"amount"}},
		{"amount with an exponent", addBody("BTC", "1e3"), 422, web.CodeValidation, []string{"amount"}},
		{"amount a boolean", addBody("BTC", "true"), 422, web.CodeValidation, []string{"amount"}},
		{"amount above the quantity range", addBody("BTC", "1000000001"), 422, web.CodeValidation, []string{"amount"}},
		{"holding would exceed the quantity range", addBody("TRX", "2"), 422, web.CodeValidation, []string{"amount"}},
		{"holding would be worth more than MaxUSD", addBody("BTC", "2000000"), 422, web.CodeValidation, []string{"amount"}},
		{"both fields bad", addBody("XYZ", "-1"), 422, web.CodeValidation, []string{"symbol", "amount"}},
		{"not an object", `[1]`, 422, web.CodeValidation, []string{"body"}},
		{"not JSON", `{"symbol":`, 400, web.CodeInvalidJSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := testenv.Expect(t, u.add(tt.body, ""), tt.status, tt.code)
			fields, _ := body["fields"].(map[string]any)
			if len(fields) != len(tt.fields) {
				t.Errorf("fields %v, want %v", fields, tt.fields)
			}
			for _, f := range tt.fields {
				if fields[f] == nil {
					t.Errorf("no message for %s in %v", f, fields)
				}
			}
		})
	}
	if n := len(h.entries("u1", "")); n != before {
		t.Errorf("%d entries after refused requests, want %d", n, before)
	}
	if logs := h.auditActions("u1"); len(logs) != 0 {
		t.Errorf("audit %+v, want nothing", logs)
	}
}

// TestAddIdempotency: a retry with the same key and the same parsed request gets the first
// response byte for byte and books nothing; another request under the key is 409.
func TestAddIdempotency(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	first := must(t, u.add(addBody("BTC", "0.5"), "k1"), http.StatusCreated)

	for _, body := range []string{
		addBody("BTC", `"0.50"`),
		addBody("btc", "0.50"),
		`{"symbol":"bitcoin","amount":"0.5","name":"anything"}`,
	} {
		h.Clock.Advance(time.Second) // a replay is not re-rendered
		r := u.add(body, "k1")
		if r.Status != http.StatusCreated || !bytes.Equal(r.Body, first.Body) || r.Header.Get(idempotency.ReplayedHeader) != "true" {
			t.Fatalf("retry %s: %d %s; want the first response %s", body, r.Status, r.Body, first.Body)
		}
	}
	for _, body := range []string{addBody("BTC", "0.51"), addBody("ETH", "0.5")} {
		testenv.Expect(t, u.add(body, "k1"), http.StatusConflict, idempotency.CodeKeyReused)
	}
	entries := h.entries("u1", "")
	if len(entries) != 2 || entries[1].Amount != 50_000_000 { // the opening deposit and one adjustment
		t.Fatalf("entries %+v, want the deposit and one +0.5 BTC", entries)
	}
	// The key's marker stays in the account until the account's next update, which removes it
	// without a command of its own (replays do not touch the account).
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 50_000_000 || len(acc.Markers) != 1 {
		t.Fatalf("holding %d, markers %v; want 0.5 BTC and the key's marker, not removed yet", acc.Holdings["BTC"], acc.Markers)
	}
	must(t, u.add(addBody("ETH", "1"), ""), http.StatusCreated)
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 50_000_000 || len(acc.Markers) != 0 {
		t.Fatalf("holding %d, markers %v; want 0.5 BTC and no marker left after the next update", acc.Holdings["BTC"], acc.Markers)
	}
	if logs := h.auditActions("u1"); len(logs) != 2 {
		t.Errorf("%d audit entries, want 2 (the keyed addition once, and the ETH one)", len(logs))
	}

	// Keys are per user; a malformed key is refused before anything runs.
	must(t, h.newUser("u2").add(addBody("BTC", "0.5"), "k1"), http.StatusCreated)
	testenv.Expect(t, u.add(addBody("BTC", "0.5"), "\x01"), http.StatusUnprocessableEntity, web.CodeValidation)
	h.AssertLedger("u1")
}

// TestAddRerun: an earlier attempt committed the change under the key and died before storing
// its response. The retry, once the claim is abandoned, takes it over: its update finds the
// claim's marker set and books nothing, and it answers from the ledger with the holding as it is
// now (a zero holding when the coins were removed in between).
func TestAddRerun(t *testing.T) {
	tests := []struct {
		name        string
		removeFirst bool
		// committedOnly: the earlier attempt died right after its account update, before its
		// entry's insert (the steps run as add runs them: Commit, then Record beside the rest).
		committedOnly bool
		amount, want  string // the answer's holding amount and value
		value         string
	}{
		{name: "holding still there", amount: "0.5", value: "32500.06"},
		{name: "holding removed since", removeFirst: true, amount: "0", value: "0.00"},
		{name: "died before recording its entry", committedOnly: true, amount: "0.5", value: "32500.06"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			ctx := testCtx(t)
			btc, _ := feed.CoinBySymbolOrID("BTC")

			// The earlier attempt, as add runs it, without its response.
			store := idempotency.NewStore(h.Deps.Mongo.Database, h.Clock.Now)
			claim, replay, err := store.Begin(ctx, "u1", "k1", portfolio.AddRoute, portfolio.AddFingerprint(btc, 50_000_000))
			if err != nil || replay != nil {
				t.Fatalf("Begin: %v, %v", err, replay)
			}
			filter, set := claim.Guard(ledger.AccountsCollection, "u1")
			price := money.Price(6_500_012_000_000)
			change := ledger.Change{UserID: "u1", Filter: filter, Set: set, Entries: []ledger.Entry{{
				ID: portfolio.AddEntryID(claim.Token()), Type: ledger.TypeAdjustment, Symbol: "BTC", Amount: 50_000_000,
				Price: &price, Value: 3_250_006, Description: "Holding added",
			}}}
			if tt.committedOnly {
				_, err = h.Ledger.Commit(ctx, change)
			} else {
				_, err = h.Ledger.Apply(ctx, change)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.removeFirst {
				must(t, u.remove("BTC"), http.StatusOK)
			}

			testenv.Expect(t, u.add(addBody("BTC", "0.5"), "k1"), http.StatusConflict, idempotency.CodeKeyInProgress)
			h.Clock.Advance(idempotency.InFlightTimeout + time.Second)
			r := must(t, u.add(addBody("BTC", "0.5"), "k1"), http.StatusCreated)
			if got := row(t, decodeHolding(t, r)); got.Amount != tt.amount || got.Value != tt.value || got.Price != "65000.12" {
				t.Errorf("holding %+v, want %s BTC worth %s", got, tt.amount, tt.value)
			}
			var added int
			for _, e := range h.entries("u1", "BTC") {
				if e.Amount > 0 {
					added++
				}
			}
			if added != 1 {
				t.Errorf("%d additions booked, want the earlier attempt's one", added)
			}
			// The answer is stored now: a further retry replays it.
			if again := u.add(addBody("BTC", "0.5"), "k1"); !bytes.Equal(again.Body, r.Body) {
				t.Errorf("replay %s, want %s", again.Body, r.Body)
			}
			h.AssertLedger("u1")
		})
	}
}

// TestAddResponseTypes: the 201's holding uses JSON numbers throughout (the frontend formats
// them with toFixed).
func TestAddResponseTypes(t *testing.T) {
	h := newHarness(t)
	r := must(t, h.newUser("u1").add(addBody("DOGE", `"12.5"`), ""), http.StatusCreated)
	var body struct {
		Message string          `json:"message"`
		Holding json.RawMessage `json:"holding"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Message == "" {
		t.Fatalf("body %s", r.Body)
	}
	got := row(t, decodeHolding(t, r)) // num() fails on anything but a number
	if want := (holdingRow{"DOGE", "Dogecoin", "12.5", "12.5", "0.15123456", "1.89", "0.02", "0"}); got != want {
		t.Errorf("holding %+v, want %+v", got, want)
	}
}
