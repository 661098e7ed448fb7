package portfolio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// addRoute names the operation for the idempotency store: the same key on another route is
// IDEMPOTENCY_KEY_REUSED.
const addRoute = "POST /api/portfolio/holding"

// Descriptions of the adjustment entries, as the transactions list shows them.
const (
	addedDescription   = "Holding added"
	removedDescription = "Holding removed"
)

// add is POST /api/portfolio/holding: records coins held elsewhere as an adjustment entry,
// idempotent under an Idempotency-Key.
func (s *Service) add(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	a, err := parseAddition(r)
	if err != nil {
		return err
	}
	// The audit insert runs beside storing the response, and the account and the prices are
	// read beside the claim (neither depends on the other; a replay only wastes the read). The
	// handler waits for both, since a Lambda instance is frozen once the handler returns.
	var (
		bg   sync.WaitGroup
		read loaded
	)
	defer bg.Wait()
	read.done = make(chan struct{})
	bg.Go(func() {
		defer close(read.done)
		read.acc, read.prices, read.err = s.load(r.Context(), userID)
	})
	return s.idem.Do(w, r, userID, addRoute, a.fingerprint(), func(ctx context.Context, c *idempotency.Claim) (int, any, error) {
		h, e, cm, err := s.book(ctx, c, userID, a, &read)
		if cm != nil {
			// The change happened (even if answering it failed): record it and audit it.
			bg.Go(func() { cm.RecordOrLeave(ctx) })
			bg.Go(func() { s.audit.Record(r, holdingEvent(audit.ActionHoldingAdded, userID, e)) })
		}
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, addResponse{Message: addedDescription, Holding: h}, nil
	})
}

// book commits the addition (ledger.Commit: step 1 alone) and returns the holding after it and
// the entry booked, with the commit when this request applied it: the caller then records the
// entry (Committed.Record) beside the audit and the stored response. cm is nil when an earlier
// attempt under the same key had booked it (the entry then comes from the ledger and the holding
// from a fresh read).
//
// Under a key the change is re-runnable: the entry id derives from the claim's token and the
// account update carries the claim's marker (GuardDeferred), so it applies at most once per key.
// An update that finds the marker set was applied by the earlier attempt, in the same atomic step
// as the balances. The marker stays until the response is stored; its removal then rides on the
// account's next update through this ledger, like the entry's clean.
func (s *Service) book(ctx context.Context, c *idempotency.Claim, userID string, a addition, read *loaded) (holdingView, ledger.Entry, *ledger.Committed, error) {
	sym := a.Coin.Symbol
	acc, prices, err := read.wait(ctx)
	if isNoAccount(err) {
		return holdingView{}, ledger.Entry{}, nil, accountNotFound(err)
	}
	if err != nil {
		return holdingView{}, ledger.Entry{}, nil, err
	}
	entry, err := addEntry(acc, prices, a)
	if err != nil {
		return holdingView{}, ledger.Entry{}, nil, err
	}
	if c != nil {
		entry.ID = ledger.DerivedID(Name, "add", c.Token())
	}
	filter, set := c.GuardDeferred(func(field string) { s.ledger.DeferUnset(ctx, userID, field) })
	cm, err := s.ledger.Commit(ctx, ledger.Change{UserID: userID, Entries: []ledger.Entry{entry}, Filter: filter, Set: set})
	switch {
	case err == nil:
		// Markers no retry can need any more ride out on the account's next update too.
		s.ledger.DeferUnset(ctx, userID, idempotency.StaleMarkers(cm.Doc, s.now())...)
		// The account as read plus this change: what the change made of it. (A concurrent change
		// is not in it, as in any answer.) The maps are this read's own copies.
		acc.Holdings[sym] += a.Amount
		acc.Available[sym] += a.Amount
		h, err := s.holdingOf(acc, prices, a.Coin.Symbol)
		return h, cm.Entries[0], cm, err
	case c != nil && (errors.Is(err, ledger.ErrPrecondition) || errors.Is(err, ledger.ErrDuplicateEntry)):
		// Applied before (the marker is set, or the entry is still pending): answer from the
		// ledger. The entry must exist, since the marker is set only together with it.
		e, ok, lookErr := s.entry(ctx, userID, entry.ID)
		if lookErr != nil {
			return holdingView{}, ledger.Entry{}, nil, lookErr
		}
		if !ok {
			return holdingView{}, ledger.Entry{}, nil, fmt.Errorf("portfolio: marker of entry %s set but the entry is missing: %w", entry.ID, err)
		}
		acc, prices, err := s.load(ctx, userID)
		if err != nil {
			return holdingView{}, ledger.Entry{}, nil, err
		}
		h, err := s.holdingOf(acc, prices, a.Coin.Symbol)
		return h, e, nil, err
	case isNoAccount(err):
		return holdingView{}, ledger.Entry{}, nil, accountNotFound(err)
	}
	return holdingView{}, ledger.Entry{}, nil, err
}

// loaded is the account and the prices read in the background (Service.load).
type loaded struct {
	done   chan struct{} // closed when the fields are set
	acc    ledger.Account
	prices []market.Price
	err    error
}

func (l *loaded) wait(ctx context.Context) (ledger.Account, []market.Price, error) {
	select {
	case <-l.done:
		return l.acc, l.prices, l.err
	case <-ctx.Done():
		return ledger.Account{}, nil, ctx.Err()
	}
}

// addEntry is the adjustment entry of a, checked against the account as read: the holding stays
// within money.MaxQuantity and, at the coin's stored price, within money.MaxUSD (a 422 on amount
// otherwise, before anything is written). Its price is the stored one, stale or not (a stale
// price does not block recording coins, and it is the best valuation there is); without a stored
// price the entry has none and is valued 0.
func addEntry(acc ledger.Account, prices []market.Price, a addition) (ledger.Entry, error) {
	sym := a.Coin.Symbol
	e := ledger.Entry{Type: ledger.TypeAdjustment, Symbol: sym, Amount: int64(a.Amount), Description: addedDescription}
	total, err := acc.Holdings[sym].Add(a.Amount)
	if err != nil || total > money.MaxQuantity {
		return ledger.Entry{}, web.ValidationError(map[string]string{
			"amount": "must keep the holding at most " + money.MaxQuantity.String() + " coins"})
	}
	p, ok := priceOf(prices, sym)
	if !ok {
		return e, nil
	}
	if _, err := money.Value(total, p.Price, money.RoundDown); err != nil {
		return ledger.Entry{}, web.ValidationError(map[string]string{
			"amount": "must keep the holding worth at most " + money.MaxUSD.String() + " USD at the current price"})
	}
	// Cannot fail: a part of a total that is in range.
	value, err := money.Value(a.Amount, p.Price, money.RoundDown)
	if err != nil {
		return ledger.Entry{}, err
	}
	e.Price, e.Value = &p.Price, value
	return e, nil
}

// holdingOf values acc and returns the holding of symbol, or a zero holding when it is not held
// (an idempotent re-run after the coins were removed again).
func (s *Service) holdingOf(acc ledger.Account, prices []market.Price, symbol string) (holdingView, error) {
	v, err := valuate(acc, prices, s.now())
	if err != nil {
		return holdingView{}, err
	}
	if h, ok := v.holding(symbol); ok {
		return h, nil
	}
	h := holdingView{Symbol: symbol, Name: coinName(symbol)}
	if p, ok := priceOf(prices, symbol); ok {
		h.Price, h.Change = &p.Price, &p.Change24h
	}
	return h, nil
}

// priceOf finds a coin's stored price in a list from the store.
func priceOf(prices []market.Price, symbol string) (market.Price, bool) {
	for _, p := range prices {
		if p.Symbol == symbol {
			return p, true
		}
	}
	return market.Price{}, false
}

// holdingEvent is the HOLDING_ADDED or HOLDING_REMOVED entry of a booked adjustment. Figures are
// decimal strings: details are stored as a document, where a money type would become a bare
// integer of minor units. amount is the quantity added or removed (positive); value is the
// entry's signed valuation.
func holdingEvent(action, userID string, e ledger.Entry) audit.Event {
	q := money.Quantity(e.Amount)
	if q < 0 {
		q = -q
	}
	details := map[string]any{
		"transaction_id": e.ID, "symbol": e.Symbol, "amount": q.String(), "value": e.Value.String(),
	}
	if e.Price != nil {
		details["price"] = e.Price.String()
	}
	return audit.Event{UserID: userID, Action: action, Resource: "holding:" + e.Symbol, Details: details}
}
