package trading

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
)

// createRoute names the operation for the idempotency store: the same key on another route is
// IDEMPOTENCY_KEY_REUSED.
const createRoute = "POST /api/orders"

// Messages of the 201.
const (
	filledMessage = "Order filled"
	placedMessage = "Order placed"
)

type orderResponse struct {
	Message string    `json:"message"`
	Order   orderView `json:"order"`
}

// create is POST /api/orders, idempotent under an Idempotency-Key.
//
// Round trips of a market order (or a marketable limit or stop), see the package documentation:
// with a key, claim → account update → (entries ∥ order ∥ audit ∥ stored response): 3 sequential,
// 6 commands; without, 2 and 4. The price comes from the instance's cache, read beside the claim
// (+1 command, not sequential, when the cache is cold).
func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	req, err := parseOrder(r)
	if err != nil {
		return err
	}
	price := s.priceAsync(r.Context(), req.Symbol)
	// The writes after the account update run in bg beside storing the response; the handler
	// waits for them, since a Lambda instance is frozen once the handler returns.
	var bg sync.WaitGroup
	defer bg.Wait()
	return s.idem.Do(w, r, userID, createRoute, req.fingerprint(), func(ctx context.Context, c *idempotency.Claim) (int, any, error) {
		p, err := price.wait(ctx)
		if err != nil {
			return 0, nil, err
		}
		o, err := s.place(ctx, r, &bg, c, userID, req, p.Price)
		if err != nil {
			return 0, nil, err
		}
		msg := placedMessage
		if o.Status == Filled {
			msg = filledMessage
		}
		return http.StatusCreated, orderResponse{Message: msg, Order: view(o)}, nil
	})
}

// pendingPrice is a price read in flight.
type pendingPrice struct {
	done  chan struct{}
	price market.Price
	err   error
}

// priceAsync reads the symbol's fresh price (market.Store.Fresh: the per-instance cache, 503
// PRICE_STALE when stale) in the background, so that a cold cache's find overlaps the claim.
func (s *Service) priceAsync(ctx context.Context, symbol string) *pendingPrice {
	p := &pendingPrice{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.price, p.err = s.prices.Fresh(ctx, symbol)
	}()
	return p
}

func (p *pendingPrice) wait(ctx context.Context) (market.Price, error) {
	select {
	case <-p.done:
		return p.price, p.err
	case <-ctx.Done():
		return market.Price{}, ctx.Err()
	}
}

// place books the order at the current price p: a market order, a limit order that is already
// marketable and a stop whose trigger is already met execute at once at p; any other limit or stop
// order reserves its funds and rests. Either is one conditional update of the account; the order
// document, the ledger's entries and the audit entry follow in bg.
//
// Under a key the operation is re-runnable: the order id is derived from the claim's token, the
// account update carries the key's marker, and when that update finds the marker set (or the
// derived entries still pending) the attempt this claim took over applied it, and the order the
// id names is the answer.
func (s *Service) place(ctx context.Context, r *http.Request, bg *sync.WaitGroup, c *idempotency.Claim, userID string,
	req orderRequest, p money.Price) (orderDoc, error) {
	now := s.timestamp()
	o := orderDoc{
		ID: bson.NewObjectID().Hex(), UserID: userID, TradingPair: req.Pair, Symbol: req.Symbol,
		Type: req.Type, Side: req.Side, Amount: req.Amount, Price: req.Price, CreatedAt: now,
	}
	if c != nil {
		o.ID = ledger.DerivedID(Name, "order", c.Token())
	}
	var change ledger.Change
	if req.Type == Market || triggered(req.Type, req.Side, *req.Price, p) {
		trade, err := o.fill(p, now)
		if err != nil {
			return orderDoc{}, amountError(err)
		}
		change = fillChange(o, trade, false)
	} else {
		if err := o.rest(now); err != nil {
			return orderDoc{}, amountError(err)
		}
		change = restChange(o)
	}
	guardKey(&change, c.Token(), now)

	cm, err := s.ledger.Commit(ctx, change)
	if err == nil {
		if err := s.stepped(stepCommitted); err != nil {
			return orderDoc{}, err
		}
		if o.Status == Filled {
			s.countFill(ctx)
		}
		ev := func() { s.audit.Record(r, orderEvent(audit.ActionOrderCreated, o)) }
		for _, f := range s.followUps(ctx, cm, userID, []orderDoc{o}, ev) {
			bg.Go(f)
		}
		return o, nil
	}
	applied := errors.Is(err, ledger.ErrPrecondition) || errors.Is(err, ledger.ErrDuplicateEntry)
	// The ledger checks the funds before the caller's filter, so an order that the attempt this
	// claim took over placed, whose re-run now finds the funds short, lands on insufficient funds:
	// look before answering a 422 that would be stored for good. (A claim not taken over has a
	// fresh token: nothing can have been applied under it.)
	if c != nil && (applied || c.Reclaimed() && errors.Is(err, ledger.ErrInsufficientFunds)) {
		prev, ok, lookErr := s.lookup(ctx, userID, o.ID)
		if lookErr != nil {
			return orderDoc{}, lookErr
		}
		if ok {
			return prev, nil
		}
		if applied {
			return orderDoc{}, fmt.Errorf("trading: marker of order %s set but the order is nowhere: %w", o.ID, err)
		}
	}
	return orderDoc{}, ledger.Answer(err)
}

// fill sets o's execution at price p now and returns its trade.
func (o *orderDoc) fill(p money.Price, now time.Time) (money.Trade, error) {
	t, err := tradeAt(o.Side, o.Amount, p)
	if err != nil {
		return money.Trade{}, err
	}
	o.Status, o.FilledPrice, o.Fee, o.Total = Filled, &p, t.Fee, t.Total
	o.FilledAt, o.ClosedAt = &now, &now
	return t, nil
}

// rest makes o an open order holding its reservation, expiring OrderLifetime after now.
func (o *orderDoc) rest(now time.Time) error {
	cash, coins, err := reservation(o.Side, o.Amount, *o.Price)
	if err != nil {
		return err
	}
	expires := now.Add(OrderLifetime)
	o.Status, o.ReservedCash, o.ReservedAmount, o.ExpiresAt = Open, cash, coins, &expires
	return nil
}

// orderEvent is the audit entry of an order transition. Amounts are decimal strings: details are
// stored as a document, where money types would become bare numbers of minor units.
func orderEvent(action string, o orderDoc) audit.Event {
	d := map[string]any{
		"order_id": o.ID, "trading_pair": o.TradingPair, "side": string(o.Side), "order_type": string(o.Type),
		"amount": o.Amount.String(), "status": string(o.Status),
	}
	if o.Price != nil {
		d["price"] = o.Price.String()
	}
	if o.FilledPrice != nil {
		d["filled_price"], d["fee"], d["total"] = o.FilledPrice.String(), o.Fee.String(), o.Total.String()
	}
	return audit.Event{UserID: o.UserID, Action: action, Resource: "order:" + o.ID, Details: d}
}
