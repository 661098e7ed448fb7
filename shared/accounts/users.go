package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

const usersCollection = "users"

// user is the stored user. Secrets (hashes, the TOTP secret) never leave this package: the API
// sees publicUser.
type user struct {
	ID            string        `bson:"_id"`
	Email         string        `bson:"email"`
	Name          string        `bson:"name"`
	PasswordHash  string        `bson:"password_hash"`
	CreatedAt     time.Time     `bson:"created_at"`
	EmailVerified bool          `bson:"email_verified"`
	AccountOpened bool          `bson:"account_opened"`
	Verification  *verification `bson:"verification,omitempty"`
	TOTP          totpState     `bson:"totp"`
}

// verification is the pending email-verification code: hashed, with an expiry and a count of
// wrong tries (the fifth wrong try removes it).
type verification struct {
	CodeHash  string    `bson:"code_hash"`
	ExpiresAt time.Time `bson:"expires_at"`
	Attempts  int       `bson:"attempts"`
}

// totpState is the user's two-factor state. Backup codes are a map of hash → true, so one code
// is consumed by a single conditional $unset (two logins racing with the same code cannot both
// win; an array would need $pull with a condition, which the local engine ignores).
type totpState struct {
	Enabled       bool            `bson:"enabled"`
	Secret        string          `bson:"secret,omitempty"`
	PendingSecret string          `bson:"pending_secret,omitempty"`
	LastStep      int64           `bson:"last_step"`
	Backup        map[string]bool `bson:"backup,omitempty"`
}

// publicUser is the API's `user` object.
type publicUser struct {
	ID               string `json:"id"`
	Email            string `json:"email"`
	Name             string `json:"name"`
	CreatedAt        string `json:"createdAt"`
	CreatedAtSnake   string `json:"created_at"`
	EmailVerified    bool   `json:"emailVerified"`
	TwoFactorEnabled bool   `json:"twoFactorEnabled"`
}

func (u *user) public() publicUser {
	created := u.CreatedAt.UTC().Format(time.RFC3339)
	return publicUser{
		ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: created, CreatedAtSnake: created,
		EmailVerified: u.EmailVerified, TwoFactorEnabled: u.TOTP.Enabled,
	}
}

var (
	errEmailTaken = errors.New("email already registered")
	errNoUser     = errors.New("no such user")
)

func (s *Service) users(ctx context.Context) (*mongo.Collection, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.Collection(usersCollection), nil
}

func (s *Service) insertUser(ctx context.Context, u *user) error {
	c, err := s.users(ctx)
	if err != nil {
		return err
	}
	if _, err := c.InsertOne(ctx, u); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return errEmailTaken
		}
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

func (s *Service) findUser(ctx context.Context, filter bson.D) (*user, error) {
	c, err := s.users(ctx)
	if err != nil {
		return nil, err
	}
	var u user
	if err := c.FindOne(ctx, filter).Decode(&u); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, errNoUser
		}
		return nil, fmt.Errorf("find user: %w", err)
	}
	return &u, nil
}

func (s *Service) userByEmail(ctx context.Context, email string) (*user, error) {
	return s.findUser(ctx, bson.D{{Key: "email", Value: email}})
}

func (s *Service) userByID(ctx context.Context, id string) (*user, error) {
	return s.findUser(ctx, bson.D{{Key: "_id", Value: id}})
}

// updateUser applies update to the user matching filter (which must include _id) and reports
// whether a document matched.
func (s *Service) updateUser(ctx context.Context, filter, update bson.D) (bool, error) {
	c, err := s.users(ctx)
	if err != nil {
		return false, err
	}
	res, err := c.UpdateOne(ctx, filter, update)
	if err != nil {
		return false, fmt.Errorf("update user: %w", err)
	}
	return res.MatchedCount == 1, nil
}
