package trading

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// followUps are the writes that follow an acknowledged account update, none depending on another,
// so they run in parallel: the ledger's entries into transactions (ledger step 2), the order
// documents, the audit entry. Clearing what the account no longer needs (recorded entries,
// written snapshots, old idempotency markers) is deferred to the account's next update
// (ledger.UnsetLater), or done at once by Settle where a caller has time for it (the matcher).
//
// Each write is idempotent and may fail on its own: what it leaves undone is still in the
// account (pending entries, snapshots), where the account's next update through this package
// finds it and repeats it (see pendingWrites), and the ledger's readers flush the entries.
func (s *Service) followUps(ctx context.Context, cm *ledger.Committed, userID string, own []orderDoc, event func()) []func() {
	writes := s.pendingWrites(ctx, cm, userID, own)
	return []func(){
		func() { cm.RecordOrLeave(ctx) }, // detached by Record
		func() {
			wctx, cancel := mongodb.Detach(ctx, writeTimeout)
			defer cancel()
			if err := s.materialize(wctx, userID, writes); err != nil {
				s.log.WarnContext(ctx, "trading: order documents left in the account; the next update writes them",
					"user_id", userID, "orders", len(writes), "error", err.Error())
			}
		},
		event,
	}
}

// pendingWrites are the snapshots to write after cm: the transition's own, then those the account
// still holds from earlier transitions — interrupted ones, or written ones whose removal has not
// ridden on an update of this process yet (rewriting those changes nothing). It also defers the
// removal of idempotency markers older than idempotency.MarkerRetention, which no retry can need
// (the idempotency package prunes the same ones).
func (s *Service) pendingWrites(ctx context.Context, cm *ledger.Committed, userID string, own []orderDoc) []orderDoc {
	writes := slices.Clone(own)
	mine := map[string]bool{}
	for _, o := range own {
		mine[writeKey(o)] = true
	}
	// Each field is decoded on its own, so that one malformed value (a marker written by someone
	// else, say) cannot keep the others from being repaired.
	var left map[string]orderDoc
	if v, err := cm.Doc.LookupErr(writesField); err == nil {
		if err := v.Unmarshal(&left); err != nil {
			s.log.WarnContext(ctx, "trading: order snapshots not decodable; only this order is written", "user_id", userID, "error", err.Error())
		}
	}
	for _, k := range slices.Sorted(maps.Keys(left)) {
		if o := left[k]; !mine[k] && k == writeKey(o) && o.UserID == userID {
			writes = append(writes, o.normalised())
		}
	}

	s.ledger.DeferUnset(ctx, userID, idempotency.StaleMarkers(cm.Doc, s.now())...)
	return writes
}

// runNow runs the follow-ups of a transition the matcher made and waits for them, then clears the
// account at once (ledger.Settle): the matcher has no next request to carry the clearing.
func (s *Service) runNow(ctx context.Context, cm *ledger.Committed, userID string, own []orderDoc, event func()) error {
	var wg sync.WaitGroup
	for _, f := range s.followUps(ctx, cm, userID, own, event) {
		wg.Go(f)
	}
	wg.Wait()
	if err := s.stepped(stepWritten); err != nil {
		return err
	}
	if err := s.ledger.Settle(ctx, userID); err != nil {
		// Harmless: the next update of the account carries the same unsets.
		s.log.WarnContext(ctx, "trading: account not settled; its next update clears it", "user_id", userID, "error", err.Error())
	}
	return nil
}
