package trading

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
)

// matcherWorkers bounds the users whose orders one run processes at once. Different users'
// accounts are different documents, so they proceed in parallel; one user's orders go one after
// the other, since they all update that user's account.
const matcherWorkers = 4

// Matcher executes resting orders: after each price refresh it fills the open limit and stop
// orders the new prices trigger, rejects those that cannot be filled, and expires those older
// than OrderLifetime. Any number of runs may overlap (a slow run and the next schedule, several
// instances): each order leaves open at most once, because every transition is conditioned on the
// order's open mark in its account and removes it in the same update.
type Matcher struct {
	s *Service
}

// NewMatcher returns a Matcher working through s.
func NewMatcher(s *Service) *Matcher { return &Matcher{s: s} }

// matchResult counts what a run did, for its log line.
type matchResult struct {
	filled, rejected, expired, lost atomic.Int64 // lost: closed by someone else first
}

// Run is the prices function's AfterRefresh hook: it reads the open orders (by status and symbol,
// the status_symbol index) and decides in Go which of them the refresh's prices trigger and which
// have expired. Prices older than PRICE_MAX_AGE trigger nothing (trading refuses them too);
// expiry does not need a price. A limit order fills at its limit price, a stop at the refresh's
// price. A failure on one order does not stop the others; the errors are returned together (the
// run is a failed invocation, and the next run retries what is still open).
func (m *Matcher) Run(ctx context.Context, prices []market.Price) error {
	s := m.s
	now := s.timestamp()
	fresh := make(map[string]money.Price, len(prices))
	for _, p := range prices {
		if p.Price > 0 && now.Sub(p.UpdatedAt) <= s.maxAge {
			fresh[p.Symbol] = p.Price
		}
	}
	orders, err := s.openOrders(ctx)
	if err != nil {
		return err
	}

	type action struct {
		o      orderDoc
		price  money.Price
		expire bool
	}
	byUser := map[string][]action{}
	for _, o := range orders {
		switch p, ok := fresh[o.Symbol]; {
		case o.ExpiresAt != nil && !now.Before(*o.ExpiresAt):
			byUser[o.UserID] = append(byUser[o.UserID], action{o: o, expire: true})
		case ok && o.Price != nil && o.Type != Market && triggered(o.Type, o.Side, *o.Price, p):
			byUser[o.UserID] = append(byUser[o.UserID], action{o: o, price: p})
		}
	}

	var (
		res  matchResult
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, matcherWorkers)
	)
	for _, userID := range slices.Sorted(maps.Keys(byUser)) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, a := range byUser[userID] {
				var err error
				if a.expire {
					err = s.expire(ctx, a.o, &res)
				} else {
					err = s.fillResting(ctx, a.o, a.price, &res)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("order %s: %w", a.o.ID, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	s.log.InfoContext(ctx, "trading: matcher run", "open", len(orders), "filled", res.filled.Load(),
		"rejected", res.rejected.Load(), "expired", res.expired.Load(), "closed_elsewhere", res.lost.Load(),
		"failed", len(errs))
	return err
}

// openOrders reads every open order of a supported coin, oldest first.
func (s *Service) openOrders(ctx context.Context) ([]orderDoc, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, fmt.Errorf("trading: matcher: %w", err)
	}
	cur, err := db.Collection(OrdersCollection).Find(ctx,
		bson.D{{Key: "status", Value: Open}, {Key: "symbol", Value: bson.D{{Key: "$in", Value: coinSymbols()}}}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("trading: matcher: find open orders: %w", err)
	}
	var out []orderDoc
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("trading: matcher: read open orders: %w", err)
	}
	for i := range out {
		out[i] = out[i].normalised()
	}
	return out, nil
}

// fillResting executes the open order o, triggered at market price p: one account update that
// books the buy or sell and the fee (entry ids derived from the order id), releases the
// reservation and removes the open mark, conditioned on that mark; then the entries, the order
// document and the audit entry; then the account is settled.
//
// A buy whose execution costs more than it reserved (a stop above its trigger) takes the
// difference from the available cash; without enough, or a sell the fee would swallow at this
// price, the order is rejected instead (its reservation released, nothing filled). When the mark
// is gone another run closed the order first, and only its document is completed (resolve).
func (s *Service) fillResting(ctx context.Context, o orderDoc, p money.Price, res *matchResult) error {
	now := s.timestamp()
	filled := o
	trade, err := filled.fill(restingFillPrice(o, p), now)
	if err != nil {
		return s.reject(ctx, o, res)
	}
	cm, err := s.ledger.Commit(ctx, fillChange(filled, trade, true))
	switch {
	case err == nil:
		if err := s.stepped(stepCommitted); err != nil {
			return err
		}
		res.filled.Add(1)
		s.countFill(ctx)
		return s.runNow(ctx, cm, o.UserID, []orderDoc{filled}, func() {
			s.audit.RecordSystem(ctx, orderEvent(audit.ActionOrderFilled, filled))
		})
	case errors.Is(err, ledger.ErrInsufficientFunds) && o.Side == Buy:
		// Short of cash, or closed meanwhile (the ledger reports funds before the mark): the
		// rejection is conditioned on the mark too, and tells which.
		return s.reject(ctx, o, res)
	case errors.Is(err, ledger.ErrPrecondition), errors.Is(err, ledger.ErrDuplicateEntry), errors.Is(err, ledger.ErrInsufficientFunds):
		res.lost.Add(1)
		_, err := s.resolve(ctx, o)
		return err
	}
	return err
}

// reject closes o as rejected: its reservation is released and nothing is filled.
func (s *Service) reject(ctx context.Context, o orderDoc, res *matchResult) error {
	_, done, err := s.closeOrder(ctx, o, Rejected, nil, func(c orderDoc) {
		s.audit.RecordSystem(ctx, orderEvent(ActionOrderRejected, c))
	})
	if done {
		res.rejected.Add(1)
	} else if err == nil {
		res.lost.Add(1)
	}
	return err
}

// expire closes o as expired, releasing its reservation.
func (s *Service) expire(ctx context.Context, o orderDoc, res *matchResult) error {
	_, done, err := s.closeOrder(ctx, o, Expired, nil, func(c orderDoc) {
		s.audit.RecordSystem(ctx, orderEvent(ActionOrderExpired, c))
	})
	if done {
		res.expired.Add(1)
	} else if err == nil {
		res.lost.Add(1)
	}
	return err
}
