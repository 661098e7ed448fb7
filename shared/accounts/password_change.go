package accounts

import (
	"errors"
	"net/http"
	"slices"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/web"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword replaces the password, revokes every other session, and replaces the caller's
// own session with a new one (new tokens and cookies), so a stolen copy of the old refresh token
// dies with the old password. Round trips: user → lockout (keyed by the user's email) → (bcrypt)
// new hash → new session ∥ sessions to revoke → revoke ∥ audit.
func (s *Service) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req changePasswordRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if req.CurrentPassword == "" {
		fields["current_password"] = "is required"
	}
	if problem := passwordProblem(req.NewPassword); problem != "" {
		fields["new_password"] = problem
	}
	if len(fields) > 0 {
		return web.ValidationError(fields)
	}
	// Read before the password changes: a 422 must change nothing.
	if _, err := bodyDelivery(r); err != nil {
		return err
	}
	u, failures, err := s.lockedUser(r)
	if err != nil {
		return err
	}
	if !s.passwords.matches(u.PasswordHash, req.CurrentPassword) {
		return s.codeFailed(r, u, errWrongPassword())
	}
	hash, err := s.passwords.hash(req.NewPassword)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.updateUser(ctx, bson.D{{Key: "_id", Value: u.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "password_hash", Value: hash}}}}); err != nil {
		return err
	}
	// The caller keeps a session, under a new refresh token. It is stored beside the lookup of
	// the sessions to revoke, which leaves it out by id: every other live session of the user,
	// the caller's current one included, is revoked in one update once the new one exists (so a
	// failure before that leaves the caller signed in as before).
	p, _ := auth.PrincipalFrom(ctx)
	sess, refresh := s.newSession(u.ID, r.UserAgent(), clientIP(r))
	var (
		wg                          sync.WaitGroup
		revoke                      []string
		findErr, storeErr, resetErr error
	)
	wg.Go(func() { revoke, findErr = s.otherSessions(ctx, u.ID, sess.ID) })
	wg.Go(func() { resetErr = s.resetFailures(ctx, u.Email, failures) })
	storeErr = s.storeSession(ctx, sess)
	wg.Wait()
	if err := errors.Join(storeErr, findErr, resetErr); err != nil {
		return err
	}
	// The caller's own session is replaced, not counted as revoked; it is revoked even if the
	// lookup did not see it (revoked or expired meanwhile: the update then changes nothing).
	others := len(revoke)
	if slices.Contains(revoke, p.SessionID) {
		others--
	} else {
		revoke = append(revoke, p.SessionID)
	}
	// The password has changed whether or not the revocation succeeds: the audit entry goes out
	// beside it.
	wg.Go(func() {
		s.audit.Record(r, auditEvent(u.ID, "PASSWORD_CHANGED", "success", map[string]any{"sessions_revoked": others}))
	})
	err = s.revokeSessions(ctx, revoke...)
	wg.Wait()
	if err != nil {
		return err
	}
	return s.sendTokens(w, r, http.StatusOK, tokenResponse{Message: "Password changed"}, u.ID, sess.ID, refresh)
}
