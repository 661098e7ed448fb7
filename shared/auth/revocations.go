package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// RevocationRefreshInterval is the default age after which IsRevoked refreshes its view before
// answering (api.md: a revocation reaches every instance within 10 s; the view is refreshed
// whenever it is older than 5 s).
const RevocationRefreshInterval = 5 * time.Second

// RevocationMaxStaleness bounds how old a view may be and still be used when a refresh fails.
//
// The choice: during a database outage, answering from a view up to a minute old keeps requests
// that do not need the database working and avoids turning a short blip into a wave of 503s; the
// price is that a revocation made on another instance during the outage may take up to this long
// to be seen here (revocations made by this process are still immediate). Past the bound the
// view is no longer trusted and IsRevoked fails, so the request gets 503 DATABASE_UNAVAILABLE
// rather than being let through on stale data.
const RevocationMaxStaleness = 60 * time.Second

// revocationOverlap is subtracted from the last refresh's start when asking for newer
// revocations: revoked_at is stamped by another instance's clock, and its write may commit
// after our query ran, so the windows overlap rather than touch. Re-reading a few ids is cheap.
const revocationOverlap = 30 * time.Second

// revocationRetryAfterFailure spaces refresh attempts while the database fails, so that each
// request does not wait for its own server-selection timeout.
const revocationRetryAfterFailure = time.Second

// revocationRefreshTimeout bounds one refresh. The refresh is shared by every waiting request, so
// it runs detached from the first caller's cancellation, and needs its own limit.
const revocationRefreshTimeout = 5 * time.Second

// localRevocationTTL is how long a session revoked through Revoke is remembered before the
// database has reported it (and so its expires_at). Normally the next refresh reports it; only if
// the caller's database update failed does the entry fall back to this, and then the session is
// not revoked in the database either, so forgetting it agrees with every other instance.
const localRevocationTTL = 24 * time.Hour

// RevocationsOptions configures NewRevocations.
type RevocationsOptions struct {
	// DB returns the database holding the sessions collection (mongodb.Client.Database).
	DB func(ctx context.Context) (*mongo.Database, error)
	// Interval is the age after which the view is refreshed before use; 0 means
	// RevocationRefreshInterval.
	Interval time.Duration
	// Now replaces time.Now, in tests.
	Now func() time.Time
	// Logger receives refresh warnings and the guard's debug lines about refused requests; nil
	// discards them.
	Logger *slog.Logger
}

// Revocations is this instance's view of revoked sessions.
//
// A normal request must not pay a database round trip to learn that its session is still alive
// (architecture: cost budget), so the set of revoked session ids is kept in memory and refreshed
// with one query at most once per Interval, shared by all concurrent callers. The first refresh
// loads every revoked session that has not expired; later ones only those revoked since the
// previous refresh (minus an overlap for clock skew). Sessions revoked by this process through
// Revoke are refused at once. It is safe for concurrent use.
type Revocations struct {
	db       func(ctx context.Context) (*mongo.Database, error)
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu sync.Mutex
	// revoked maps a session id to when the entry may be forgotten: the session's expires_at,
	// or for a local Revoke not yet seen in the database, now + localRevocationTTL.
	revoked map[string]revokedEntry
	loaded  bool      // the first (full) load has succeeded
	synced  time.Time // start of the last successful refresh
	failed  time.Time // end of the last failed refresh, for spacing retries
	lastErr error     // that failure, returned to callers that cannot use the view
	flight  *refreshFlight
}

type revokedEntry struct {
	forgetAt  time.Time
	confirmed bool // reported by the database, so forgetAt is the session's expires_at
}

// refreshFlight is one refresh in progress; done is closed when it ends, after err is set.
type refreshFlight struct {
	done chan struct{}
	err  error
}

// NewRevocations returns an empty view; the first IsRevoked loads it. It does no I/O.
func NewRevocations(o RevocationsOptions) *Revocations {
	r := &Revocations{
		db:       o.DB,
		interval: o.Interval,
		now:      o.Now,
		log:      o.Logger,
		revoked:  map[string]revokedEntry{},
	}
	if r.interval <= 0 {
		r.interval = RevocationRefreshInterval
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// IsRevoked reports whether the session has been revoked. It answers from memory, first
// refreshing the view (one query, shared with concurrent callers) when the view is older than
// the interval. If that refresh fails, a view younger than RevocationMaxStaleness is still used
// (with a warning); otherwise the error is returned — wrapping the driver's error, so the web
// layer maps an unreachable database to 503 DATABASE_UNAVAILABLE.
func (r *Revocations) IsRevoked(ctx context.Context, sessionID string) (bool, error) {
	r.mu.Lock()
	now := r.now()
	if r.loaded && now.Sub(r.synced) < r.interval {
		revoked := r.lookupLocked(sessionID, now)
		r.mu.Unlock()
		return revoked, nil
	}
	if r.flight == nil && !r.failed.IsZero() && now.Sub(r.failed) < revocationRetryAfterFailure {
		// The database failed moments ago: do not make this request wait for another attempt;
		// decide on what we have.
		revoked, err := r.staleAnswerLocked(sessionID, now)
		r.mu.Unlock()
		return revoked, err
	}
	f := r.flight
	if f == nil {
		f = &refreshFlight{done: make(chan struct{})}
		r.flight = f
		// Detached from this caller's cancellation: other requests may be waiting on it too.
		go r.refresh(context.WithoutCancel(ctx), f)
	}
	r.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return false, fmt.Errorf("auth: waiting for revoked sessions: %w", ctx.Err())
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	now = r.now()
	if f.err != nil {
		return r.staleAnswerLocked(sessionID, now)
	}
	// The view is as fresh as it can be, even if the refresh took longer than the interval.
	return r.lookupLocked(sessionID, now), nil
}

// staleAnswerLocked answers after a failed refresh: from a view young enough to trust, or not at
// all.
func (r *Revocations) staleAnswerLocked(sessionID string, now time.Time) (bool, error) {
	if r.loaded && now.Sub(r.synced) <= RevocationMaxStaleness {
		return r.lookupLocked(sessionID, now), nil
	}
	return false, fmt.Errorf("auth: revoked sessions unknown (view is %s): %w", r.ageLocked(now), r.lastErr)
}

func (r *Revocations) ageLocked(now time.Time) string {
	if !r.loaded {
		return "not loaded"
	}
	return "older than " + now.Sub(r.synced).Truncate(time.Second).String()
}

func (r *Revocations) lookupLocked(sessionID string, now time.Time) bool {
	e, ok := r.revoked[sessionID]
	return ok && now.Before(e.forgetAt)
}

// Revoke marks sessions revoked in this process at once, without waiting for the next refresh:
// the accounts package calls it after writing revoked_at, so that the very next request on this
// instance is refused. Other instances learn of it from the database.
func (r *Revocations) Revoke(sessionIDs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	forgetAt := r.now().Add(localRevocationTTL)
	for _, id := range sessionIDs {
		if id == "" {
			continue
		}
		if e, ok := r.revoked[id]; ok && e.confirmed {
			continue // the database's expiry is the better one
		}
		r.revoked[id] = revokedEntry{forgetAt: forgetAt}
	}
}

// refresh runs one query and merges its result into the view, then ends the flight.
func (r *Revocations) refresh(ctx context.Context, f *refreshFlight) {
	defer close(f.done)
	ctx, cancel := context.WithTimeout(ctx, revocationRefreshTimeout)
	defer cancel()

	r.mu.Lock()
	full := !r.loaded
	since := r.synced.Add(-revocationOverlap)
	r.mu.Unlock()

	// The refresh is dated by its start: anything revoked after this instant may be missed by
	// the query and must be asked for again next time.
	start := r.now()
	found, err := r.query(ctx, full, since, start)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.flight = nil
	end := r.now()
	if err != nil {
		f.err = err
		r.failed, r.lastErr = end, err
		r.log.WarnContext(ctx, "auth: refreshing revoked sessions failed",
			slog.Bool("full_load", full),
			slog.String("view_age", r.ageLocked(end)),
			slog.Bool("view_usable", r.loaded && end.Sub(r.synced) <= RevocationMaxStaleness),
			slog.String("error", err.Error()))
		return
	}
	for id, expires := range found {
		r.revoked[id] = revokedEntry{forgetAt: expires, confirmed: true}
	}
	// Expired sessions cannot be used anyway (their tokens and refresh tokens have expired), so
	// their entries only cost memory.
	for id, e := range r.revoked {
		if !end.Before(e.forgetAt) {
			delete(r.revoked, id)
		}
	}
	r.loaded, r.synced = true, start
	r.failed, r.lastErr = time.Time{}, nil
}

// query reads revoked, unexpired sessions: all of them when full, else those revoked at or after
// since. Only _id and expires_at are fetched.
func (r *Revocations) query(ctx context.Context, full bool, since, now time.Time) (map[string]time.Time, error) {
	if r.db == nil {
		return nil, errors.New("auth: revocations have no database")
	}
	db, err := r.db(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: refresh revoked sessions: %w", err)
	}
	// A range on revoked_at only matches dates (BSON comparison is type-bracketed), so active
	// sessions — revoked_at absent — never match, on MongoDB and on the local engine alike.
	revokedSince := time.Unix(0, 0).UTC()
	if !full {
		revokedSince = since
	}
	filter := bson.D{
		{Key: SessionRevokedAtField, Value: bson.D{{Key: "$gte", Value: revokedSince}}},
		{Key: SessionExpiresAtField, Value: bson.D{{Key: "$gt", Value: now}}},
	}
	opts := options.Find().SetProjection(bson.D{
		{Key: SessionIDField, Value: 1},
		{Key: SessionExpiresAtField, Value: 1},
	})
	cur, err := db.Collection(SessionsCollection).Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("auth: refresh revoked sessions: find: %w", err)
	}
	var docs []struct {
		ID        string    `bson:"_id"`
		ExpiresAt time.Time `bson:"expires_at"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("auth: refresh revoked sessions: read: %w", err)
	}
	found := make(map[string]time.Time, len(docs))
	for _, d := range docs {
		found[d.ID] = d.ExpiresAt
	}
	return found, nil
}

// Indexes are the indexes the revocation query needs on the sessions collection: a range on
// revoked_at, then expires_at, so the first load and every refresh read only revoked sessions
// from the index instead of scanning all sessions. (A partial index on revoked_at would be
// smaller on Atlas, but the local engine has no partial indexes.)
func Indexes() []mongodb.Index {
	return []mongodb.Index{{
		Collection: SessionsCollection,
		Name:       "revoked_at_1_expires_at_1",
		Keys:       bson.D{{Key: SessionRevokedAtField, Value: 1}, {Key: SessionExpiresAtField, Value: 1}},
	}}
}
