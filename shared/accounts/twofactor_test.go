package accounts_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// code computes the TOTP code an authenticator app would show at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func codeBody(t *testing.T, c string) string { return jsonBody(t, map[string]string{"code": c}) }

func loginWithCode(t *testing.T, email, password, c string) string {
	return jsonBody(t, map[string]string{"email": email, "password": password, "totp_code": c})
}

func TestTwoFactorFlow(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.signup(testEmail, testPassword)

	// Before setup: verify, disable and regeneration have nothing to act on.
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/verify", codeBody(t, "123456")), 409, "TWO_FACTOR_NOT_SET_UP")
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/disable", jsonBody(t, map[string]string{"password": testPassword, "code": "123456"})), 409, "TWO_FACTOR_NOT_ENABLED")
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/backup-codes", codeBody(t, "123456")), 409, "TWO_FACTOR_NOT_ENABLED")

	setup := testenv.Expect(t, c.do("POST", "/api/auth/2fa/setup", ""), 200, "")
	secret, _ := setup["secret"].(string)
	if !regexp.MustCompile(`^[A-Z2-7]{16,}$`).MatchString(secret) || !strings.HasPrefix(setup["otpauth_url"].(string), "otpauth://totp/CryptoVault:ada@example.com?") ||
		setup["qr_code_url"] != setup["otpauth_url"] || !strings.HasPrefix(setup["qrCode"].(string), "data:image/png;base64,") {
		t.Fatalf("setup = %v", setup)
	}
	status := testenv.Expect(t, c.do("GET", "/api/auth/2fa/status", ""), 200, "")
	if status["enabled"] != false {
		t.Errorf("2FA on before verify: %v", status)
	}
	// A wrong code on an authenticated route is 422 (never 401).
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/verify", codeBody(t, "000000")), 422, "INVALID_TOTP")
	enabled := testenv.Expect(t, c.do("POST", "/api/auth/2fa/verify", codeBody(t, code(t, secret, h.clock.Now()))), 200, "")
	backup, _ := enabled["backup_codes"].([]any)
	if len(backup) != 10 || len(enabled["backupCodes"].([]any)) != 10 {
		t.Fatalf("backup codes = %v", enabled)
	}
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/setup", ""), 409, "TWO_FACTOR_ALREADY_ENABLED")
	if s := testenv.Expect(t, c.do("GET", "/api/auth/2fa/status", ""), 200, ""); s["enabled"] != true {
		t.Errorf("status after verify = %v", s)
	}

	// Login now needs a code; the code accepted at verify cannot be used again.
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, testPassword)), 401, "TOTP_REQUIRED")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, code(t, secret, h.clock.Now()))), 401, "INVALID_TOTP")
	h.clock.Advance(30 * time.Second)
	next := code(t, secret, h.clock.Now())
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, next)), 200, "")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, next)), 401, "INVALID_TOTP")

	// A backup code works once.
	b0 := backup[0].(string)
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, b0)), 200, "")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, b0)), 401, "INVALID_TOTP")

	// Regenerating needs a code and replaces the set.
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/backup-codes", codeBody(t, "000000")), 422, "INVALID_TOTP")
	regen := testenv.Expect(t, c.do("POST", "/api/auth/2fa/backup-codes", codeBody(t, backup[1].(string))), 200, "")
	if fresh := regen["backup_codes"].([]any); len(fresh) != 10 || fresh[0] == backup[0] {
		t.Errorf("regenerated codes = %v", regen)
	}
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, backup[2].(string))), 401, "INVALID_TOTP")

	// Disabling needs the password and a current code; wrong ones are 422.
	h.clock.Advance(30 * time.Second)
	now := code(t, secret, h.clock.Now())
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/disable", jsonBody(t, map[string]string{"password": "Wrong9Password", "code": now})), 422, "INVALID_CREDENTIALS")
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/disable", jsonBody(t, map[string]string{"password": testPassword, "code": "000000"})), 422, "INVALID_TOTP")
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/disable", jsonBody(t, map[string]string{"password": testPassword, "code": now})), 200, "")
	h.login(testEmail, testPassword)

	h.assertNoSecrets(secret, next, b0, backup[1].(string))
}

// TestWrongCodesCountTowardLockout: wrong TOTP codes at login lock the account like passwords.
func TestWrongCodesCountTowardLockout(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.signup(testEmail, testPassword)
	secret := testenv.Expect(t, c.do("POST", "/api/auth/2fa/setup", ""), 200, "")["secret"].(string)
	testenv.Expect(t, c.do("POST", "/api/auth/2fa/verify", codeBody(t, code(t, secret, h.clock.Now()))), 200, "")
	for i := 0; i < 4; i++ {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, "000000")), 401, "INVALID_TOTP")
	}
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, "000000")), 429, "ACCOUNT_LOCKED")
	// Missing codes (TOTP_REQUIRED) are not failures: they do not lock.
	h2 := newHarness(t, nil)
	c2, _ := h2.signup(testEmail, testPassword)
	secret2 := testenv.Expect(t, c2.do("POST", "/api/auth/2fa/setup", ""), 200, "")["secret"].(string)
	testenv.Expect(t, c2.do("POST", "/api/auth/2fa/verify", codeBody(t, code(t, secret2, h2.clock.Now()))), 200, "")
	for i := 0; i < 6; i++ {
		testenv.Expect(t, h2.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, testPassword)), 401, "TOTP_REQUIRED")
	}
}
