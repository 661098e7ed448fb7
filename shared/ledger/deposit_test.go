package ledger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

func TestDeposit(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	tests := []struct {
		name        string
		amount      money.USD
		description string
		wantDesc    string
		err         error
		field       string // money.FieldError of err
	}{
		{"one cent", 1, "", DepositDescription, nil, ""},
		{"with description", 250_000, "Wire from bank", "Wire from bank", nil, ""},
		{"zero", 0, "", "", money.ErrZero, "must be greater than 0"},
		{"negative", -100, "", "", money.ErrNegative, "must not be negative"},
	}
	balance := startCash
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.ledger.Deposit(ctx, "u1", tt.amount, tt.description)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || money.FieldError(err) != tt.field {
					t.Fatalf("Deposit error = %v (%q), want %v (%q)", err, money.FieldError(err), tt.err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Deposit: %v", err)
			}
			balance += tt.amount
			if got.Type != TypeDeposit || got.Amount != int64(tt.amount) || got.Value != tt.amount || got.UserID != "u1" ||
				got.Description != tt.wantDesc || got.Status != StatusCompleted || !validID(got.ID) || got.CreatedAt.IsZero() {
				t.Fatalf("entry = %+v", got)
			}
			acc, err := e.ledger.Account(ctx, "u1")
			if err != nil || acc.Cash != balance || acc.CashAvailable != balance {
				t.Fatalf("Account = %+v, %v; want cash %s", acc, err, balance)
			}
		})
	}
	assertInvariant(t, e.db, "u1")
}

// TestConcurrentDeposits: 100 deposits at once, from 100 goroutines over 4 independent clients
// (separate pools, as separate Lambda instances would be) for 3 users. Every deposit lands
// exactly once, in the balance and in the ledger.
func TestConcurrentDeposits(t *testing.T) {
	e := newTestEnv(t)
	users := []string{"u1", "u2", "u3"}
	for _, u := range users {
		e.openAccount(t, u)
	}
	ledgers := []*Ledger{e.ledger}
	for range 3 {
		ledgers = append(ledgers, e.newLedger(newClient(t, e.srv, 5*time.Second, nil)))
	}

	const n = 100
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sums = map[string]money.USD{}
		errs []error
	)
	for i := range n {
		user, l, amount := users[i%len(users)], ledgers[i%len(ledgers)], money.USD(i+1)
		wg.Go(func() {
			_, err := l.Deposit(testCtx(t), user, amount, fmt.Sprintf("deposit %d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			sums[user] += amount
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d deposits failed, first: %v", len(errs), errs[0])
	}
	total := 0
	for _, u := range users {
		mustFlush(t, e.ledger, u)
		acc := moneycheck.ReadAccount(t, e.db, u)
		if want := int64(startCash + sums[u]); acc.Cash != want || acc.CashAvailable != want {
			t.Errorf("%s: cash %d, available %d; want %d", u, acc.Cash, acc.CashAvailable, want)
		}
		entries := moneycheck.ReadEntries(t, e.db, u)
		if want := 1 + (n+len(users)-1-indexOf(users, u))/len(users); len(entries) != want {
			t.Errorf("%s: %d entries, want %d", u, len(entries), want)
		}
		total += len(entries)
		assertInvariant(t, e.db, u)
	}
	if total != n+len(users) {
		t.Errorf("%d entries in all, want %d", total, n+len(users))
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
