package ledger

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Bounds of the deferred unsets a Ledger remembers. They are hints, not state: forgetting one
// only leaves a field in the account until a reader's flush (pending entries) or the owner's own
// repair (caller fields) removes it, so the memory can be capped without any correctness cost.
const (
	maxLaterUsers  = 4096
	maxLaterFields = 512
)

// laterSet remembers, per user, account fields to $unset with the account's next update through
// this Ledger (Apply, Commit or Settle): the third step of a change (clearing pending entries that
// are known to be in transactions) and callers' markers whose purpose is over, riding on an update
// that happens anyway instead of costing a command of their own.
type laterSet struct {
	mu     sync.Mutex
	byUser map[string]map[string]struct{}
}

// add remembers fields for userID, dropping what exceeds the bounds.
func (s *laterSet) add(userID string, fields []string) {
	if len(fields) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser == nil {
		s.byUser = map[string]map[string]struct{}{}
	}
	set, ok := s.byUser[userID]
	if !ok {
		if len(s.byUser) >= maxLaterUsers {
			return // forgetting is safe (see the constants)
		}
		set = map[string]struct{}{}
		s.byUser[userID] = set
	}
	for _, f := range fields {
		if len(set) >= maxLaterFields {
			return
		}
		set[f] = struct{}{}
	}
}

// pending returns userID's deferred fields, sorted so that the same state sends the same command.
func (s *laterSet) pending(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.byUser[userID]))
}

// sent forgets fields after an update that carried them was acknowledged. Fields added in the
// meantime stay.
func (s *laterSet) sent(userID string, fields []string) {
	if len(fields) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.byUser[userID]
	for _, f := range fields {
		delete(set, f)
	}
	if len(set) == 0 {
		delete(s.byUser, userID)
	}
}

// UnsetLater asks the ledger to $unset caller fields of userID's account (dotted paths such as
// "markers.<id>", never a field the ledger manages) with the account's next update through this
// Ledger — Apply, Commit or Settle — instead of a command of their own. It is for fields whose
// removal is safe at any later time (a marker whose order document is written, a marker older
// than any retry); the update skips a field it writes itself. The memory is per process and
// bounded: a field may be forgotten, so the caller must tolerate finding it again.
func (l *Ledger) UnsetLater(userID string, fields ...string) error {
	keys := make(bson.D, 0, len(fields))
	for _, f := range fields {
		if !strings.Contains(f, ".") {
			return fmt.Errorf("ledger: unset later %q: %w: want a dotted path", f, ErrInvalid)
		}
		keys = append(keys, bson.E{Key: f})
	}
	if err := checkExtra(keys); err != nil {
		return fmt.Errorf("ledger: unset later: %w: %v", ErrInvalid, err)
	}
	if !validUserID(userID) {
		return fmt.Errorf("ledger: unset later: %w: bad user id", ErrInvalid)
	}
	l.later.add(userID, fields)
	return nil
}

// DeferUnset is UnsetLater for a caller with nothing to do about its error, which only a
// malformed field gives (a bug): it is logged, and the field stays until whatever else removes it
// (an idempotency marker is pruned by age).
func (l *Ledger) DeferUnset(ctx context.Context, userID string, fields ...string) {
	if len(fields) == 0 {
		return
	}
	if err := l.UnsetLater(userID, fields...); err != nil {
		l.log.WarnContext(ctx, "ledger: unset not deferred", "user_id", userID, "error", err.Error())
	}
}
