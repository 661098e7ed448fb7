package accounts

import (
	"net/http"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/web"
)

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh rotates the refresh token and issues a new access token. The frontend calls it on every
// 401, anonymous page loads included, so every "no valid refresh token" answer is a plain 401.
func (s *Service) refresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	// Read before the token rotates: a 422 must change nothing.
	if _, err := bodyDelivery(r); err != nil {
		return err
	}
	token := req.RefreshToken
	if token == "" {
		token, _ = auth.RefreshTokenFromCookie(r)
	}
	if token == "" {
		return errUnauthenticated()
	}
	ctx := r.Context()
	sess, hash, err := s.sessionByRefreshToken(ctx, token)
	if err == errNoSession {
		return errUnauthenticated()
	}
	if err != nil {
		return err
	}
	now := s.now()
	if sess.revoked() || !now.Before(sess.ExpiresAt) {
		return errUnauthenticated()
	}

	if hash == sess.RefreshHash {
		next, rotated, err := s.rotate(ctx, sess, hash)
		if err != nil {
			return err
		}
		if rotated {
			s.audit.Record(r, auditEvent(sess.UserID, "TOKEN_REFRESHED", "success", nil))
			return s.sendTokens(w, r, http.StatusOK, tokenResponse{Message: "Token refreshed"}, sess.UserID, sess.ID, next)
		}
		// Another request rotated it between our read and our update: it is now the previous
		// token, rotated an instant ago, which is the grace case below.
		return s.sendTokens(w, r, http.StatusOK, tokenResponse{Message: "Token refreshed"}, sess.UserID, sess.ID, "")
	}
	if hash == sess.PreviousHash && now.Sub(sess.RotatedAt) <= reuseGrace {
		// A second tab refreshed with the same cookie a moment after the first: a new access token
		// for the same session; the refresh cookie the first tab received stays valid.
		return s.sendTokens(w, r, http.StatusOK, tokenResponse{Message: "Token refreshed"}, sess.UserID, sess.ID, "")
	}
	// A rotated-out token presented again: someone holds a stolen copy. Revoke the whole session.
	if err := s.revokeSessions(ctx, sess.ID); err != nil {
		return err
	}
	s.audit.Record(r, auditEvent(sess.UserID, "REFRESH_TOKEN_REUSED", "failure", map[string]any{"session_id": sess.ID}))
	auth.ClearTokenCookies(w, r, s.cookies)
	return errUnauthenticated()
}
