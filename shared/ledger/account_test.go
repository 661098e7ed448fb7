package ledger

import (
	"errors"
	"sync"
	"testing"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
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
