package ledger

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

func TestOpenAccount(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")

	acc, err := e.ledger.Account(ctx, "u1")
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if acc.UserID != "u1" || acc.Cash != startCash || acc.CashAvailable != startCash || len(acc.Holdings) != 0 {
		t.Fatalf("Account = %+v, want cash %s and no holdings", acc, startCash)
	}
	entries, total, err := e.ledger.Entries(ctx, "u1", EntryQuery{})
	if err != nil || total != 1 || len(entries) != 1 {
		t.Fatalf("Entries = %v, %d, %v; want one", entries, total, err)
	}
	got := entries[0]
	if got.Type != TypeDeposit || got.Symbol != CashSymbol || got.Amount != int64(startCash) || got.Value != startCash ||
		got.Description != StartingBalanceDescription || got.Status != StatusCompleted || got.Price != nil ||
		got.OrderID != "" || got.ID != DerivedID("open-account", "u1") || got.CreatedAt.IsZero() {
		t.Fatalf("opening entry = %+v", got)
	}

	// Again, also with another amount (a retried signup): no error, no second deposit.
	for _, cash := range []money.USD{startCash, 5} {
		if err := e.ledger.OpenAccount(ctx, "u1", cash); err != nil {
			t.Fatalf("OpenAccount again: %v", err)
		}
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 1 {
		t.Fatalf("%d entries after reopening, want 1", n)
	}
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); acc.Cash != int64(startCash) {
		t.Fatalf("cash %d after reopening, want %d", acc.Cash, startCash)
	}
	assertInvariant(t, e.db, "u1")
}

func TestOpenAccountConcurrent(t *testing.T) {
	e := newTestEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- e.ledger.OpenAccount(testCtx(t), "u1", startCash) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("OpenAccount: %v", err)
		}
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	assertInvariant(t, e.db, "u1")
}

// TestOpenAccountCrashBeforeFlush: the account insert succeeds, then the opening deposit cannot be
// copied to transactions (a crash or an outage at that moment). OpenAccount still succeeds (the
// account exists); the deposit stays pending; the retried signup's OpenAccount repairs it.
func TestOpenAccountCrashBeforeFlush(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.ledger.step = func(name string) {
		if name == stepCommitted {
			e.srv.Inject(devdb.Fault{Command: "insert", Times: 1, ErrorCode: 91, ErrorMessage: "shutdown in progress"})
		}
	}
	if err := e.ledger.OpenAccount(ctx, "u1", startCash); err != nil {
		t.Fatalf("OpenAccount: %v", err)
	}
	e.ledger.step = nil
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); len(acc.Pending) != 1 || acc.Cash != int64(startCash) {
		t.Fatalf("after the failed flush: %+v, want cash and one pending entry", acc)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 0 {
		t.Fatalf("%d entries in transactions, want 0 before the repair", n)
	}
	if err := e.ledger.OpenAccount(ctx, "u1", startCash); err != nil {
		t.Fatalf("OpenAccount again: %v", err)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 1 {
		t.Fatalf("%d entries after the repair, want 1", n)
	}
	assertInvariant(t, e.db, "u1")
}

func TestOpenAccountZeroCash(t *testing.T) {
	e := newTestEnv(t)
	if err := e.ledger.OpenAccount(testCtx(t), "u0", 0); err != nil {
		t.Fatalf("OpenAccount: %v", err)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u0")); n != 0 {
		t.Fatalf("%d entries, want none for zero starting cash", n)
	}
	assertInvariant(t, e.db, "u0")
}

func TestOpenAccountInvalid(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name   string
		userID string
		cash   money.USD
	}{
		{"empty user", "", startCash},
		{"negative cash", "u1", -1},
		{"too much cash", "u1", money.MaxUSD + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.ledger.OpenAccount(testCtx(t), tt.userID, tt.cash); !errors.Is(err, ErrInvalid) {
				t.Fatalf("OpenAccount error = %v, want ErrInvalid", err)
			}
			if cm, err := e.ledger.CommitOpening(testCtx(t), tt.userID, tt.cash); cm != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("CommitOpening = %+v, %v; want ErrInvalid", cm, err)
			}
		})
	}
}

func TestUnknownUser(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "someone-else")
	tests := []struct {
		name string
		call func() error
	}{
		{"Account", func() error { _, err := e.ledger.Account(ctx, "nobody"); return err }},
		{"Flush", func() error { return e.ledger.Flush(ctx, "nobody") }},
		{"Entries", func() error { _, _, err := e.ledger.Entries(ctx, "nobody", EntryQuery{}); return err }},
		{"Deposit", func() error { _, err := e.ledger.Deposit(ctx, "nobody", 100, ""); return err }},
		{"Apply withdrawal", func() error {
			_, err := e.ledger.Apply(ctx, Change{UserID: "nobody", Entries: []Entry{{Type: TypeWithdrawal, Symbol: CashSymbol, Amount: 1, Value: 1}}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNoAccount) {
				t.Fatalf("error = %v, want ErrNoAccount", err)
			}
		})
	}
}

// TestCommitOpening walks the split opening: the insert alone commits the account with its deposit
// pending; Record copies the deposit to transactions and leaves its clearing to the account's next
// update; whatever happens after the insert, the deposit ends up in transactions exactly once.
func TestCommitOpening(t *testing.T) {
	tests := []struct {
		name string
		// after runs once the opening is committed (and recorded, if record): what follows it.
		record bool
		after  func(t *testing.T, e *testEnv)
		// stillPending is whether the deposit is pending once after has run.
		stillPending bool
	}{
		{name: "recorded, then the next update clears it", record: true, after: func(t *testing.T, e *testEnv) {
			if _, err := e.ledger.Apply(testCtx(t), Change{UserID: "u1", Entries: []Entry{withdrawal(100)}}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
		}},
		{name: "recorded, then the first read flushes it", record: true, after: func(t *testing.T, e *testEnv) {
			// Another process's ledger: its read finds the deposit pending and clears it.
			if _, n, err := e.newLedger(e.client).Entries(testCtx(t), "u1", EntryQuery{}); err != nil || n != 1 {
				t.Fatalf("Entries = %d, %v; want the deposit", n, err)
			}
		}},
		{name: "crash before Record: a read repairs", record: false, after: func(t *testing.T, e *testEnv) {
			if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 0 {
				t.Fatalf("%d entries before any read, want 0", n)
			}
			if acc, err := e.newLedger(e.client).Account(testCtx(t), "u1"); err != nil || acc.Cash != startCash {
				t.Fatalf("Account = %+v, %v", acc, err)
			}
		}},
		{name: "crash before Record: a repeated opening repairs", record: false, after: func(t *testing.T, e *testEnv) {
			// Another amount: the repair copies what the account holds, not what this call says.
			cm, err := e.ledger.CommitOpening(testCtx(t), "u1", 5)
			if err != nil || len(cm.Entries) != 0 {
				t.Fatalf("CommitOpening again = %+v, %v; want nothing committed", cm, err)
			}
			if err := cm.Record(testCtx(t)); err != nil {
				t.Fatalf("Record of the repeated opening: %v", err)
			}
		}},
		{name: "recorded, nothing after", record: true, after: func(*testing.T, *testEnv) {}, stillPending: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := testCtx(t)
			mark := e.cmds.Mark()
			cm, err := e.ledger.CommitOpening(ctx, "u1", startCash)
			if err != nil {
				t.Fatalf("CommitOpening: %v", err)
			}
			if got := cmdlog.Names(e.cmds.Since(mark)); !slices.Equal(got, []string{"insert"}) {
				t.Fatalf("CommitOpening sent %v, want one insert", got)
			}
			if len(cm.Entries) != 1 || cm.Entries[0].ID != DerivedID("open-account", "u1") || cm.Entries[0].Amount != int64(startCash) ||
				cm.Account.Cash != startCash || cm.Account.CashAvailable != startCash || cm.Account.Version != 1 {
				t.Fatalf("Committed = entries %+v, account %+v", cm.Entries, cm.Account)
			}
			if v, err := cm.Doc.LookupErr("pending", cm.Entries[0].ID, "amount"); err != nil || v.Int64() != int64(startCash) {
				t.Fatalf("Doc's pending deposit = %v, %v", v, err)
			}
			if tt.record {
				mark = e.cmds.Mark()
				if err := cm.Record(ctx); err != nil {
					t.Fatalf("Record: %v", err)
				}
				if got := cmdlog.Names(e.cmds.Since(mark)); !slices.Equal(got, []string{"insert"}) {
					t.Fatalf("Record sent %v, want one insert (the clear is deferred)", got)
				}
				if n := len(moneycheck.ReadAccount(t, e.db, "u1").Pending); n != 1 {
					t.Fatalf("%d pending after Record, want 1", n)
				}
			}
			tt.after(t, e)
			id := DerivedID("open-account", "u1")
			deposits := 0
			for _, en := range moneycheck.ReadEntries(t, e.db, "u1") {
				if en.ID == id {
					deposits++
				}
			}
			if deposits != 1 {
				t.Fatalf("the deposit is %d times in transactions, want once", deposits)
			}
			acc := moneycheck.ReadAccount(t, e.db, "u1")
			if _, pending := acc.Pending[id]; pending != tt.stillPending || len(acc.Pending) > 1 {
				t.Fatalf("pending = %v, want the deposit pending: %v", acc.Pending, tt.stillPending)
			}
			if tt.stillPending {
				// Balance = transactions + pending holds with the deposit in both (a flush's
				// duplicates are skipped): the invariant check wants it cleared, so clear it.
				mustFlush(t, e.ledger, "u1")
			}
			assertInvariant(t, e.db, "u1")
		})
	}
}

// TestCommitOpeningConcurrent: signups racing on one user id (a retried request on two instances)
// commit the opening once; every Record, of the opening or of the repeats, leaves one deposit.
func TestCommitOpeningConcurrent(t *testing.T) {
	e := newTestEnv(t)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed int
	)
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			cm, err := e.ledger.CommitOpening(testCtx(t), "u1", startCash)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			committed += len(cm.Entries)
			mu.Unlock()
			errs <- cm.Record(testCtx(t))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("CommitOpening or Record: %v", err)
		}
	}
	if committed != 1 {
		t.Fatalf("%d openings committed a deposit, want 1", committed)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	mustFlush(t, e.ledger, "u1")
	assertInvariant(t, e.db, "u1")
}

func TestCommitOpeningZeroCash(t *testing.T) {
	e := newTestEnv(t)
	cm, err := e.ledger.CommitOpening(testCtx(t), "u0", 0)
	if err != nil || len(cm.Entries) != 0 {
		t.Fatalf("CommitOpening = %+v, %v; want no entry", cm, err)
	}
	mark := e.cmds.Mark()
	if err := cm.Record(testCtx(t)); err != nil || e.cmds.Count(mark) != 0 {
		t.Fatalf("Record = %v after %d commands, want nothing to do", err, e.cmds.Count(mark))
	}
	assertInvariant(t, e.db, "u0")
}
