package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// Collection holds the records.
const Collection = "idempotency"

// Timing of the contract.
const (
	// InFlightTimeout is how long a claim may stay silent before another request takes it over.
	// It is longer than any request can run (API Gateway stops waiting after 29 s), so a claim
	// that old belongs to a request that is gone.
	InFlightTimeout = 60 * time.Second
	// Retention is how long a key is remembered (api.md: at least 24 h).
	Retention = 24 * time.Hour
	// MarkerRetention is the age after which a left-behind marker is pruned (see the package
	// documentation): Retention plus an hour of margin for clocks and slow requests.
	MarkerRetention = Retention + time.Hour
)

// ttlGrace is how long after its expiry the TTL index deletes a record: expiry itself is decided
// by the code, the index only keeps the collection small.
const ttlGrace = time.Hour

// maxBeginAttempts bounds Begin's loop. Each attempt that does not return lost a race to a
// concurrent writer of the same record; after that many the key is busy.
const maxBeginAttempts = 4

// Record states.
const (
	statePending = "pending"
	stateDone    = "done"
)

// released is the claimed_at of a released claim: older than any InFlightTimeout, so the next
// request takes it over at once.
var released = time.Unix(0, 0).UTC()

// Store keeps idempotency records. It is safe for concurrent use, and any number of Stores (one
// per Lambda instance) may share a database.
type Store struct {
	db  func(ctx context.Context) (*mongo.Database, error)
	now func() time.Time
	log *slog.Logger
}

// Option configures a Store.
type Option func(*Store)

// WithLogger makes Do log what it cannot report to the client (a response that could not be
// stored, markers that could not be removed). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// NewStore returns a Store on the database that db returns (the warm client's Database); now is
// its clock (nil = time.Now). It does no I/O.
func NewStore(db func(ctx context.Context) (*mongo.Database, error), now func() time.Time, opts ...Option) *Store {
	s := &Store{db: db, now: now, log: slog.New(slog.DiscardHandler)}
	if s.now == nil {
		s.now = time.Now
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Indexes lists the collection's indexes: a TTL index on expires_at, housekeeping only (the
// code checks expiry itself; engines without TTL get a plain index). Uniqueness of (user, key) is
// the _id's.
func Indexes() []mongodb.Index {
	return []mongodb.Index{{
		Collection:  Collection,
		Name:        "expires_ttl",
		Keys:        bson.D{{Key: "expires_at", Value: 1}},
		ExpireAfter: ttlGrace,
	}}
}

// Response is a stored response: the status and the JSON body exactly as sent.
type Response struct {
	Status int
	Body   []byte
}

// record is a stored record; see the package documentation.
type record struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Key         string    `bson:"key"`
	Route       string    `bson:"route"`
	Fingerprint string    `bson:"fingerprint"`
	State       string    `bson:"state"`
	Token       string    `bson:"token"`
	Owner       string    `bson:"owner"` // changes with every claim, takeover and release
	Status      int       `bson:"status,omitempty"`
	Body        []byte    `bson:"body,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	ClaimedAt   time.Time `bson:"claimed_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
}

// Begin claims (userID, key) for route and the request's fingerprint (the caller's canonical
// form of the parsed request). It returns exactly one of:
//
//   - a *Claim, when the key is fresh (one insert), expired, or abandoned by a request silent for
//     InFlightTimeout (a takeover: Claim.Reclaimed is true). The caller runs the operation and
//     then calls Claim.Finish;
//   - a *Response, when a response for the same route and fingerprint is stored: send it back;
//   - a *web.Error 409 IDEMPOTENCY_KEY_REUSED (another route or fingerprint) or 409
//     IDEMPOTENCY_KEY_IN_PROGRESS (another request holds the key), or a database error.
func (s *Store) Begin(ctx context.Context, userID, key, route, fingerprint string) (*Claim, *Response, error) {
	if userID == "" || !validKey(key) || route == "" {
		return nil, nil, errors.New("idempotency: begin: empty user or route, or invalid key")
	}
	db, err := s.db(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: begin: %w", err)
	}
	coll := db.Collection(Collection)
	id, fp := recordID(userID, key), hashHex(fingerprint)

	for range maxBeginAttempts {
		now := s.timestamp()
		fresh := record{
			ID: id, UserID: userID, Key: key, Route: route, Fingerprint: fp, State: statePending,
			Token: newRandomID(), Owner: newRandomID(), CreatedAt: now, ClaimedAt: now, ExpiresAt: now.Add(Retention),
		}
		_, err := coll.InsertOne(ctx, fresh)
		if err == nil {
			return s.claim(fresh, false), nil, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, nil, fmt.Errorf("idempotency: begin: insert: %w", err)
		}

		var cur record
		err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // deleted (TTL) between the insert and the read: insert again
		}
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: begin: read: %w", err)
		}
		// Every conditional write below names the owner and state it read: owner changes with
		// each claim, takeover and release, so the write wins only if nothing happened in between.
		version := bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: cur.Owner}, {Key: "state", Value: cur.State}}

		if !cur.ExpiresAt.After(now) {
			// Forgotten: the key starts over, with a new token (the old record's marker, if any,
			// can no longer matter: nothing runs that token again).
			res, err := coll.ReplaceOne(ctx, version, fresh)
			if err != nil {
				return nil, nil, fmt.Errorf("idempotency: begin: replace expired: %w", err)
			}
			if res.MatchedCount == 1 {
				return s.claim(fresh, false), nil, nil
			}
			continue
		}
		if cur.Route != route || cur.Fingerprint != fp {
			return nil, nil, keyReused()
		}
		if cur.State == stateDone {
			return nil, &Response{Status: cur.Status, Body: cur.Body}, nil
		}
		if now.Sub(cur.ClaimedAt) < InFlightTimeout {
			return nil, nil, keyInProgress()
		}
		// Abandoned or released: take it over, keeping token and creation time, so that the
		// re-run finds what the earlier attempt may have done.
		owner := newRandomID()
		res, err := coll.UpdateOne(ctx, version, bson.D{{Key: "$set", Value: bson.D{
			{Key: "owner", Value: owner}, {Key: "claimed_at", Value: now},
		}}})
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: begin: take over: %w", err)
		}
		if res.MatchedCount == 1 {
			cur.Owner, cur.ClaimedAt = owner, now
			return s.claim(cur, true), nil, nil
		}
	}
	// Every attempt lost a race: other requests with this key are active right now.
	return nil, nil, keyInProgress()
}

// timestamp is the current time as BSON stores it (UTC, milliseconds), so that values compared
// after a round trip are equal.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

// recordID is the record's _id: SHA-256 over the length-prefixed user id and key, so that no two
// (user, key) pairs collide by concatenation, and the _id is short and of one shape whatever
// printable characters the key holds.
func recordID(userID, key string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range []string{userID, key} {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashHex bounds what is stored for a fingerprint of any length.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newRandomID returns 128 random bits in hex: a token or an owner id. Tokens become parts of map
// keys and entry ids, so they use hex only.
func newRandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics if the OS source breaks)
	return hex.EncodeToString(b[:])
}
