package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// Lockout rules of the API contract: failures are counted per email address whether or not an
// account exists (so a lock reveals nothing), the 5th consecutive failure starts a 15-minute lock,
// and attempts during the lock do not extend it.
const (
	attemptsCollection = "login_attempts"
	maxFailures        = 5
	lockDuration       = 15 * time.Minute
)

// attempts is the failure counter of one email address.
type attempts struct {
	Email       string    `bson:"_id"`
	Failures    int       `bson:"failures"`
	LockedUntil time.Time `bson:"locked_until"`
}

func (s *Service) attemptsColl(ctx context.Context) (*mongo.Collection, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.Collection(attemptsCollection), nil
}

// lockedError is the 429 for a locked address, with Retry-After.
func lockedError(until, now time.Time) *web.Error {
	e := web.NewError(http.StatusTooManyRequests, "ACCOUNT_LOCKED", "Too many failed attempts; try again later")
	e.RetryAfter = until.Sub(now)
	return e
}

// checkLock returns the 429 if the address is locked, and the current failure count.
func (s *Service) checkLock(ctx context.Context, email string) (int, error) {
	c, err := s.attemptsColl(ctx)
	if err != nil {
		return 0, err
	}
	var a attempts
	err = c.FindOne(ctx, bson.D{{Key: "_id", Value: email}}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read login attempts: %w", err)
	}
	if now := s.now(); a.LockedUntil.After(now) {
		return 0, lockedError(a.LockedUntil, now)
	}
	return a.Failures, nil
}

// recordFailure counts a failure and, at the 5th consecutive one, starts the lock. It returns
// the 429 when this failure locked the address (the caller answers with it, so the 5th wrong
// password already says "locked").
func (s *Service) recordFailure(r *http.Request, email, userID string) error {
	ctx := r.Context()
	c, err := s.attemptsColl(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	var a attempts
	// One atomic increment: concurrent failures each see a distinct count, so exactly one of
	// them reaches the threshold and starts the lock.
	err = c.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: email}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "failures", Value: 1}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&a)
	if err != nil {
		return fmt.Errorf("count login failure: %w", err)
	}
	if a.Failures != maxFailures {
		return nil
	}
	until := now.Add(lockDuration)
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: email}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "failures", Value: 0}, {Key: "locked_until", Value: until}}}}); err != nil {
		return fmt.Errorf("start lock: %w", err)
	}
	s.audit.Record(r, auditEvent(userID, "ACCOUNT_LOCKED", "failure", map[string]any{"email": email}))
	return lockedError(until, now)
}

// resetFailures clears the count after a success (only when there is something to clear, so a
// normal login costs no extra write).
func (s *Service) resetFailures(ctx context.Context, email string, failures int) error {
	if failures == 0 {
		return nil
	}
	c, err := s.attemptsColl(ctx)
	if err != nil {
		return err
	}
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: email}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "failures", Value: 0}}}}); err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}
	return nil
}
