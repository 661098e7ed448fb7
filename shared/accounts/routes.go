package accounts

import (
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "auth"

// Routes registers the auth routes; require is the auth guard.
func (s *Service) Routes(rt *web.Router, require func(web.HandlerFunc) web.HandlerFunc) {
	rt.Handle("POST /api/auth/signup", s.signup)
	rt.Handle("POST /api/auth/login", s.login)
	rt.Handle("POST /api/auth/logout", require(s.logout))
	rt.Handle("GET /api/auth/me", require(s.me))
	rt.Handle("POST /api/auth/refresh", s.refresh)
	rt.Handle("POST /api/auth/verify-email", s.verifyEmail)
	rt.Handle("POST /api/auth/resend-verification", s.resendVerification)
	rt.Handle("POST /api/auth/2fa/setup", require(s.setup2FA))
	rt.Handle("POST /api/auth/2fa/verify", require(s.verify2FA))
	rt.Handle("GET /api/auth/2fa/status", require(s.status2FA))
	rt.Handle("POST /api/auth/2fa/disable", require(s.disable2FA))
	rt.Handle("POST /api/auth/2fa/backup-codes", require(s.regenerateBackupCodes))
	rt.Handle("POST /api/auth/change-password", require(s.changePassword))
}

func (s *Service) startingCash() money.USD { return money.USD(s.cfg.StartingCashCents) }
