package ledger

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

// TestCommitRecordSettle walks the split steps: Commit applies the change and returns the account
// with the caller's fields; Record copies the entries; their clearing rides on the next update
// (here a second Commit), whose own entries Settle clears at once.
func TestCommitRecordSettle(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")

	const price money.Price = 6_500_012_000_000
	q, err := money.QuoteBuy(10_000_000, price)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := e.ledger.Commit(ctx, Change{
		UserID:  "u1",
		Entries: []Entry{trade(TypeBuy, "BTC", 10_000_000, price, q.Value), fee(int64(q.Fee))},
		Set:     bson.D{{Key: "marks.o1", Value: "filled"}},
	})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if cm.Account.Cash != startCash-q.Total || cm.Account.Holdings["BTC"] != 10_000_000 || len(cm.Entries) != 2 {
		t.Fatalf("Commit account = %+v, entries %d", cm.Account, len(cm.Entries))
	}
	if v, err := cm.Doc.LookupErr("marks", "o1"); err != nil || v.StringValue() != "filled" {
		t.Fatalf("caller field in Doc = %v, %v", v, err)
	}
	if n := len(moneycheck.ReadAccount(t, e.db, "u1").Pending); n != 2 {
		t.Fatalf("%d pending after Commit, want 2", n)
	}

	if err := cm.Record(ctx); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 3 {
		t.Fatalf("%d entries after Record, want 3", n)
	}
	if n := len(moneycheck.ReadAccount(t, e.db, "u1").Pending); n != 2 {
		t.Fatalf("%d pending after Record, want 2 (their clearing is deferred)", n)
	}

	// The next update carries the deferred unsets, and the caller's own Unset.
	cm2, err := e.ledger.Commit(ctx, Change{UserID: "u1", Entries: []Entry{withdrawal(100)}, Unset: []string{"marks.o1"}})
	if err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	acc := moneycheck.ReadAccount(t, e.db, "u1")
	if _, ok := acc.Pending[cm2.Entries[0].ID]; len(acc.Pending) != 1 || !ok {
		t.Fatalf("pending after the second Commit = %v, want only its own entry", acc.Pending)
	}
	if _, err := cm2.Doc.LookupErr("marks", "o1"); err == nil {
		t.Fatal("marks.o1 still set after Unset")
	}
	if err := cm2.Record(ctx); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if err := e.ledger.Settle(ctx, "u1"); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); len(acc.Pending) != 0 {
		t.Fatalf("pending after Settle = %v", acc.Pending)
	}
	assertInvariant(t, e.db, "u1")
}

// TestCommitRepairsLeftovers: a Record that fails leaves its entries pending; the next Commit sees
// them in the account and its Record copies them too, once.
func TestCommitRepairsLeftovers(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	cm, err := e.ledger.Commit(ctx, Change{UserID: "u1", Entries: []Entry{withdrawal(300)}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Inject(devdb.Fault{Command: "insert", Times: 1, ErrorCode: 1})
	if err := cm.Record(ctx); err == nil {
		t.Fatal("Record succeeded through an injected failure")
	}
	cm2, err := e.ledger.Commit(ctx, Change{UserID: "u1", Entries: []Entry{withdrawal(200)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm2.docs) != 2 {
		t.Fatalf("second Commit will record %d entries, want its own and the leftover", len(cm2.docs))
	}
	if err := cm2.Record(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cm.Record(ctx); err != nil { // a late retry of the first: all duplicates
		t.Fatal(err)
	}
	if err := e.ledger.Settle(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}
	assertInvariant(t, e.db, "u1")
}

// TestCommitErrors: Commit refuses and explains as Apply does, and changes nothing then.
func TestCommitErrors(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	marker := bson.D{{Key: "marks.k", Value: bson.D{{Key: "$exists", Value: false}}}}
	if _, err := e.ledger.Commit(testCtx(t), Change{UserID: "u1", ReserveCash: 1, Filter: marker, Set: bson.D{{Key: "marks.k", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change Change
		want   error
	}{
		{"no account", Change{UserID: "nobody", Entries: []Entry{withdrawal(1)}}, ErrNoAccount},
		{"insufficient", Change{UserID: "u1", Entries: []Entry{withdrawal(int64(startCash))}}, ErrInsufficientFunds},
		{"precondition", Change{UserID: "u1", ReserveCash: 1, Filter: marker, Set: bson.D{{Key: "marks.k", Value: 1}}}, ErrPrecondition},
		{"set and unset one field", Change{UserID: "u1", ReserveCash: 1, Set: bson.D{{Key: "marks.a", Value: 1}}, Unset: []string{"marks.a"}}, ErrInvalid},
		{"unset a parent of a set field", Change{UserID: "u1", ReserveCash: 1, Set: bson.D{{Key: "marks.a", Value: 1}}, Unset: []string{"marks"}}, ErrInvalid},
		{"unset a managed field", Change{UserID: "u1", ReserveCash: 1, Unset: []string{"pending.x"}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := moneycheck.ReadAccount(t, e.db, "u1")
			if _, err := e.ledger.Commit(testCtx(t), tt.change); !errors.Is(err, tt.want) {
				t.Fatalf("Commit error = %v, want %v", err, tt.want)
			}
			if after := moneycheck.ReadAccount(t, e.db, "u1"); after.Version != before.Version {
				t.Fatal("a refused change moved the version")
			}
		})
	}
}

// TestUnsetLater: deferred caller fields ride on the next update (Apply here), except one that the
// update itself writes; invalid fields are refused.
func TestUnsetLater(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	if _, err := e.ledger.Apply(ctx, Change{UserID: "u1", ReserveCash: 1, Set: bson.D{{Key: "marks.a", Value: 1}, {Key: "marks.b", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.UnsetLater("u1", "marks.a", "marks.b"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"marks"}, {"cash.x"}, {"$or.x"}, {"pending.x"}} {
		if err := e.ledger.UnsetLater("u1", bad...); !errors.Is(err, ErrInvalid) {
			t.Errorf("UnsetLater(%v) = %v, want ErrInvalid", bad, err)
		}
		// DeferUnset refuses the same, with a warning instead of an error.
		before := strings.Count(e.logs.String(), "unset not deferred")
		e.ledger.DeferUnset(ctx, "u1", bad...)
		if strings.Count(e.logs.String(), "unset not deferred") != before+1 {
			t.Errorf("DeferUnset(%v) logged no warning", bad)
		}
	}
	// This update writes marks.b again: that deferred unset is skipped (and kept), marks.a goes.
	if _, err := e.ledger.Apply(ctx, Change{UserID: "u1", ReserveCash: -1, Set: bson.D{{Key: "marks.b", Value: 2}}}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Marks map[string]int `bson:"marks"`
	}
	if err := e.db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Marks) != 1 || doc.Marks["b"] != 2 {
		t.Fatalf("marks = %v, want only b = 2", doc.Marks)
	}
	if err := e.ledger.Settle(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	doc.Marks = nil
	if err := e.db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Marks) != 0 {
		t.Fatalf("marks after Settle = %v", doc.Marks)
	}
	assertInvariant(t, e.db, "u1")
}

// TestAccountSkipsRecorded: reading the account does not flush again the entries this Ledger
// recorded (they are in transactions, their clean rides on the next update), but flushes those it
// does not know to be recorded — an unrecorded change of its own, another Ledger's recorded one —
// and the balances it answers include all of them.
func TestAccountSkipsRecorded(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	if err := e.ledger.Flush(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	other := e.newLedger(e.client) // another instance

	commit := func(l *Ledger, record bool) string {
		t.Helper()
		cm, err := l.Commit(ctx, Change{UserID: "u1", Entries: []Entry{withdrawal(100)}})
		if err != nil {
			t.Fatal(err)
		}
		if record {
			if err := cm.Record(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return cm.Entries[0].ID
	}
	tests := []struct {
		name    string
		l       *Ledger
		record  bool
		flushed bool // the read inserts and cleans it
	}{
		{"recorded here", e.ledger, true, false},
		{"committed here, not recorded", e.ledger, false, true},
		{"recorded by another instance", other, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := commit(tt.l, tt.record)
			before := e.cmds.Mark()
			acc, err := e.ledger.Account(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			sent := len(e.cmds.Since(before))
			stored := moneycheck.ReadAccount(t, e.db, "u1")
			if int64(acc.Cash) != stored.Cash {
				t.Fatalf("cash %d, stored %d", acc.Cash, stored.Cash)
			}
			_, pending := stored.Pending[id]
			if tt.flushed && (pending || sent != 3) || !tt.flushed && (!pending || sent != 1) {
				t.Fatalf("pending after the read: %v, %d commands; want flushed: %v", pending, sent, tt.flushed)
			}
		})
	}
	// The next update carries the deferred clean of the entry recorded here.
	if _, err := e.ledger.Commit(ctx, Change{UserID: "u1", Entries: []Entry{withdrawal(1)}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Flush(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	assertInvariant(t, e.db, "u1")
}
