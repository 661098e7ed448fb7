package ledger

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

// The command chains of ReadSettled with a read that is one count (cmdlog.Levels). A count is an
// aggregate; the account read is a find.
var (
	countFast    = []string{"aggregate find"}                               // account ∥ count
	countReread  = []string{"aggregate find", "aggregate"}                  // then count again
	countFlushed = []string{"aggregate find", "insert", "aggregate update"} // insert, then count ∥ clear
)

// countOf is a read for ReadSettled: the number of userID's entries in transactions of the given
// types, as a caller outside the package reads them (by the documented shape).
func countOf(e *testEnv, userID string, types []EntryType, n *int64) func(context.Context) error {
	return func(ctx context.Context) error {
		filter := bson.D{{Key: "user_id", Value: userID}}
		if len(types) > 0 {
			filter = append(filter, bson.E{Key: "type", Value: bson.D{{Key: "$in", Value: types}}})
		}
		c, err := e.db.Collection(TransactionsCollection).CountDocuments(ctx, filter)
		*n = c
		return err
	}
}

// expectedCount is what a count of types must say: the user's entries in transactions and in
// pending, each once (the invariant's ledger).
func expectedCount(t *testing.T, e *testEnv, userID string, types []EntryType) int64 {
	t.Helper()
	var n int64
	for _, typ := range types {
		_, total := expectedPage(t, e, userID, EntryQuery{Type: typ})
		n += total
	}
	if len(types) == 0 {
		_, n = expectedPage(t, e, userID, EntryQuery{})
	}
	return n
}

// TestReadSettledPaths: a caller's own read of transactions (a count here; the stats of the
// transactions function are sums and a count) sees every committed entry of the types it names,
// from whichever state the account is in, in one round trip whenever the account shows that
// nothing can have been missed. "other" is another process's Ledger; e.ledger reads.
func TestReadSettledPaths(t *testing.T) {
	later := func(l *Ledger) { l.wall = func() time.Time { return time.Now().Add(2 * cleanSkew) } }
	cash := []EntryType{TypeDeposit, TypeWithdrawal, TypeFee}
	tests := []struct {
		name  string
		setup func(t *testing.T, e *testEnv, other *Ledger)
		types []EntryType
		path  []string
		// stillPending is how many entries the read leaves pending (those of other types).
		stillPending int
		again        []string // the path of a second read (default countFast)
	}{
		{name: "own clean, nothing pending: one round trip",
			setup: func(t *testing.T, e *testEnv, _ *Ledger) {
				if _, err := e.ledger.Deposit(testCtx(t), "u1", 100, ""); err != nil {
					t.Fatal(err)
				}
			},
			types: cash, path: countFast},
		{name: "another process's clean, long before: one round trip",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				if _, err := other.Deposit(testCtx(t), "u1", 100, ""); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			types: cash, path: countFast},
		{name: "another process's clean just now: read again",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				if _, err := other.Deposit(testCtx(t), "u1", 100, ""); err != nil {
					t.Fatal(err)
				}
			},
			types: cash, path: countReread, again: countReread},
		{name: "committed, not in transactions yet: inserted before the second read",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				if _, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(300), fee(2)}}); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			types: cash, path: countFlushed},
		// A count cannot say which pending entries it saw: they are inserted again (duplicates,
		// skipped) rather than counted twice.
		{name: "recorded, clean deferred: not doubled",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				c, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(300), fee(2)}})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Record(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			types: cash, path: countFlushed},
		{name: "pending entries of other types: one round trip",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				adj := Entry{Type: TypeAdjustment, Symbol: "BTC", Amount: 5}
				if _, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{adj}}); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			types: cash, path: countFast, stillPending: 1},
		{name: "every type: a pending adjustment is flushed",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				adj := Entry{Type: TypeAdjustment, Symbol: "BTC", Amount: 5}
				if _, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{adj}}); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			path: countFlushed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.openAccount(t, "u1")
			tt.setup(t, e, e.newLedger(e.client))
			want := expectedCount(t, e, "u1", tt.types)
			wantCash := money.USD(moneycheck.ReadAccount(t, e.db, "u1").Cash)

			var (
				n   int64
				acc Account
				err error
			)
			path := measured(e, func() { acc, err = e.ledger.ReadSettled(testCtx(t), "u1", tt.types, countOf(e, "u1", tt.types, &n)) })
			if err != nil {
				t.Fatalf("ReadSettled: %v", err)
			}
			if n != want {
				t.Errorf("count %d, want %d", n, want)
			}
			if acc.UserID != "u1" || acc.Cash != wantCash {
				t.Errorf("account %s with cash %v, want u1 with %v", acc.UserID, acc.Cash, wantCash)
			}
			if !slices.Equal(path, tt.path) {
				t.Errorf("commands %q, want %q", path, tt.path)
			}
			if got := len(moneycheck.ReadAccount(t, e.db, "u1").Pending); got != tt.stillPending {
				t.Errorf("%d entries pending after the read, want %d", got, tt.stillPending)
			}
			mustFlush(t, e.ledger, "u1")
			assertInvariant(t, e.db, "u1")

			again := tt.again
			if again == nil {
				again = countFast
			}
			path = measured(e, func() { _, err = e.ledger.ReadSettled(testCtx(t), "u1", tt.types, countOf(e, "u1", tt.types, &n)) })
			if err != nil || n != want {
				t.Errorf("second read: count %d (%v), want %d", n, err, want)
			}
			if !slices.Equal(path, again) {
				t.Errorf("second read: commands %q, want %q", path, again)
			}
		})
	}
}

// TestReadSettledNoAccount: a user without an account is ErrNoAccount, whatever the read says.
func TestReadSettledNoAccount(t *testing.T) {
	e := newTestEnv(t)
	var n int64
	if _, err := e.ledger.ReadSettled(testCtx(t), "nobody", nil, countOf(e, "nobody", nil, &n)); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("ReadSettled = %v, want ErrNoAccount", err)
	}
}

// TestReadSettledCleanBetweenReads is TestEntriesCleanBetweenReads for a caller's own read: an
// entry committed before the call, not yet in transactions when the count runs, is recorded and
// cleared from pending before the account is read, so that neither read shows it. The clean stamp
// must send the read down the slow path, which counts it.
func TestReadSettledCleanBetweenReads(t *testing.T) {
	for _, tt := range cleanInterferences {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.openAccount(t, "u1")
			writer := e.newLedger(e.client)
			c, err := writer.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(4_200)}})
			if err != nil {
				t.Fatal(err)
			}
			committed := c.Entries[0].ID

			interfered := interleave(t, e, func() { tt.interfere(t, e, writer, c) })
			var n int64
			_, err = e.ledger.ReadSettled(testCtx(t), "u1", []EntryType{TypeDeposit}, countOf(e, "u1", []EntryType{TypeDeposit}, &n))
			e.ledger.step = nil
			if err != nil {
				t.Fatalf("ReadSettled: %v", err)
			}
			if !interfered.Load() {
				t.Fatal("the interfering change did not run")
			}
			if _, pending := moneycheck.ReadAccount(t, e.db, "u1").Pending[committed]; pending {
				t.Fatalf("entry %s still pending: the interference did not clean it", committed)
			}
			// The opening deposit and the one committed before the read, and perhaps what the
			// interference committed during it.
			if n < 2 || n > 2+int64(tt.commitsDuring) {
				t.Fatalf("count %d, want 2 (+%d committed during the read): the deposit committed before the read is missing", n, tt.commitsDuring)
			}
			mustFlush(t, e.ledger, "u1")
			assertInvariant(t, e.db, "u1")
		})
	}
}
