package portfolio_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestFollowUpFailures: after a holding change's account update, the entry's insert, the audit
// insert and (under a key) the stored response run side by side, and any of them may fail
// without changing the answer: the change happened. What a failure leaves behind is repaired and
// nothing is booked twice:
//   - the entry's insert fails (the audit's too: they race for the fault): the entry stays
//     pending in the account, where the ledger's readers find it once;
//   - storing the response fails: the key's marker must stay (the claim can be taken over), so
//     the account's next update does not remove it, and the takeover books nothing again.
func TestFollowUpFailures(t *testing.T) {
	tests := []struct {
		name   string
		fault  devdb.Fault
		send   func(u *user) testenv.Response
		holds  int64 // BTC held after the request
		keyed  bool
		stored int // BTC entries in transactions right after the request (the setup's is 1)
	}{
		// An unkeyed POST sends two inserts, both after its account update.
		{name: "POST, entry insert", fault: devdb.Fault{Command: "insert", Times: 2, ErrorCode: 1},
			send: func(u *user) testenv.Response { return u.add(addBody("BTC", "0.5"), "") }, holds: 150_000_000, stored: 1},
		// The stored response is a keyed POST's only update (the account update is a findAndModify).
		{name: "POST, stored response", fault: devdb.Fault{Command: "update", Times: 1, ErrorCode: 1},
			send: func(u *user) testenv.Response { return u.add(addBody("BTC", "0.5"), "k1") }, holds: 150_000_000, keyed: true, stored: 2},
		{name: "DELETE, entry insert", fault: devdb.Fault{Command: "insert", Times: 2, ErrorCode: 1},
			send: func(u *user) testenv.Response { return u.remove("BTC") }, holds: 0, stored: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			u.adjust("BTC", 100_000_000)
			u.portfolio() // loads the guard's revocation view

			h.Server.Inject(tt.fault)
			first := tt.send(u)
			h.Server.ClearFaults()
			if first.Status >= 300 {
				t.Fatalf("status %d %s; the change happened, the answer is a success", first.Status, first.Body)
			}
			if acc := h.Account("u1"); acc.Holdings["BTC"] != tt.holds {
				t.Fatalf("holding %d, want %d", acc.Holdings["BTC"], tt.holds)
			}
			stored := 0
			for _, e := range h.Entries("u1") {
				if e.Symbol == "BTC" {
					stored++
				}
			}
			if stored != tt.stored {
				t.Fatalf("%d BTC entries in transactions, want %d", stored, tt.stored)
			}
			// A reader of the ledger (another instance's) lists the change once, recorded or not.
			listed, total, err := h.Ledger.Entries(testCtx(t), "u1", ledger.EntryQuery{Symbol: "BTC"})
			if err != nil || total != 2 || len(listed) != 2 || listed[0].ID == listed[1].ID {
				t.Fatalf("ledger entries %+v (total %d, %v), want the setup's and the change's", listed, total, err)
			}
			entries := len(h.entries("u1", "BTC"))
			h.AssertLedger("u1")

			if !tt.keyed {
				return
			}
			// The account's next update must not carry the marker's removal: the response was
			// not stored, so the claim can still be taken over.
			must(t, u.add(addBody("ETH", "1"), ""), http.StatusCreated)
			if m := h.Account("u1").Markers; len(m) != 1 {
				t.Fatalf("markers %v, want the unstored claim's kept", m)
			}
			testenv.Expect(t, tt.send(u), http.StatusConflict, idempotency.CodeKeyInProgress)
			h.Clock.Advance(idempotency.InFlightTimeout + time.Second)
			must(t, tt.send(u), http.StatusCreated)
			if n := len(h.entries("u1", "BTC")); n != entries {
				t.Fatalf("%d BTC entries after the takeover, want %d (booked once)", n, entries)
			}
			if acc := h.Account("u1"); acc.Holdings["BTC"] != tt.holds {
				t.Fatalf("holding %d after the takeover, want %d", acc.Holdings["BTC"], tt.holds)
			}
			h.AssertLedger("u1")
		})
	}
}

// TestConcurrentHoldingChanges: duplicates of one keyed POST race each other and unkeyed
// additions and removals of another coin on the same account (every one of them one account
// update, its entry recorded beside the other writes, the clean deferred). The key books once and
// every 201 it gets is the same; each removal removes what its read saw or answers 404/409; no
// balance goes negative and the ledger agrees with the balances.
func TestConcurrentHoldingChanges(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.portfolio() // loads the guard's revocation view
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created [][]byte
		bad     []string
	)
	note := func(r testenv.Response, ok ...int) {
		mu.Lock()
		defer mu.Unlock()
		if r.Status == http.StatusCreated && bytes.Contains(r.Body, []byte(`"BTC"`)) {
			created = append(created, r.Body)
		}
		if !slices.Contains(ok, r.Status) {
			bad = append(bad, fmt.Sprintf("%d %s", r.Status, r.Body))
		}
	}
	for i := range 8 {
		wg.Go(func() { note(u.add(addBody("BTC", "0.5"), "burst"), http.StatusCreated, http.StatusConflict) })
		wg.Go(func() { note(u.add(addBody("ETH", fmt.Sprintf("0.%d", i+1)), ""), http.StatusCreated) })
		if i%2 == 0 {
			wg.Go(func() { note(u.remove("ETH"), http.StatusOK, http.StatusNotFound, http.StatusConflict) })
		}
	}
	wg.Wait()
	if len(bad) > 0 || len(created) == 0 {
		t.Fatalf("%d keyed 201s; unexpected answers: %v", len(created), bad)
	}
	for _, b := range created[1:] {
		if !bytes.Equal(b, created[0]) {
			t.Fatalf("two different 201s under one key: %s and %s", created[0], b)
		}
	}
	if n := len(h.entries("u1", "BTC")); n != 1 {
		t.Fatalf("%d BTC entries, want the keyed addition once", n)
	}
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 50_000_000 || acc.Holdings["ETH"] < 0 {
		t.Fatalf("holdings %v", acc.Holdings)
	}
	h.AssertLedger("u1")
}
