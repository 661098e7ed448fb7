package accounts_test

import (
	"bytes"
	"maps"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/devdb"
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

// twoFactorUser signs a user up on a fresh harness and enables 2FA; it returns the logged-in
// browser, the secret and the backup codes, with the clock moved on to a TOTP step not used yet.
func twoFactorUser(t *testing.T) (*harness, *client, string, []string) {
	t.Helper()
	h := newHarness(t, nil)
	c, _ := h.signup(testEmail, testPassword)
	secret := testenv.Expect(t, c.do("POST", "/api/auth/2fa/setup", ""), 200, "")["secret"].(string)
	enabled := testenv.Expect(t, c.do("POST", "/api/auth/2fa/verify", codeBody(t, code(t, secret, h.clock.Now()))), 200, "")
	var backup []string
	for _, b := range enabled["backup_codes"].([]any) {
		backup = append(backup, b.(string))
	}
	h.clock.Advance(30 * time.Second)
	return h, c, secret, backup
}

// clone is another tab of the same browser: the same cookies, its own jar (requests in parallel
// must not share one map).
func (c *client) clone() *client {
	return &client{h: c.h, cookies: maps.Clone(c.cookies), bearer: c.bearer, header: c.header.Clone()}
}

// database is the harness's database, for reading what is stored.
func (h *harness) database(t *testing.T) *mongo.Database {
	t.Helper()
	db, err := h.env.Deps.Mongo.Database(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// storedUser is the test user's document as stored, for comparing states.
func (h *harness) storedUser(t *testing.T) bson.Raw {
	t.Helper()
	raw, err := h.database(t).Collection("users").FindOne(t.Context(), bson.D{{Key: "email", Value: testEmail}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// codeRoutes are the routes that take a 2FA code: send makes one request with the code from a
// client of c's user, refused is the answer to a refused code.
var codeRoutes = []struct {
	name    string
	send    func(t *testing.T, h *harness, c *client, code string) testenv.Response
	refused int
}{
	{"login", func(t *testing.T, h *harness, _ *client, code string) testenv.Response {
		return h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, code))
	}, 401},
	{"backup-codes", func(t *testing.T, _ *harness, c *client, code string) testenv.Response {
		return c.clone().do("POST", "/api/auth/2fa/backup-codes", codeBody(t, code))
	}, 422},
	{"disable", func(t *testing.T, _ *harness, c *client, code string) testenv.Response {
		return c.clone().do("POST", "/api/auth/2fa/disable", jsonBody(t, map[string]string{"password": testPassword, "code": code}))
	}, 422},
}

// TestCodeWorksOnceUnderConcurrency: two requests with the same code at once, on every route that
// takes one and with either kind of code: exactly one succeeds, the other gets the wrong-code
// answer. Updates are delayed so that both requests have read the user (and found the code
// unused) before either update lands: the conditional update decides, not the read.
func TestCodeWorksOnceUnderConcurrency(t *testing.T) {
	kinds := []struct {
		name string
		code func(t *testing.T, h *harness, secret string, backup []string) string
	}{
		{"totp", func(t *testing.T, h *harness, secret string, _ []string) string {
			return code(t, secret, h.clock.Now())
		}},
		{"backup", func(_ *testing.T, _ *harness, _ string, backup []string) string { return backup[3] }},
	}
	for _, rt := range codeRoutes {
		for _, kind := range kinds {
			t.Run(rt.name+"/"+kind.name, func(t *testing.T) {
				h, c, secret, backup := twoFactorUser(t)
				same := kind.code(t, h, secret, backup)
				h.db.Inject(devdb.Fault{Command: "update", Delay: 150 * time.Millisecond})
				var (
					wg    sync.WaitGroup
					resps [2]testenv.Response
				)
				for i := range resps {
					wg.Go(func() { resps[i] = rt.send(t, h, c, same) })
				}
				wg.Wait()
				h.db.ClearFaults()
				won := 0
				for _, r := range resps {
					switch {
					case r.Status == 200:
						won++
					case r.Status == rt.refused && strings.Contains(string(r.Body), `"INVALID_TOTP"`):
					default:
						t.Fatalf("answer %d %s, want 200 or %d INVALID_TOTP", r.Status, r.Body, rt.refused)
					}
				}
				if won != 1 {
					t.Fatalf("%d of 2 requests with the same code succeeded, want exactly 1", won)
				}
				// The code is used up for good, also for a later request.
				if rt.name != "disable" {
					testenv.Expect(t, rt.send(t, h, c, same), rt.refused, "INVALID_TOTP")
				}
			})
		}
	}
}

// TestRefusedCodeChangesNothing: on the routes that write 2FA state in the update that accepts
// the code, a refused code (wrong, used, or the right code with the wrong password) leaves the
// user's document exactly as it was, and a valid code refused for the password still works.
func TestRefusedCodeChangesNothing(t *testing.T) {
	type attempt struct {
		name   string
		code   func(t *testing.T, h *harness, secret string, backup []string) string
		body   func(t *testing.T, code string) string // "" body: the route's own
		status int
		errc   string
	}
	wrongTOTP := func(*testing.T, *harness, string, []string) string { return "000000" }
	wrongBackup := func(*testing.T, *harness, string, []string) string { return "aaaaa-aaaaa" }
	// The verify code's step: accepted once already.
	usedTOTP := func(t *testing.T, h *harness, secret string, _ []string) string {
		return code(t, secret, h.clock.Now().Add(-30*time.Second))
	}
	usedBackup := func(t *testing.T, h *harness, _ string, backup []string) string {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, backup[0])), 200, "")
		return backup[0]
	}
	wrongPassword := func(t *testing.T, c string) string {
		return jsonBody(t, map[string]string{"password": "Wrong9Password", "code": c})
	}
	routes := []struct {
		path     string
		body     func(t *testing.T, code string) string
		attempts []attempt
	}{
		{"/api/auth/2fa/backup-codes", func(t *testing.T, c string) string { return codeBody(t, c) }, []attempt{
			{name: "wrong totp", code: wrongTOTP, status: 422, errc: "INVALID_TOTP"},
			{name: "wrong backup code", code: wrongBackup, status: 422, errc: "INVALID_TOTP"},
			{name: "used totp step", code: usedTOTP, status: 422, errc: "INVALID_TOTP"},
			{name: "used backup code", code: usedBackup, status: 422, errc: "INVALID_TOTP"},
		}},
		{"/api/auth/2fa/disable", func(t *testing.T, c string) string {
			return jsonBody(t, map[string]string{"password": testPassword, "code": c})
		}, []attempt{
			{name: "wrong totp", code: wrongTOTP, status: 422, errc: "INVALID_TOTP"},
			{name: "wrong backup code", code: wrongBackup, status: 422, errc: "INVALID_TOTP"},
			{name: "used totp step", code: usedTOTP, status: 422, errc: "INVALID_TOTP"},
			{name: "used backup code", code: usedBackup, status: 422, errc: "INVALID_TOTP"},
			{name: "valid totp, wrong password", body: wrongPassword, status: 422, errc: "INVALID_CREDENTIALS",
				code: func(t *testing.T, h *harness, secret string, _ []string) string {
					return code(t, secret, h.clock.Now())
				}},
			{name: "valid backup code, wrong password", body: wrongPassword, status: 422, errc: "INVALID_CREDENTIALS",
				code: func(_ *testing.T, _ *harness, _ string, backup []string) string { return backup[5] }},
		}},
	}
	for _, rt := range routes {
		for _, a := range rt.attempts {
			t.Run(rt.path+"/"+a.name, func(t *testing.T) {
				h, c, secret, backup := twoFactorUser(t)
				given := a.code(t, h, secret, backup)
				body := rt.body
				if a.body != nil {
					body = a.body
				}
				before := h.storedUser(t)
				testenv.Expect(t, c.do("POST", rt.path, body(t, given)), a.status, a.errc)
				if after := h.storedUser(t); !bytes.Equal(before, after) {
					t.Fatalf("a refused request changed the user:\nbefore %s\nafter  %s", before, after)
				}
				if a.body != nil {
					// The code was not consumed: with the right password it is accepted.
					testenv.Expect(t, c.do("POST", rt.path, rt.body(t, given)), 200, "")
				}
			})
		}
	}
}

// TestCodeRoutesWriteTheirState: the one update that accepts the code writes the route's state:
// new backup codes replace the old set (the accepted code included); disabling clears 2FA and
// keeps the accepted time step, so that code is refused when 2FA is enabled again.
func TestCodeRoutesWriteTheirState(t *testing.T) {
	t.Run("backup-codes", func(t *testing.T) {
		h, c, _, backup := twoFactorUser(t)
		fresh := testenv.Expect(t, c.do("POST", "/api/auth/2fa/backup-codes", codeBody(t, backup[0])), 200, "")["backup_codes"].([]any)
		for _, old := range backup[:2] {
			testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, old)), 401, "INVALID_TOTP")
		}
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, fresh[0].(string))), 200, "")
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, fresh[0].(string))), 401, "INVALID_TOTP")
	})
	t.Run("backup-codes when every old code is used", func(t *testing.T) {
		h, c, secret, backup := twoFactorUser(t)
		for _, b := range backup {
			testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, b)), 200, "")
		}
		fresh := testenv.Expect(t, c.do("POST", "/api/auth/2fa/backup-codes", codeBody(t, code(t, secret, h.clock.Now()))), 200, "")["backup_codes"].([]any)
		if n := len(storedBackup(t, h)); n != 10 {
			t.Fatalf("%d backup codes stored, want 10", n)
		}
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, fresh[9].(string))), 200, "")
	})
	t.Run("backup-codes twice at once, with different codes", func(t *testing.T) {
		// The new set is written key by key: without the condition that the old set is still
		// there, both would succeed and the user would hold both new sets.
		h, c, secret, backup := twoFactorUser(t)
		codes := []string{backup[0], code(t, secret, h.clock.Now())}
		h.db.Inject(devdb.Fault{Command: "update", Delay: 150 * time.Millisecond})
		var (
			wg    sync.WaitGroup
			resps [2]testenv.Response
		)
		for i := range resps {
			wg.Go(func() { resps[i] = c.clone().do("POST", "/api/auth/2fa/backup-codes", codeBody(t, codes[i])) })
		}
		wg.Wait()
		h.db.ClearFaults()
		var fresh []any
		for _, r := range resps {
			if r.Status == 200 {
				if fresh != nil {
					t.Fatal("both regenerations succeeded")
				}
				fresh = testenv.Expect(t, r, 200, "")["backup_codes"].([]any)
			} else {
				testenv.Expect(t, r, 422, "INVALID_TOTP")
			}
		}
		if fresh == nil {
			t.Fatal("neither regeneration succeeded")
		}
		stored := storedBackup(t, h)
		if len(stored) != 10 {
			t.Fatalf("%d backup codes stored, want the winner's 10", len(stored))
		}
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginWithCode(t, testEmail, testPassword, fresh[4].(string))), 200, "")
	})
	t.Run("disable", func(t *testing.T) {
		h, c, secret, _ := twoFactorUser(t)
		now := code(t, secret, h.clock.Now())
		testenv.Expect(t, c.do("POST", "/api/auth/2fa/disable", jsonBody(t, map[string]string{"password": testPassword, "code": now})), 200, "")
		if s := testenv.Expect(t, c.do("GET", "/api/auth/2fa/status", ""), 200, ""); s["enabled"] != false {
			t.Fatalf("status after disable = %v", s)
		}
		var stored struct {
			TOTP bson.M `bson:"totp"`
		}
		if err := bson.Unmarshal(h.storedUser(t), &stored); err != nil {
			t.Fatal(err)
		}
		if len(stored.TOTP) != 2 || stored.TOTP["enabled"] != false || stored.TOTP["last_step"] != h.clock.Now().Unix()/30 {
			t.Fatalf("totp after disable = %v, want only enabled false and the accepted step", stored.TOTP)
		}
		h.login(testEmail, testPassword)
		// Enabling again with the same secret: the step disable accepted is used up.
		testenv.Expect(t, c.do("POST", "/api/auth/2fa/setup", ""), 200, "")
		if _, err := h.database(t).Collection("users").UpdateOne(t.Context(), bson.D{{Key: "email", Value: testEmail}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "totp.pending_secret", Value: secret}}}}); err != nil {
			t.Fatal(err)
		}
		testenv.Expect(t, c.do("POST", "/api/auth/2fa/verify", codeBody(t, now)), 422, "INVALID_TOTP")
	})
}

// storedBackup is the user's stored backup-code map.
func storedBackup(t *testing.T, h *harness) bson.M {
	t.Helper()
	var stored struct {
		TOTP struct {
			Backup bson.M `bson:"backup"`
		} `bson:"totp"`
	}
	if err := bson.Unmarshal(h.storedUser(t), &stored); err != nil {
		t.Fatal(err)
	}
	return stored.TOTP.Backup
}
