package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/auth"
)

// Refresh-token rules of the API contract.
const (
	refreshTokenTTL = 7 * 24 * time.Hour
	// reuseGrace: a rotated-out refresh token presented again within this window is a concurrent
	// refresh from another tab (both sent the same cookie), not a theft.
	reuseGrace = 10 * time.Second
)

// session is one login. The refresh token is stored only as hashes: the current one, the one it
// replaced (for the grace window), and every hash the session ever had, so any rotated-out token
// presented again is recognised as reuse.
type session struct {
	ID           string    `bson:"_id"`
	UserID       string    `bson:"user_id"`
	RefreshHash  string    `bson:"refresh_hash"`
	PreviousHash string    `bson:"previous_hash,omitempty"`
	RotatedAt    time.Time `bson:"rotated_at,omitempty"`
	AllHashes    []string  `bson:"refresh_hashes"`
	CreatedAt    time.Time `bson:"created_at"`
	ExpiresAt    time.Time `bson:"expires_at"`
	RevokedAt    time.Time `bson:"revoked_at,omitempty"`
	UserAgent    string    `bson:"user_agent,omitempty"`
	IP           string    `bson:"ip_address,omitempty"`
}

func (s *session) revoked() bool { return !s.RevokedAt.IsZero() }

var errNoSession = errors.New("no such session")

func (s *Service) sessions(ctx context.Context) (*mongo.Collection, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.Collection(auth.SessionsCollection), nil
}

// createSession stores a new session and returns it with its refresh token (the only time the
// token exists in clear).
func (s *Service) createSession(ctx context.Context, userID, userAgent, ip string) (*session, string, error) {
	sess, token := s.newSession(userID, userAgent, ip)
	if err := s.storeSession(ctx, sess); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// newSession makes a session and its refresh token without storing it: a caller that must know
// its id before the insert (to leave it out of a query sent beside it) stores it itself.
func (s *Service) newSession(userID, userAgent, ip string) (*session, string) {
	token, hash := auth.NewRefreshToken()
	now := s.now()
	return &session{
		ID: newID(), UserID: userID, RefreshHash: hash, AllHashes: []string{hash},
		CreatedAt: now, ExpiresAt: now.Add(refreshTokenTTL), UserAgent: truncate(userAgent, 256), IP: ip,
	}, token
}

func (s *Service) storeSession(ctx context.Context, sess *session) error {
	c, err := s.sessions(ctx)
	if err != nil {
		return err
	}
	if _, err := c.InsertOne(ctx, sess); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// sessionByRefreshToken finds the session that ever issued token.
func (s *Service) sessionByRefreshToken(ctx context.Context, token string) (*session, string, error) {
	hash := auth.HashRefreshToken(token)
	c, err := s.sessions(ctx)
	if err != nil {
		return nil, "", err
	}
	var sess session
	err = c.FindOne(ctx, bson.D{{Key: "refresh_hashes", Value: hash}}).Decode(&sess)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, "", errNoSession
	}
	if err != nil {
		return nil, "", fmt.Errorf("find session: %w", err)
	}
	return &sess, hash, nil
}

// rotate replaces the session's current refresh token, conditionally on it still being current:
// of two concurrent refreshes with the same token, one rotates and the other sees the previous
// hash (and so takes the grace path).
func (s *Service) rotate(ctx context.Context, sess *session, currentHash string) (string, bool, error) {
	token, hash := auth.NewRefreshToken()
	c, err := s.sessions(ctx)
	if err != nil {
		return "", false, err
	}
	now := s.now()
	res, err := c.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: sess.ID}, {Key: "refresh_hash", Value: currentHash}, {Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "refresh_hash", Value: hash}, {Key: "previous_hash", Value: currentHash}, {Key: "rotated_at", Value: now}}},
			{Key: "$push", Value: bson.D{{Key: "refresh_hashes", Value: hash}}},
		})
	if err != nil {
		return "", false, fmt.Errorf("rotate refresh token: %w", err)
	}
	return token, res.ModifiedCount == 1, nil
}

// revokeSessions marks sessions revoked in the database and, at once, in this instance's view
// (other instances see it within auth.RevocationRefreshInterval).
func (s *Service) revokeSessions(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	c, err := s.sessions(ctx)
	if err != nil {
		return err
	}
	s.revocations.Revoke(ids...)
	if _, err := c.UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: s.now()}}}}); err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

// otherSessions lists the user's live sessions except keep.
func (s *Service) otherSessions(ctx context.Context, userID, keep string) ([]string, error) {
	c, err := s.sessions(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := c.Find(ctx, bson.D{
		{Key: "user_id", Value: userID},
		{Key: "_id", Value: bson.D{{Key: "$ne", Value: keep}}},
		{Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.now()}}},
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var found []session
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.ID
	}
	return ids, nil
}
