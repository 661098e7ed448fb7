package trading

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/web"
)

const cancelledMessage = "Order cancelled"

// cancel is POST /api/orders/{id}/cancel (empty body): the order's reservation is released.
// Round trips: find order → account update → (order ∥ audit): 3 sequential, 4 commands.
func (s *Service) cancel(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !validOrderID(id) {
		return notFound()
	}
	ctx := r.Context()
	o, ok, err := s.lookup(ctx, userID, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound()
	}
	if o.Status != Open {
		return notOpen(o.Status)
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	closed, done, err := s.closeOrder(ctx, o, Cancelled, &bg, func(c orderDoc) {
		s.audit.Record(r, orderEvent(audit.ActionOrderCancelled, c))
	})
	if err != nil {
		return ledger.Answer(err)
	}
	if !done {
		return notOpen(closed.Status)
	}
	web.WriteJSON(w, http.StatusOK, orderResponse{Message: cancelledMessage, Order: view(closed)})
	return nil
}

// closeOrder takes the open order o to the final status (cancelled, expired, rejected) without a
// fill, releasing its reservation, in one account update conditioned on its open mark. done is
// false when the mark was gone — another request or matcher run closed it first — and the order
// is then returned as that transition left it (repaired from the account if its document was not
// written yet). With bg the follow-up writes run there (a request); without, they run now and
// the account is settled (the matcher, CancelOpenSells). event records the audit entry.
func (s *Service) closeOrder(ctx context.Context, o orderDoc, status Status, bg *sync.WaitGroup, event func(orderDoc)) (orderDoc, bool, error) {
	now := s.timestamp()
	closed := o
	closed.Status, closed.ClosedAt = status, &now
	cm, err := s.ledger.Commit(ctx, closeChange(closed))
	switch {
	case err == nil:
		if err := s.stepped(stepCommitted); err != nil {
			return orderDoc{}, false, err
		}
		ev := func() { event(closed) }
		if bg == nil {
			return closed, true, s.runNow(ctx, cm, o.UserID, []orderDoc{closed}, ev)
		}
		for _, f := range s.followUps(ctx, cm, o.UserID, []orderDoc{closed}, ev) {
			bg.Go(f)
		}
		return closed, true, nil
	case errors.Is(err, ledger.ErrPrecondition):
		cur, err := s.resolve(ctx, o)
		return cur, false, err
	}
	return orderDoc{}, false, err
}

// resolve finds out what became of o, which the caller read as open but whose open mark is gone
// from the account: the transition that removed the mark left the order's final snapshot in the
// account until its document is written, so either the snapshot is there (written now: this is
// the repair of a transition interrupted between its two steps) or the document shows it.
func (s *Service) resolve(ctx context.Context, o orderDoc) (orderDoc, error) {
	m, err := s.readMarks(ctx, o.UserID)
	if err != nil {
		return orderDoc{}, err
	}
	if w, ok := m.latestWrite(o.ID); ok && w.Status != Open {
		if err := s.materialize(ctx, o.UserID, []orderDoc{w}); err != nil {
			return orderDoc{}, err
		}
		return w, nil
	}
	cur, ok, err := s.findOrder(ctx, o.UserID, o.ID)
	if err != nil {
		return orderDoc{}, err
	}
	if !ok || cur.Status == Open {
		if _, open := m.Open[o.ID]; !open {
			// Neither open in the account nor closed anywhere: not a state this package writes.
			s.log.ErrorContext(ctx, "trading: order open without its account mark", "user_id", o.UserID, "order_id", o.ID)
		}
		return o, nil
	}
	return cur, nil
}

// CancelOpenSells cancels every open sell order of userID for symbol, releasing the coins they
// reserve, so that the whole holding is available (the portfolio function calls it before it
// removes a holding). The account's open marks say what is open — also an order whose document
// was never written — and the documents (or the account's snapshots) say the rest. An order closed
// concurrently (filled by the matcher, say) is left as it is. Nil when nothing is open.
func (s *Service) CancelOpenSells(ctx context.Context, userID, symbol string) error {
	symbol = strings.ToUpper(symbol)
	var (
		wg      sync.WaitGroup
		docs    []orderDoc
		findErr error
	)
	wg.Go(func() { docs, findErr = s.openSells(ctx, userID, symbol) })
	m, err := s.readMarks(ctx, userID)
	wg.Wait()
	if errors.Is(err, ledger.ErrNoAccount) {
		return nil // no account, no orders
	}
	if err = errors.Join(err, findErr); err != nil {
		return fmt.Errorf("trading: cancel open sells: %w", err)
	}
	byID := map[string]orderDoc{}
	for _, o := range docs {
		byID[o.ID] = o
	}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(m.Open)) {
		mark := m.Open[id]
		if mark.Side != Sell || mark.Symbol != symbol {
			continue
		}
		o, ok := byID[id]
		if !ok {
			if o, ok = m.latestWrite(id); !ok || o.Status != Open {
				errs = append(errs, fmt.Errorf("trading: open order %s has neither a document nor a snapshot", id))
				continue
			}
		}
		_, _, err := s.closeOrder(ctx, o, Cancelled, nil, func(c orderDoc) {
			ev := orderEvent(audit.ActionOrderCancelled, c)
			ev.Details["reason"] = "holding removed"
			s.audit.RecordSystem(ctx, ev)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// openSells returns the user's open sell orders of symbol.
func (s *Service) openSells(ctx context.Context, userID, symbol string) ([]orderDoc, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := db.Collection(OrdersCollection).Find(ctx, bson.D{
		{Key: "user_id", Value: userID}, {Key: "status", Value: Open}, {Key: "symbol", Value: symbol}, {Key: "side", Value: Sell},
	})
	if err != nil {
		return nil, fmt.Errorf("trading: find open sells: %w", err)
	}
	var out []orderDoc
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("trading: read open sells: %w", err)
	}
	for i := range out {
		out[i] = out[i].normalised()
	}
	return out, nil
}
