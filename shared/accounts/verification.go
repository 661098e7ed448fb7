package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Email verification rules: a 6-digit code valid 24 h; the 5th wrong try removes it. The code is
// stored hashed; with a million possible codes the hash is no protection against a database
// reader — the attempt limit and the expiry are what protect it.
const (
	verificationTTL         = 24 * time.Hour
	maxVerificationAttempts = 5
)

// newVerification makes a code and its stored form.
func (s *Service) newVerification() (string, *verification, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", nil, fmt.Errorf("verification code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	return code, &verification{CodeHash: hashCode(code), ExpiresAt: s.now().Add(verificationTTL)}, nil
}

func hashCode(code string) string {
	sum := sha256.Sum256([]byte("email-verification:" + code))
	return hex.EncodeToString(sum[:])
}

// sendVerification mails the code. A mail failure does not fail the request (the user can ask
// for a new code); it is logged without the code.
func (s *Service) sendVerification(r *http.Request, email, code string) {
	err := s.mailer.Send(r.Context(), mailer.Message{
		To:      email,
		Subject: "Your CryptoVault verification code",
		Text: "Your CryptoVault verification code is " + code + ".\n\n" +
			"It is valid for 24 hours. If you did not sign up, ignore this message.\n",
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "verification mail not sent", "error", err.Error())
	}
}

type verifyEmailRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
	Token string `json:"token"` // older clients' name for code
}

func (s *Service) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	var req verifyEmailRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	code := strings.TrimSpace(req.Code)
	if code == "" {
		code = strings.TrimSpace(req.Token)
	}
	fields := map[string]string{}
	email, ok := normalizeEmail(req.Email)
	if !ok {
		fields["email"] = "must be a valid email address"
	}
	if code == "" {
		fields["code"] = "is required"
	}
	if len(fields) > 0 {
		return web.ValidationError(fields)
	}
	if _, err := bodyDelivery(r); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.userByEmail(ctx, email)
	if err == errNoUser {
		return errInvalidCode() // the same answer as a wrong code: no enumeration here either
	}
	if err != nil {
		return err
	}
	if u.EmailVerified {
		// The code was used up when the address was verified: answering anything but "invalid
		// code" would log in (or describe) an account to whoever knows its email address.
		return errInvalidCode()
	}
	if err := s.checkCode(r, u, code); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(u.ID, "EMAIL_VERIFIED", "success", nil))
	u.EmailVerified, u.Verification = true, nil
	if s.cfg.RequireEmailVerification {
		// Verifying is the user's first login when login is gated on it.
		if !u.AccountOpened {
			if err := s.openAccount(r, u); err != nil {
				return err
			}
		}
		sess, refresh, err := s.createSession(ctx, u.ID, r.UserAgent(), clientIP(r))
		if err != nil {
			return err
		}
		pub := u.public()
		return s.sendTokens(w, r, http.StatusOK, tokenResponse{User: &pub, Message: "Email verified"}, u.ID, sess.ID, refresh)
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"message": "Email verified", "user": u.public()})
	return nil
}

// checkCode verifies code against the user's pending verification, counting wrong tries.
func (s *Service) checkCode(r *http.Request, u *user, code string) error {
	v := u.Verification
	if v == nil || !s.now().Before(v.ExpiresAt) {
		return errInvalidCode()
	}
	if subtle.ConstantTimeCompare([]byte(hashCode(code)), []byte(v.CodeHash)) == 1 {
		// Conditional on the same code still pending: a concurrent wrong-try limit cannot be raced.
		ok, err := s.updateUser(r.Context(),
			bson.D{{Key: "_id", Value: u.ID}, {Key: "verification.code_hash", Value: v.CodeHash}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "email_verified", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "verification", Value: ""}}}})
		if err != nil {
			return err
		}
		if !ok {
			return errInvalidCode()
		}
		return nil
	}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "verification.attempts", Value: 1}}}}
	if v.Attempts+1 >= maxVerificationAttempts {
		update = bson.D{{Key: "$unset", Value: bson.D{{Key: "verification", Value: ""}}}}
	}
	if _, err := s.updateUser(r.Context(), bson.D{{Key: "_id", Value: u.ID}, {Key: "verification.code_hash", Value: v.CodeHash}}, update); err != nil {
		return err
	}
	return errInvalidCode()
}

type resendRequest struct {
	Email string `json:"email"`
}

// resendVerification answers the same whether or not the address has an account.
func (s *Service) resendVerification(w http.ResponseWriter, r *http.Request) error {
	var req resendRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	email, ok := normalizeEmail(req.Email)
	if !ok {
		return web.ValidationError(map[string]string{"email": "must be a valid email address"})
	}
	u, err := s.userByEmail(r.Context(), email)
	if err != nil && err != errNoUser {
		return err
	}
	if u != nil && !u.EmailVerified {
		code, pending, err := s.newVerification()
		if err != nil {
			return err
		}
		if _, err := s.updateUser(r.Context(), bson.D{{Key: "_id", Value: u.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "verification", Value: pending}}}}); err != nil {
			return err
		}
		s.sendVerification(r, u.Email, code)
	}
	web.WriteJSON(w, http.StatusOK, messageResponse{Message: "If the address has an unverified account, a new code has been sent"})
	return nil
}
