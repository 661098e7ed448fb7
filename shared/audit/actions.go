package audit

import "regexp"

// Actions recorded by the service. They are part of the API (clients filter and count by them),
// so a constant never changes spelling; new actions are UPPER_SNAKE too, which the Writer checks.
const (
	ActionUserSignup             = "USER_SIGNUP"
	ActionUserLogin              = "USER_LOGIN"
	ActionLoginFailed            = "LOGIN_FAILED"
	ActionAccountLocked          = "ACCOUNT_LOCKED"
	ActionUserLogout             = "USER_LOGOUT"
	ActionTokenRefreshed         = "TOKEN_REFRESHED"
	ActionRefreshTokenReused     = "REFRESH_TOKEN_REUSED"
	ActionEmailVerified          = "EMAIL_VERIFIED"
	ActionTwoFactorEnabled       = "TWO_FACTOR_ENABLED"
	ActionTwoFactorDisabled      = "TWO_FACTOR_DISABLED"
	ActionBackupCodesRegenerated = "BACKUP_CODES_REGENERATED"
	ActionPasswordChanged        = "PASSWORD_CHANGED"
	ActionOrderCreated           = "ORDER_CREATED"
	ActionOrderFilled            = "ORDER_FILLED"
	ActionOrderCancelled         = "ORDER_CANCELLED"
	ActionDeposit                = "DEPOSIT"
	ActionWithdrawal             = "WITHDRAWAL"
	ActionHoldingAdded           = "HOLDING_ADDED"
	ActionHoldingRemoved         = "HOLDING_REMOVED"
)

// maxActionLen bounds both stored actions and the list filter.
const maxActionLen = 64

// actionPattern is UPPER_SNAKE: words of capitals and digits joined by single underscores. The
// word filter of the list route relies on "_" being the only separator.
var actionPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)

// validAction reports whether a is a well-formed action.
func validAction(a string) bool {
	return len(a) <= maxActionLen && actionPattern.MatchString(a)
}
