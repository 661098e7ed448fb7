package idempotency

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Claim is a request's hold on an idempotency key, from Begin to Finish. Its methods accept a nil
// receiver, which stands for "no Idempotency-Key": Token is "", Guard adds nothing and Finish does
// nothing, so an operation can be written once for both cases.
type Claim struct {
	s         *Store
	id        string
	owner     string
	token     string
	created   time.Time
	reclaimed bool

	mu      sync.Mutex
	guarded []target // documents whose update carries this claim's marker
	// onStored are the callbacks of GuardDeferred, each with the marker's path.
	onStored []func(field string)
}

// target is a document that Guard protected.
type target struct {
	collection string
	id         any
}

func (s *Store) claim(r record, reclaimed bool) *Claim {
	return &Claim{s: s, id: r.ID, owner: r.Owner, token: r.Token, created: r.CreatedAt, reclaimed: reclaimed}
}

// Token is a random id of the record (32 hex characters), the same for every attempt that runs
// under this key until the key expires — a takeover keeps it, an expired key gets a new one. An
// operation derives the ids of what it creates from it (e.g. ledger.DerivedID(..., token)), so a
// re-run names the same things. Unique per record, so ids derived from it are never reused by a
// later request with the same key. "" for a nil Claim.
func (c *Claim) Token() string {
	if c == nil {
		return ""
	}
	return c.token
}

// Reclaimed reports whether this claim took over from an earlier attempt (abandoned, or released
// after a 5xx): the operation may already have been applied, so a failure that could also mean
// "done before" (e.g. insufficient funds after the earlier attempt spent them) deserves a look at
// what the token's ids name. False for a nil Claim.
func (c *Claim) Reclaimed() bool {
	return c != nil && c.reclaimed
}

// Finish ends the claim with the response sent to the client. A 2xx or 4xx status is stored, and
// later Begins with the same key and request replay it. Any other status (a 5xx) releases the
// claim instead, keeping the record and its token: the retry runs again at once, and its Guard
// still recognises an update that this attempt got through.
//
// After storing a 2xx it removes this claim's markers from the documents passed to Guard (unless
// the claim was reclaimed: see the package documentation) and prunes markers older than
// MarkerRetention there; that housekeeping is best effort, logged on failure and not returned.
// Under the same condition it calls the callbacks given to GuardDeferred, which send nothing.
//
// Errors: ErrClaimLost when the key is no longer this claim's; database errors. After a failed
// Finish the record stays pending and is taken over after InFlightTimeout. Nil for a nil Claim.
func (c *Claim) Finish(ctx context.Context, status int, body []byte) error {
	if c == nil {
		return nil
	}
	db, err := c.s.db(ctx)
	if err != nil {
		return fmt.Errorf("idempotency: finish: %w", err)
	}
	coll := db.Collection(Collection)
	mine := bson.D{{Key: "_id", Value: c.id}, {Key: "owner", Value: c.owner}, {Key: "state", Value: statePending}}

	if !storable(status) {
		res, err := coll.UpdateOne(ctx, mine, bson.D{{Key: "$set", Value: bson.D{
			{Key: "owner", Value: newRandomID()}, {Key: "claimed_at", Value: released},
		}}})
		if err != nil {
			return fmt.Errorf("idempotency: release: %w", err)
		}
		if res.MatchedCount == 0 {
			return ErrClaimLost
		}
		return nil
	}

	res, err := coll.UpdateOne(ctx, mine, bson.D{{Key: "$set", Value: bson.D{
		{Key: "state", Value: stateDone}, {Key: "status", Value: status}, {Key: "body", Value: body},
	}}})
	if err != nil {
		return fmt.Errorf("idempotency: finish: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrClaimLost
	}
	if status < 300 && !c.reclaimed {
		c.clearMarkers(ctx, db)
		c.mu.Lock()
		stored := slices.Clone(c.onStored)
		c.mu.Unlock()
		for _, f := range stored {
			f(c.markerPath())
		}
	}
	return nil
}

// storable: the contract stores 2xx and 4xx outcomes. A 5xx (or a status no handler should
// produce) is not an outcome of the operation but a failure to run it.
func storable(status int) bool {
	return status >= 200 && status < 300 || status >= 400 && status < 500
}
