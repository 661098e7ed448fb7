package accounts

import (
	"net/http"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/web"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword replaces the password, revokes every other session, and rotates the caller's
// own refresh token (new cookies), so a stolen copy of the old one dies with the old password.
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
	p, _ := auth.PrincipalFrom(ctx)
	others, err := s.otherSessions(ctx, u.ID, p.SessionID)
	if err != nil {
		return err
	}
	if err := s.revokeSessions(ctx, others...); err != nil {
		return err
	}
	if err := s.resetFailures(ctx, u.Email, failures); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(u.ID, "PASSWORD_CHANGED", "success", map[string]any{"sessions_revoked": len(others)}))
	// The caller keeps a session, under a new refresh token.
	sess, refresh, err := s.createSession(ctx, u.ID, r.UserAgent(), clientIP(r))
	if err != nil {
		return err
	}
	if err := s.revokeSessions(ctx, p.SessionID); err != nil {
		return err
	}
	return s.sendTokens(w, r, http.StatusOK, tokenResponse{Message: "Password changed"}, u.ID, sess.ID, refresh)
}
