package trading_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// once makes the harness's hook act at step, the first time only.
func (h *harness) once(step string, act func() error) {
	var done atomic.Bool
	f := func(s string) error {
		if s == step && done.CompareAndSwap(false, true) {
			return act()
		}
		return nil
	}
	h.hook.Store(&f)
}

// inject returns a hook action that injects faults and lets the operation go on.
func inject(h *harness, faults ...devdb.Fault) func() error {
	return func() error {
		for _, f := range faults {
			h.Server.Inject(f)
		}
		return nil
	}
}

// retryUntil sends until the answer is not a 5xx, for up to 15 s: after an outage the client
// needs a moment to find the engine again.
func retryUntil(t *testing.T, send func() testenv.Response) testenv.Response {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := send()
		if r.Status < 500 || time.Now().After(deadline) {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFailedStepsAreRepaired: a market order whose steps fail one at a time — the account update
// itself, the ledger's insert into transactions, the order document's write, the engine stopping
// between the account update and everything after it — and a request that dies right after its
// account update. The client gets an answer that says what happened (a failed account update:
// nothing did), and after one more request the invariant holds with every fill booked once.
func TestFailedStepsAreRepaired(t *testing.T) {
	tests := []struct {
		name string
		// arm prepares the failure (before the order is sent).
		arm func(h *harness)
		// status is the failing request's answer; filled whether the order happened.
		status int
		filled bool
		key    string
		// left is what the failure leaves undone: entries pending (not in transactions) and
		// order documents missing (only in the account).
		pending, unwritten int
	}{
		{name: "account update: error reply",
			arm:    func(h *harness) { h.Server.Inject(devdb.Fault{Command: "findAndModify", Times: 1, ErrorCode: 1}) },
			status: http.StatusInternalServerError},
		{name: "account update: connection dropped",
			arm:    func(h *harness) { h.Server.Inject(devdb.Fault{Command: "findAndModify", Times: 1, Fail: true}) },
			status: http.StatusServiceUnavailable},
		{name: "transactions insert fails",
			// the entries' insert and the audit insert are the only inserts after the update
			arm: func(h *harness) {
				h.once(trading.StepCommitted, inject(h, devdb.Fault{Command: "insert", Times: 2, ErrorCode: 1}))
			},
			status: http.StatusCreated, filled: true, pending: 2},
		{name: "order write fails",
			// the order's bulk upsert is the only update after the update (no key: no stored response)
			arm: func(h *harness) {
				h.once(trading.StepCommitted, inject(h, devdb.Fault{Command: "update", Times: 1, ErrorCode: 1}))
			},
			status: http.StatusCreated, filled: true, unwritten: 1},
		{name: "order write: connection dropped",
			arm: func(h *harness) {
				h.once(trading.StepCommitted, inject(h, devdb.Fault{Command: "update", Times: 1, Fail: true}))
			},
			status: http.StatusCreated, filled: true, unwritten: 1},
		{name: "engine stopped after the account update",
			arm: func(h *harness) {
				h.once(trading.StepCommitted, func() error { return h.Server.StopEngine() })
			},
			status: http.StatusCreated, filled: true, pending: 2, unwritten: 1},
		{name: "request fails after the account update (5xx, claim released)", key: "k",
			arm:    func(h *harness) { h.once(trading.StepCommitted, func() error { return errors.New("lost") }) },
			status: http.StatusInternalServerError, filled: true, pending: 2, unwritten: 1},
		{name: "request crashes after the account update", key: "k",
			arm:    func(h *harness) { h.once(trading.StepCommitted, func() error { panic("crash after commit") }) },
			status: http.StatusInternalServerError, filled: true, pending: 2, unwritten: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			body := marketOrder("buy", "BTC/USD", "0.1")
			tt.arm(h)
			testenv.Expect(t, u.order(body, tt.key), tt.status, "")
			h.hook.Store(nil)
			h.Server.ClearFaults()
			if tt.name == "engine stopped after the account update" {
				if err := h.Server.StartEngine(); err != nil {
					t.Fatal(err)
				}
			}

			acc := h.Account("u1")
			if moved := acc.Cash != int64(moneyenv.StartCash); moved != tt.filled {
				t.Fatalf("cash %d after the failure: filled = %v, want %v", acc.Cash, moved, tt.filled)
			}
			recorded := len(h.Entries("u1")) - 1 // the opening deposit
			if len(acc.Pending) < tt.pending || (tt.pending > 0 && recorded != 0) {
				t.Fatalf("%d entries pending, %d recorded; the failure was meant to leave %d unrecorded", len(acc.Pending), recorded, tt.pending)
			}
			if docs := len(h.orders("u1")); tt.unwritten > 0 && (docs != 0 || len(acc.Writes) != tt.unwritten) {
				t.Fatalf("%d order documents, %d snapshots; the failure was meant to leave %d unwritten", docs, len(acc.Writes), tt.unwritten)
			}

			// One more request: a retry under the same key, or the client's next order.
			var id string
			if tt.key != "" {
				if tt.status == http.StatusInternalServerError && tt.name == "request crashes after the account update" {
					testenv.Expect(t, u.order(body, tt.key), http.StatusConflict, idempotency.CodeKeyInProgress)
					h.Clock.Advance(idempotency.InFlightTimeout + time.Second)
					h.move("BTC", h.prices["BTC"]) // keep the price fresh after the jump
				}
				r := testenv.Expect(t, u.order(body, tt.key), http.StatusCreated, "")
				id = orderOf(t, r)["id"].(string)
			} else {
				r := retryUntil(t, func() testenv.Response { return u.order(marketOrder("buy", "ETH/USD", "0.01"), "") })
				testenv.Expect(t, r, http.StatusCreated, "")
			}

			wantOrders := 2
			if tt.key != "" {
				wantOrders = 1 // the retry found the first attempt's order
			}
			if !tt.filled {
				wantOrders--
			}
			orders := h.orders("u1")
			if len(orders) != wantOrders {
				t.Fatalf("%d orders, want %d: %+v", len(orders), wantOrders, orders)
			}
			if id != "" && (orders[0].ID != id || orders[0].Status != "filled") {
				t.Fatalf("order %+v, the retry answered %s", orders[0], id)
			}
			h.assertInvariant("u1")
		})
	}
}

// TestOrderReadRepairs: an order whose document write failed is found by GET (from the
// account's snapshot, which the read writes) before any other request repairs it.
func TestOrderReadRepairs(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	h.once(trading.StepCommitted, inject(h, devdb.Fault{Command: "update", Times: 1, ErrorCode: 1}))
	id := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.01", "60000"))["id"].(string)
	if n := len(h.orders("u1")); n != 0 {
		t.Fatalf("%d order documents: the write was meant to fail", n)
	}
	got := orderOf(t, testenv.Expect(t, u.get("/api/orders/"+id), http.StatusOK, ""))
	if got["status"] != "open" {
		t.Fatalf("GET %v", got)
	}
	h.assertInvariant("u1") // the reservation belongs to an open order again
	testenv.Expect(t, u.cancel(id), http.StatusOK, "")
	h.assertInvariant("u1")
}

// TestTransitionsInterrupted: a resting order's transition dies between its account update and
// its order document — a placement, a cancel, a matcher fill — or the matcher's final clearing
// fails. The next request or matcher run completes it, and nothing is applied twice.
func TestTransitionsInterrupted(t *testing.T) {
	crossed := func(h *harness) []market.Price {
		return []market.Price{{Symbol: "BTC", Price: 5_900_000_000_000, UpdatedAt: h.Clock.Now()}}
	}
	tests := []struct {
		name   string
		run    func(h *harness, u *user, id string) // the interrupted operation
		repair func(h *harness, u *user, id string) // one more request or matcher run
		want   string                               // the order's final status
	}{
		{name: "matcher fill dies after the account update; next run completes it",
			run: func(h *harness, u *user, id string) {
				h.once(trading.StepCommitted, func() error { return errors.New("crash") })
				if err := h.matcher.Run(testCtx(h.t), crossed(h)); err == nil {
					h.t.Fatal("the interrupted run reported no error")
				}
				if st := h.storedOrder(id).Status; st != "open" {
					h.t.Fatalf("the document says %s: the crash was meant to come first", st)
				}
			},
			repair: func(h *harness, u *user, id string) {
				if err := h.matcher.Run(testCtx(h.t), crossed(h)); err != nil {
					h.t.Fatal(err)
				}
			},
			want: "filled"},
		{name: "matcher fill dies after the account update; the price moves back; the user's next order completes it",
			run: func(h *harness, u *user, id string) {
				h.once(trading.StepCommitted, func() error { return errors.New("crash") })
				_ = h.matcher.Run(testCtx(h.t), crossed(h))
			},
			repair: func(h *harness, u *user, id string) {
				u.placed(marketOrder("buy", "ETH/USD", "0.01"))
			},
			want: "filled"},
		{name: "matcher cannot clear the account after its writes",
			run: func(h *harness, u *user, id string) {
				h.once(trading.StepWritten, inject(h, devdb.Fault{Command: "update", Times: 1, ErrorCode: 1}))
				if err := h.matcher.Run(testCtx(h.t), crossed(h)); err != nil {
					h.t.Fatal(err)
				}
				if acc := h.Account("u1"); len(acc.Pending) == 0 && len(acc.Writes) == 0 {
					h.t.Fatal("nothing left to clear: the fault missed")
				}
			},
			repair: func(h *harness, u *user, id string) { u.placed(marketOrder("buy", "ETH/USD", "0.01")) },
			want:   "filled"},
		{name: "cancel dies after the account update; cancelling again completes it",
			run: func(h *harness, u *user, id string) {
				h.once(trading.StepCommitted, func() error { return errors.New("crash") })
				testenv.Expect(h.t, u.cancel(id), http.StatusInternalServerError, web.CodeInternal)
			},
			repair: func(h *harness, u *user, id string) {
				testenv.Expect(h.t, u.cancel(id), http.StatusConflict, trading.CodeOrderNotOpen)
			},
			want: "cancelled"},
		{name: "cancel dies after the account update; the matcher then finds the order crossed",
			run: func(h *harness, u *user, id string) {
				h.once(trading.StepCommitted, func() error { return errors.New("crash") })
				testenv.Expect(h.t, u.cancel(id), http.StatusInternalServerError, web.CodeInternal)
			},
			repair: func(h *harness, u *user, id string) {
				if err := h.matcher.Run(testCtx(h.t), crossed(h)); err != nil {
					h.t.Fatal(err)
				}
			},
			want: "cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			id := u.placed(limitOrder("limit", "buy", "BTC/USD", "0.1", "60000"))["id"].(string)
			tt.run(h, u, id)
			h.hook.Store(nil)
			h.Server.ClearFaults()
			tt.repair(h, u, id)
			if st := h.storedOrder(id).Status; st != tt.want {
				t.Fatalf("order is %s, want %s", st, tt.want)
			}
			h.assertInvariant("u1")
			if err := h.matcher.Run(testCtx(t), crossed(h)); err != nil { // and again: nothing more
				t.Fatal(err)
			}
			h.assertInvariant("u1")
		})
	}
}

// TestPlacementInterrupted: a resting order's placement dies after its reservation; the order's
// document is written by the user's next order, and the reservation belongs to it.
func TestPlacementInterrupted(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	h.once(trading.StepCommitted, func() error { return errors.New("crash") })
	testenv.Expect(t, u.order(limitOrder("limit", "buy", "BTC/USD", "0.1", "60000"), ""), http.StatusInternalServerError, web.CodeInternal)
	h.hook.Store(nil)
	if acc := h.Account("u1"); acc.Cash == acc.CashAvailable || len(h.orders("u1")) != 0 {
		t.Fatalf("want the reservation made and no document: %+v", acc)
	}
	u.placed(marketOrder("buy", "ETH/USD", "0.01"))
	if n := len(h.orders("u1")); n != 2 {
		t.Fatalf("%d orders after the next request, want 2", n)
	}
	h.assertInvariant("u1")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// And the matcher can fill it now.
	if err := h.matcher.Run(ctx, []market.Price{{Symbol: "BTC", Price: 5_900_000_000_000, UpdatedAt: h.Clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	h.assertInvariant("u1")
}
