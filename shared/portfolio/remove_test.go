package portfolio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestAddThenRemove: coins recorded with POST and removed with DELETE are two adjustment entries,
// +amount then -amount with opposite values; the balance equals the sum of the entries; the
// removed coin disappears from the portfolio; HOLDING_ADDED and HOLDING_REMOVED are audited.
func TestAddThenRemove(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	must(t, u.add(addBody("BTC", "0.5"), ""), http.StatusCreated)

	r := must(t, u.remove("bitcoin"), http.StatusOK)
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body) != 1 || string(body["message"]) != `"Holding removed"` {
		t.Errorf("body %s, want exactly {message}", r.Body)
	}
	if calls, seen := h.sells.callsMade(), h.sells.reservedSeen(); !slices.Equal(calls, []string{"u1/BTC"}) || !slices.Equal(seen, []money.Quantity{0}) {
		t.Errorf("CancelOpenSells calls %v (reserved %v), want one for u1/BTC with nothing reserved", calls, seen)
	}

	entries := h.entries("u1", "BTC")
	if len(entries) != 2 {
		t.Fatalf("entries %+v", entries)
	}
	for i, w := range []struct{ amount, value int64 }{{50_000_000, 3_250_006}, {-50_000_000, -3_250_006}} {
		e := entries[i]
		if e.Type != "adjustment" || e.Amount != w.amount || e.Value != w.value || e.Price == nil || *e.Price != 6_500_012_000_000 {
			t.Errorf("entry %d = %+v, want adjustment %d valued %d at 65000.12", i, e, w.amount, w.value)
		}
	}
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 0 || acc.Available["BTC"] != 0 {
		t.Errorf("holding %d, available %d; want 0", acc.Holdings["BTC"], acc.Available["BTC"])
	}
	h.AssertLedger("u1")

	p := decodePortfolio(t, u.portfolio())
	if len(p.Holdings) != 0 || num(t, p.TotalBalance) != "10000.00" {
		t.Errorf("portfolio after removal: %+v", p)
	}
	testenv.Expect(t, u.holding("BTC"), http.StatusNotFound, web.CodeNotFound)
	testenv.Expect(t, u.remove("BTC"), http.StatusNotFound, web.CodeNotFound)

	logs := h.auditActions("u1")
	if len(logs) != 2 || logs[0].Action != audit.ActionHoldingAdded || logs[1].Action != audit.ActionHoldingRemoved ||
		logs[1].Resource != "holding:BTC" || logs[1].Details["amount"] != "0.5" || logs[1].Details["value"] != "-32500.06" ||
		logs[1].Details["transaction_id"] != entries[1].ID {
		t.Errorf("audit %+v", logs)
	}
}

// TestRemoveNotHeld: DELETE of a coin never held, held and gone, or unsupported is 404 and
// changes nothing; CancelOpenSells is not called for a coin that is not held.
func TestRemoveNotHeld(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("SOL", 100_000_000)
	u.adjust("SOL", -100_000_000)
	for _, sym := range []string{"ETH", "SOL", "DOGGO", "USD"} {
		testenv.Expect(t, u.remove(sym), http.StatusNotFound, web.CodeNotFound)
	}
	if calls := h.sells.callsMade(); len(calls) != 0 {
		t.Errorf("CancelOpenSells calls %v, want none", calls)
	}
	if n := len(h.entries("u1", "")); n != 3 {
		t.Errorf("%d entries, want the deposit and the two setup adjustments", n)
	}
}

// TestRemoveCancelsOpenSells: removing a holding that an open sell order partly reserves cancels
// the order first (the stand-in for trading releases the reservation) and ends with nothing held
// and nothing reserved.
func TestRemoveCancelsOpenSells(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("BTC", 100_000_000)
	h.sells.place(t, "u1", "BTC", 40_000_000)
	if got := row(t, decodeHolding(t, must(t, u.holding("BTC"), http.StatusOK))); got.Available != "0.6" {
		t.Fatalf("available %s before the removal, want 0.6", got.Available)
	}

	must(t, u.remove("BTC"), http.StatusOK)
	if calls, seen := h.sells.callsMade(), h.sells.reservedSeen(); !slices.Equal(calls, []string{"u1/BTC"}) || !slices.Equal(seen, []money.Quantity{40_000_000}) {
		t.Errorf("CancelOpenSells calls %v (reserved %v), want one for u1/BTC with 0.4 reserved", calls, seen)
	}
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 0 || acc.Available["BTC"] != 0 {
		t.Errorf("holding %d, available %d; want nothing held or reserved", acc.Holdings["BTC"], acc.Available["BTC"])
	}
	if e := h.entries("u1", "BTC"); len(e) != 2 || e[1].Amount != -100_000_000 {
		t.Errorf("entries %+v, want the setup and -1 BTC", e)
	}
	h.AssertLedger("u1")
}

// TestRemoveRaces: what happens between a removal's read and its update. The hook runs as
// CancelOpenSells, which the removal calls exactly there, so each race is deterministic. In every
// case no balance goes negative and balance == sum of entries.
func TestRemoveRaces(t *testing.T) {
	h := newHarness(t)
	price := money.Price(6_500_012_000_000)
	apply := func(ctx context.Context, userID string, e ledger.Entry) error {
		_, err := h.Ledger.Apply(ctx, ledger.Change{UserID: userID, Entries: []ledger.Entry{e}})
		return err
	}

	tests := []struct {
		name string
		// hook runs as CancelOpenSells (call counts from 1), between the read and the update,
		// and plays the race there.
		hook          func(t *testing.T, ctx context.Context, u *user, call int) error
		status        int
		code          string
		wantHolding   int64   // BTC left
		wantAvailable int64   // BTC left available
		wantRemoved   []int64 // amounts of the removal entries booked
		wantCalls     int
	}{
		{
			name: "a sell fills: the first update fails its condition, the second removes the rest",
			hook: func(t *testing.T, ctx context.Context, u *user, call int) error {
				if call == 1 {
					return apply(ctx, u.id, ledger.Entry{Type: ledger.TypeSell, Symbol: "BTC", Amount: 30_000_000, Price: &price, Value: 1_950_003})
				}
				return nil
			},
			status: http.StatusOK, wantRemoved: []int64{-70_000_000}, wantCalls: 2,
		},
		{
			name: "a buy fills: the amount read is removed, the bought coins stay (as if bought after)",
			hook: func(t *testing.T, ctx context.Context, u *user, call int) error {
				return apply(ctx, u.id, ledger.Entry{Type: ledger.TypeBuy, Symbol: "BTC", Amount: 10_000_000, Price: &price, Value: 650_002})
			},
			status: http.StatusOK, wantHolding: 10_000_000, wantAvailable: 10_000_000,
			wantRemoved: []int64{-100_000_000}, wantCalls: 1,
		},
		{
			name: "a new sell order every time: 409 after the last attempt, nothing removed",
			hook: func(t *testing.T, ctx context.Context, u *user, call int) error {
				if err := u.h.sells.CancelOpenSells(ctx, u.id, "BTC"); err != nil {
					return err
				}
				u.h.sells.place(t, u.id, "BTC", 10_000_000)
				return nil
			},
			status: http.StatusConflict, code: portfolio.CodeHoldingChanged,
			wantHolding: 100_000_000, wantAvailable: 90_000_000, wantCalls: 3,
		},
		{
			name: "the cancel fails: its error is the answer, nothing removed",
			hook: func(t *testing.T, ctx context.Context, u *user, call int) error {
				return errors.New("trading unavailable")
			},
			status: http.StatusInternalServerError, code: web.CodeInternal,
			wantHolding: 100_000_000, wantAvailable: 100_000_000, wantCalls: 1,
		},
		{
			name: "a second DELETE wins the race: this one re-reads nothing held and answers 404",
			hook: func(t *testing.T, ctx context.Context, u *user, call int) error {
				if call == 1 {
					must(t, u.remove("BTC"), http.StatusOK) // runs its own cancel as call 2
				}
				return nil
			},
			status: http.StatusNotFound, code: web.CodeNotFound, wantRemoved: []int64{-100_000_000}, wantCalls: 2,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := h.newUser("race" + string(rune('a'+i)))
			u.adjust("BTC", 100_000_000)
			calls := 0
			h.onCancel(t, func(ctx context.Context, userID, symbol string) error {
				calls++
				if userID != u.id || symbol != "BTC" {
					t.Errorf("CancelOpenSells(%s, %s)", userID, symbol)
				}
				return tt.hook(t, ctx, u, calls)
			})

			testenv.Expect(t, u.remove("BTC"), tt.status, tt.code)
			if calls != tt.wantCalls {
				t.Errorf("%d CancelOpenSells calls, want %d", calls, tt.wantCalls)
			}
			acc := h.Account(u.id)
			if acc.Holdings["BTC"] != tt.wantHolding || acc.Available["BTC"] != tt.wantAvailable {
				t.Errorf("holding %d, available %d; want %d, %d", acc.Holdings["BTC"], acc.Available["BTC"], tt.wantHolding, tt.wantAvailable)
			}
			var removed []int64
			for _, e := range h.entries(u.id, "BTC") {
				if e.Type == "adjustment" && e.Amount < 0 {
					removed = append(removed, e.Amount)
				}
			}
			if !slices.Equal(removed, tt.wantRemoved) {
				t.Errorf("removal entries %v, want %v", removed, tt.wantRemoved)
			}
			h.AssertLedger(u.id)
		})
	}
}

// TestRemoveUnpricedCoin: a coin without a stored price is removed without price and value (the
// entry mirrors its unpriced addition).
func TestRemoveUnpricedCoin(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	must(t, u.add(addBody("TRX", "5"), ""), http.StatusCreated)
	must(t, u.remove("tron"), http.StatusOK)
	e := h.entries("u1", "TRX")
	if len(e) != 2 || e[1].Amount != -500_000_000 || e[1].Price != nil || e[1].Value != 0 {
		t.Errorf("entries %+v, want +5 and -5 TRX without price or value", e)
	}
	h.AssertLedger("u1")
}
