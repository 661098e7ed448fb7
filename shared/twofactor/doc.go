// Package twofactor is the pure logic of CryptoVault's two-factor
// authentication: TOTP enrolment and verification (RFC 6238) and one-time
// backup codes. It holds no state and does no I/O; the accounts package stores
// what it returns (the secret, the last accepted time step, the backup-code
// hashes) and decides what a failure means (422, 401, a lockout count).
//
// Nothing in this package logs, and no error it returns contains a secret or a
// code: a failed check is reported as a plain false, so a caller cannot leak
// the reason by accident either.
//
// Enrolment:
//
//	setup, err := twofactor.NewSetup(user.Email)
//	// store setup.Secret as the pending secret; return setup to the client once
//
// Verification, wherever a code is accepted (2fa/verify, login, disable,
// backup-code regeneration):
//
//	if twofactor.LooksLikeBackupCode(code) {
//		i, ok := twofactor.MatchBackupCode(hashes, code) // then remove hashes[i]
//	} else {
//		step, ok := twofactor.Verify(secret, code, now, lastStep) // then store step
//	}
package twofactor
