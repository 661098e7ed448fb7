package accounts

import (
	"net/http"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// The auth function's error answers. A wrong password or code on an authenticated route is 422,
// never 401: the frontend treats every 401 as an expired session and refreshes.
func errInvalidCredentials() *web.Error {
	return web.NewError(http.StatusUnauthorized, "INVALID_CREDENTIALS", "Invalid credentials")
}

func errWrongPassword() *web.Error {
	return web.NewError(http.StatusUnprocessableEntity, "INVALID_CREDENTIALS", "Current password is incorrect")
}

func errUnauthenticated() *web.Error {
	return web.NewError(http.StatusUnauthorized, "UNAUTHENTICATED", "Authentication required")
}

func errTOTPRequired() *web.Error {
	return web.NewError(http.StatusUnauthorized, "TOTP_REQUIRED", "Two-factor code required")
}

func errInvalidTOTP(status int) *web.Error {
	return web.NewError(status, "INVALID_TOTP", "Invalid two-factor code")
}

func errEmailTakenResponse() *web.Error {
	return web.NewError(http.StatusConflict, "EMAIL_TAKEN", "An account with this email already exists")
}

func errEmailNotVerified() *web.Error {
	return web.NewError(http.StatusForbidden, "EMAIL_NOT_VERIFIED", "Email not verified: enter the code we sent you")
}

func errInvalidCode() *web.Error {
	return web.NewError(http.StatusUnprocessableEntity, "INVALID_CODE", "Invalid or expired verification code")
}

func errTwoFactor(code, message string) *web.Error {
	return web.NewError(http.StatusConflict, code, message)
}
