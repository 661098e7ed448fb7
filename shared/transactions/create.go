package transactions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
)

// createRoute names the operation for the idempotency store: the same key on another route is
// IDEMPOTENCY_KEY_REUSED.
const createRoute = "POST /api/transactions"

type createResponse struct {
	Message     string          `json:"message"`
	Transaction transactionView `json:"transaction"`
}

// create is POST /api/transactions: a deposit or a withdrawal of cash, idempotent under an
// Idempotency-Key.
//
// Round trips (the architecture's cost budget), in the shape of a market fill: with a key, claim
// (insert) → account update carrying the key's marker (findAndModify) → entry (insert) ∥ audit
// (insert) ∥ stored response (update): 3 sequential, 5 commands; without a key, the account
// update → entry ∥ audit: 2 and 3. The entry's clean and the marker's removal ride on the
// account's next update through this instance's ledger (see move). Until then the entry is
// pending: a read of the ledger on this instance knows it is recorded and stays at one round
// trip, while the first read on another instance pays one more level, as after a fill.
func (s *service) create(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	m, err := parseMovement(r)
	if err != nil {
		return err
	}
	// The entry's insert and the audit insert run beside storing the response; the handler waits
	// for them, since a Lambda instance is frozen once the handler returns.
	var bg sync.WaitGroup
	defer bg.Wait()
	return s.idem.Do(w, r, userID, createRoute, m.fingerprint(), func(ctx context.Context, c *idempotency.Claim) (int, any, error) {
		e, cm, err := s.move(ctx, c, userID, m)
		if err != nil {
			return 0, nil, err
		}
		if cm != nil {
			bg.Go(func() { cm.RecordOrLeave(ctx) })
			bg.Go(func() { s.audit.Record(r, auditEvent(userID, e)) })
		}
		return http.StatusCreated, createResponse{Message: message(e.Type), Transaction: view(e)}, nil
	})
}

// move books the movement as one ledger change (ledger.Commit: its step 1 alone) and returns its
// entry, with the commit when this request applied it: the caller then records the entry
// (Committed.Record), beside its other writes. cm is nil when the change had been applied by an
// earlier attempt with the same key and the entry comes from the ledger.
//
// Under a key the change is re-runnable: its entry id is derived from the claim's token, and the
// account update carries the claim's marker (GuardDeferred), so it applies at most once per key.
// When the update finds the marker set, the earlier attempt applied it (the marker is set in the
// same atomic update as the balances), and the entry with the derived id is the answer. The
// marker stays in the account until the response is stored; then its removal is handed to the
// account's next update through this ledger (UnsetLater), so it costs no command of its own.
func (s *service) move(ctx context.Context, c *idempotency.Claim, userID string, m movement) (ledger.Entry, *ledger.Committed, error) {
	entry := ledger.Entry{
		Type: m.Type, Symbol: ledger.CashSymbol, Amount: int64(m.Amount), Value: m.Amount, Description: m.Description,
	}
	if c != nil {
		entry.ID = ledger.DerivedID(Name, c.Token())
	}
	filter, set := c.GuardDeferred(func(field string) { s.ledger.DeferUnset(ctx, userID, field) })
	cm, err := s.ledger.Commit(ctx, ledger.Change{UserID: userID, Entries: []ledger.Entry{entry}, Filter: filter, Set: set})
	switch {
	case err == nil:
		if s.afterApply != nil {
			if err := s.afterApply(); err != nil {
				return ledger.Entry{}, nil, err
			}
		}
		// Markers that no retry can need any more (left behind by a crash or a takeover) ride out
		// on the account's next update too.
		s.ledger.DeferUnset(ctx, userID, idempotency.StaleMarkers(cm.Doc, s.now())...)
		return cm.Entries[0], cm, nil
	case c != nil && (errors.Is(err, ledger.ErrPrecondition) || errors.Is(err, ledger.ErrDuplicateEntry)):
		// Applied before (the marker is set, or the entry is still pending).
		e, ok, lookErr := s.entry(ctx, userID, entry.ID)
		if lookErr != nil {
			return ledger.Entry{}, nil, lookErr
		}
		if !ok {
			return ledger.Entry{}, nil, fmt.Errorf("transactions: marker of entry %s set but the entry is missing: %w", entry.ID, err)
		}
		return e, nil, nil
	case c.Reclaimed() && errors.Is(err, ledger.ErrInsufficientFunds):
		// The ledger checks the funds before the caller's filter, so a withdrawal applied by the
		// attempt this claim took over, whose re-run now finds the funds short, also lands here:
		// look. (A claim that was not taken over has a fresh token, so nothing can have been
		// applied under it — except by a request that took it over, and then this request can no
		// longer store its answer.) Not knowing is a failure, not a 422: a stored 422 would be
		// replayed for good.
		e, ok, lookErr := s.entry(ctx, userID, entry.ID)
		if lookErr != nil {
			return ledger.Entry{}, nil, lookErr
		}
		if ok {
			return e, nil, nil
		}
	}
	return ledger.Entry{}, nil, ledger.Answer(err)
}

func message(t ledger.EntryType) string {
	if t == ledger.TypeDeposit {
		return "Deposit completed"
	}
	return "Withdrawal completed"
}

// auditEvent is the DEPOSIT or WITHDRAWAL entry of a movement. Amounts are decimal strings:
// details are stored as a document, where money.USD would become a bare number of cents.
func auditEvent(userID string, e ledger.Entry) audit.Event {
	action := audit.ActionWithdrawal
	if e.Type == ledger.TypeDeposit {
		action = audit.ActionDeposit
	}
	return audit.Event{
		UserID: userID, Action: action, Resource: "transaction:" + e.ID,
		Details: map[string]any{"transaction_id": e.ID, "amount": e.Value.String(), "currency": e.Symbol},
	}
}
