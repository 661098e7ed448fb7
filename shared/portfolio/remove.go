package portfolio

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// maxRemoveAttempts bounds the read-cancel-update rounds of one DELETE. A round fails only when a
// sell order was placed or filled on the coin between its read and its update; losing three such
// races in a row means the user is trading the coin right now, and a 409 lets them retry.
const maxRemoveAttempts = 3

// remove is DELETE /api/portfolio/holding/{symbol}: cancels the coin's open sell orders, then
// removes the whole holding with one adjustment entry of minus its amount. The concurrency
// argument is in the package documentation ("Removing a holding").
//
// Round trips: account read → account update (findAndModify) → entry ∥ audit: 3 sequential, 4
// commands, when nothing of the coin is reserved (no open sell order to cancel); the entry's
// clean rides on the account's next update.
func (s *Service) remove(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	coin, ok := supportedCoin(r.PathValue("symbol"))
	if !ok {
		return holdingNotFound()
	}
	ctx := r.Context()
	e, cm, err := s.removeHolding(ctx, userID, coin.Symbol)
	if err != nil {
		return err
	}
	// The entry's insert and the audit insert do not depend on each other. The handler waits for
	// both, since a Lambda instance is frozen once the handler returns.
	var bg sync.WaitGroup
	defer bg.Wait()
	bg.Go(func() { cm.RecordOrLeave(ctx) })
	bg.Go(func() { s.audit.Record(r, holdingEvent(audit.ActionHoldingRemoved, userID, e)) })
	web.WriteJSON(w, http.StatusOK, removeResponse{Message: removedDescription})
	return nil
}

// removeHolding runs the rounds of a removal and returns the entry booked and its commit (step 1
// of the ledger alone: the caller records the entry beside the audit).
//
// Each round reads the account and the prices, answers 404 when the coin is not held (without
// touching orders), cancels the coin's open sell orders, and books minus the amount read. The
// ledger conditions that update on holdings.<SYM> and available.<SYM> both being at least that
// amount, which holds only while nothing is reserved. The cancel runs between the read and the
// update on purpose: cancelling changes available amounts, never the holding the read reports,
// and whatever else happens in that window (a fill, a new order) is caught by the conditions.
// It is told what the read shows reserved of the coin, so that it can skip its own reads when
// that is nothing (see Options.CancelOpenSells).
// ErrInsufficientFunds means the coin changed in between: the next round starts over.
func (s *Service) removeHolding(ctx context.Context, userID, symbol string) (ledger.Entry, *ledger.Committed, error) {
	var lost error
	for range maxRemoveAttempts {
		acc, prices, err := s.load(ctx, userID)
		if isNoAccount(err) {
			return ledger.Entry{}, nil, holdingNotFound()
		}
		if err != nil {
			return ledger.Entry{}, nil, err
		}
		amount := acc.Holdings[symbol]
		if amount <= 0 {
			return ledger.Entry{}, nil, holdingNotFound()
		}
		if s.cancelOpenSells != nil {
			if err := s.cancelOpenSells(ctx, userID, symbol, amount-acc.Available[symbol]); err != nil {
				// Nothing removed: coins an order still reserves must not disappear under it.
				return ledger.Entry{}, nil, err
			}
		}
		entry := s.removeEntry(ctx, prices, symbol, amount)
		cm, err := s.ledger.Commit(ctx, ledger.Change{UserID: userID, Entries: []ledger.Entry{entry}})
		switch {
		case err == nil:
			// Markers no retry can need any more ride out on the account's next update.
			s.ledger.DeferUnset(ctx, userID, idempotency.StaleMarkers(cm.Doc, s.now())...)
			return cm.Entries[0], cm, nil
		case errors.Is(err, ledger.ErrInsufficientFunds):
			lost = err
		case isNoAccount(err):
			return ledger.Entry{}, nil, holdingNotFound()
		default:
			return ledger.Entry{}, nil, err
		}
	}
	return ledger.Entry{}, nil, holdingChanged(lost)
}

// removeEntry is the adjustment entry removing amount of symbol, at the stored price (stale or
// not) when there is one. Its value is the negated value of amount rounded down, so that adding
// and removing the same amount at one price book opposite values. A value beyond money.MaxUSD
// (a gigantic holding after a rally) is booked without price and value rather than refused: the
// removal is the way out of that state.
func (s *Service) removeEntry(ctx context.Context, prices []market.Price, symbol string, amount money.Quantity) ledger.Entry {
	e := ledger.Entry{Type: ledger.TypeAdjustment, Symbol: symbol, Amount: -int64(amount), Description: removedDescription}
	p, ok := priceOf(prices, symbol)
	if !ok {
		return e
	}
	value, err := money.Value(amount, p.Price, money.RoundDown)
	if err != nil {
		s.log.WarnContext(ctx, "holding removed without a valuation: its value is out of range",
			"request_id", web.RequestIDFrom(ctx), "symbol", symbol, "error", err.Error())
		return e
	}
	e.Price, e.Value = &p.Price, -value
	return e
}
