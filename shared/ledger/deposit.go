package ledger

import (
	"context"
	"fmt"

	"github.com/cryptovault/serverless/shared/money"
)

// DepositDescription is the description of a deposit booked without one.
const DepositDescription = "Deposit"

// Deposit adds amount (> 0) to the user's cash, booked as one deposit entry, and returns that
// entry. Errors: the money error of a non-positive amount (money.FieldError gives its message),
// and those of Apply. It is not idempotent by itself: a request retried after an ambiguous error
// may deposit twice; the HTTP layer's idempotency keys (Change.Filter/Set) prevent that.
func (l *Ledger) Deposit(ctx context.Context, userID string, amount money.USD, description string) (Entry, error) {
	if err := amount.CheckPositive(); err != nil {
		return Entry{}, fmt.Errorf("ledger: deposit for user %s: %w", userID, err)
	}
	if description == "" {
		description = DepositDescription
	}
	entries, err := l.Apply(ctx, Change{UserID: userID, Entries: []Entry{{
		Type: TypeDeposit, Symbol: CashSymbol, Amount: int64(amount), Value: amount, Description: description,
	}}})
	if err != nil {
		return Entry{}, err
	}
	return entries[0], nil
}
