package transactions_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestRoundTrips counts the database commands of each route (the architecture's cost budget),
// with the guard's revocation view already loaded (its refresh is per instance, not per request).
// The sequential chains are in the comments; commands on one line run in parallel.
func TestRoundTrips(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.get("/api/transactions?limit=1")
	id := txOf(t, testenv.Expect(t, u.post(movement("deposit", "1"), ""), http.StatusCreated, ""))["id"].(string)

	// commit makes a change through another Ledger (another function's instance: the orders
	// function filling an order, say), leaving its entries pending; recorded also copies them to
	// transactions and defers their clean, as a fill does.
	commit := func(recorded bool) func() {
		return func() {
			c, err := h.Ledger.Commit(testCtx(t), ledger.Change{UserID: u.id, Entries: []ledger.Entry{{
				Type: ledger.TypeDeposit, Symbol: ledger.CashSymbol, Amount: 5, Value: 5,
			}}})
			if err != nil {
				t.Fatal(err)
			}
			if recorded {
				if err := c.Record(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tests := []struct {
		name  string
		setup func() // before the counted request
		send  func() int
		want  string // command names, sorted by the order sent where sequential
	}{
		// findAndModify account (commit) → (insert entry ∥ insert audit): 2 sequential, 3
		// commands. The entry's clean rides on the account's next update.
		{name: "POST without key", send: func() int { return u.post(movement("deposit", "1"), "").Status },
			want: "findAndModify insert insert"},
		// insert record → commit (with the key's marker) → (insert entry ∥ insert audit ∥ update
		// record): 3 sequential, 5 commands. The marker's removal rides on the next update too.
		{name: "POST with key", send: func() int { return u.post(movement("deposit", "2"), "rt").Status },
			want: "insert findAndModify insert insert update"},
		// insert record (duplicate) → find record: 2 sequential.
		{name: "POST replay", send: func() int { return u.post(movement("deposit", "2"), "rt").Status },
			want: "insert find"},
		// find pending and clean stamp ∥ find page ∥ count: 1 sequential, 3 commands
		// (ledger.Entries: the POSTs' entries are still pending, their clean deferred, but this
		// instance recorded them before the read: they are in transactions).
		{name: "GET list", send: func() int { return u.get("/api/transactions").Status },
			want: "find find aggregate"},
		// The first read after another instance's change whose clean was deferred: its entry is
		// pending and on the page, so (find pending ∥ find page ∥ count) → (find page ∥ count ∥
		// clear pending): 2 sequential, 6 commands.
		{name: "GET list after a deferred clean", setup: commit(true), send: func() int { return u.get("/api/transactions").Status },
			want: "find find aggregate find aggregate update"},
		// An entry committed but not yet in transactions: (find pending ∥ find page ∥ count) →
		// insert it → (find page ∥ count ∥ clear pending): 3 sequential, 7 commands.
		{name: "GET list after an unrecorded change", setup: commit(false), send: func() int { return u.get("/api/transactions").Status },
			want: "find find aggregate insert find aggregate update"},
		// Cleaned by this instance: one round trip again.
		{name: "GET list again", send: func() int { return u.get("/api/transactions").Status },
			want: "find find aggregate"},
		// find pending (flush) ∥ find entry: 1 sequential, 2 commands.
		{name: "GET one", send: func() int { return u.get("/api/transactions/" + id).Status },
			want: "find find"},
		// find account (balance, pending entries and clean stamp) ∥ sum ∥ count: 1 sequential, 3
		// commands (ledger.ReadSettled: the last clean is this instance's own).
		{name: "GET stats", send: func() int { return u.get("/api/transactions/stats/overview").Status },
			want: "find aggregate aggregate"},
		// After another instance's change whose clean was deferred: its entry is pending, and a
		// sum cannot tell whether it is in it, so (find account ∥ sum ∥ count) → insert it (a
		// duplicate) → (sum ∥ count ∥ clear pending): 3 sequential, 7 commands.
		{name: "GET stats after a deferred clean", setup: commit(true), send: func() int { return u.get("/api/transactions/stats/overview").Status },
			want: "find aggregate aggregate insert aggregate aggregate update"},
		// The same after a change not yet in transactions.
		{name: "GET stats after an unrecorded change", setup: commit(false), send: func() int { return u.get("/api/transactions/stats/overview").Status },
			want: "find aggregate aggregate insert aggregate aggregate update"},
		// Cleaned by this instance: one round trip again.
		{name: "GET stats again", send: func() int { return u.get("/api/transactions/stats/overview").Status },
			want: "find aggregate aggregate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			before := h.Commands.Mark()
			if status := tt.send(); status >= 300 {
				t.Fatalf("status %d", status)
			}
			got := cmdlog.Names(h.Commands.Since(before))
			if sorted(got) != sorted(strings.Fields(tt.want)) {
				t.Fatalf("commands %v, want %s", got, tt.want)
			}
			t.Logf("%d commands: %v", len(got), got)
		})
	}
}

// sorted compares command lists regardless of the order of parallel commands.
func sorted(names []string) string {
	c := slices.Clone(names)
	slices.Sort(c)
	return strings.Join(c, " ")
}
