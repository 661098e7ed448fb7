package accounts_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// claimsOf reads a JWT's payload (no verification: the test only needs sub and sid).
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSignupMeLogout(t *testing.T) {
	h := newHarness(t, nil)
	c, body := h.signup(" Ada@Example.COM ", testPassword)

	user, _ := body["user"].(map[string]any)
	if user["email"] != testEmail || user["name"] != testName || user["emailVerified"] != false || user["twoFactorEnabled"] != false ||
		user["createdAt"] == nil || user["createdAt"] != user["created_at"] || user["id"] == "" {
		t.Errorf("user = %v", user)
	}
	if body["token_type"] != "bearer" || body["expires_in"] != 900.0 || body["access_token"] == "" || body["refresh_token"] != nil {
		t.Errorf("token fields = %v", body)
	}
	for _, leak := range []string{"password", "password_hash", "secret", "verification", "totp"} {
		if strings.Contains(strings.ToLower(jsonBody(t, body["user"])), leak) {
			t.Errorf("user object leaks %q: %v", leak, body["user"])
		}
	}
	access, refresh := c.cookies["access_token"], c.cookies["refresh_token"]
	if access == nil || refresh == nil {
		t.Fatalf("cookies = %v", c.cookies)
	}
	if access.Path != "/dev/" || access.MaxAge != 900 || !access.HttpOnly || refresh.Path != "/dev/api/auth" || refresh.MaxAge != 604800 || !refresh.HttpOnly {
		t.Errorf("cookie attributes: access %+v refresh %+v", access, refresh)
	}

	// The starting cash is booked as a deposit in the ledger.
	acct, err := h.ledger.Account(context.Background(), user["id"].(string))
	if err != nil || acct.Cash != money.USD(1_000_000) {
		t.Errorf("account = %+v, %v; want 10000.00 starting cash", acct, err)
	}

	me := testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 200, "")
	if me["user"].(map[string]any)["id"] != user["id"] {
		t.Errorf("me = %v", me)
	}
	testenv.Expect(t, c.do("POST", "/api/auth/logout", ""), 200, "")
	if len(c.cookies) != 0 {
		t.Errorf("logout left cookies: %v", c.cookies)
	}
	// The same access token is refused at once, in this process.
	replay := h.browser()
	replay.bearer = access.Value
	testenv.Expect(t, replay.do("GET", "/api/auth/me", ""), 401, "UNAUTHENTICATED")
	h.assertNoSecrets(access.Value, refresh.Value)
}

func TestSignupValidation(t *testing.T) {
	h := newHarness(t, nil)
	h.signup(testEmail, testPassword)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"bad email", signupBody(t, "not-an-email", testPassword), 422, "VALIDATION_ERROR", "email"},
		{"display name email", signupBody(t, "Ada <ada@example.com>", testPassword), 422, "VALIDATION_ERROR", "email"},
		{"long email", signupBody(t, strings.Repeat("a", 250)+"@x.io", testPassword), 422, "VALIDATION_ERROR", "email"},
		{"short password", signupBody(t, "b@example.com", "Ab1"), 422, "VALIDATION_ERROR", "password"},
		{"no digit", signupBody(t, "b@example.com", "Abcdefghij"), 422, "VALIDATION_ERROR", "password"},
		{"no upper", signupBody(t, "b@example.com", "abcdefgh1"), 422, "VALIDATION_ERROR", "password"},
		{"no lower", signupBody(t, "b@example.com", "ABCDEFGH1"), 422, "VALIDATION_ERROR", "password"},
		{"long password", signupBody(t, "b@example.com", "Aa1"+strings.Repeat("x", 130)), 422, "VALIDATION_ERROR", "password"},
		{"short name", `{"email":"b@example.com","password":"` + testPassword + `","name":" A "}`, 422, "VALIDATION_ERROR", "name"},
		{"missing fields", `{}`, 422, "VALIDATION_ERROR", "email"},
		{"wrong type", `{"email":123,"password":"` + testPassword + `","name":"Bob Bobson"}`, 422, "VALIDATION_ERROR", "email"},
		{"operator injection", `{"email":{"$ne":null},"password":"` + testPassword + `","name":"Bob Bobson"}`, 422, "VALIDATION_ERROR", "email"},
		{"duplicate, other case", signupBody(t, "ADA@example.com", testPassword), 409, "EMAIL_TAKEN", ""},
		{"bad token delivery", signupBody(t, "c@example.com", testPassword), 422, "VALIDATION_ERROR", "X-Token-Delivery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.browser()
			if tt.field == "X-Token-Delivery" {
				c.header.Set("X-Token-Delivery", "carrier-pigeon")
			}
			body := testenv.Expect(t, c.do("POST", "/api/auth/signup", tt.body), tt.status, tt.code)
			if tt.field != "" {
				if fields, _ := body["fields"].(map[string]any); fields[tt.field] == nil {
					t.Errorf("fields %v do not name %s", body["fields"], tt.field)
				}
			}
			if len(c.cookies) != 0 {
				t.Errorf("a refused signup set cookies")
			}
		})
	}
	// Nothing was created by the refused requests: only the first user exists.
	login := h.browser()
	testenv.Expect(t, login.do("POST", "/api/auth/login", loginBody(t, "b@example.com", testPassword)), 401, "INVALID_CREDENTIALS")
}

// TestLoginDoesNotRevealAccounts: an unknown email and a wrong password get the same answer.
func TestLoginDoesNotRevealAccounts(t *testing.T) {
	h := newHarness(t, nil)
	h.signup(testEmail, testPassword)
	wrong := h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Wrong9Password"))
	unknown := h.browser().do("POST", "/api/auth/login", loginBody(t, "nobody@example.com", "Wrong9Password"))
	a, b := testenv.Expect(t, wrong, 401, "INVALID_CREDENTIALS"), testenv.Expect(t, unknown, 401, "INVALID_CREDENTIALS")
	if a["error"] != b["error"] || a["detail"] != b["detail"] {
		t.Errorf("answers differ: %v vs %v", a, b)
	}
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", `{"email":"","password":""}`), 422, "VALIDATION_ERROR")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", `{"email":{"$gt":""},"password":"x"}`), 422, "VALIDATION_ERROR")
}

func TestLockout(t *testing.T) {
	h := newHarness(t, nil)
	h.signup(testEmail, testPassword)
	for i := 1; i <= 4; i++ {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Wrong9Password")), 401, "INVALID_CREDENTIALS")
	}
	r := h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Wrong9Password"))
	testenv.Expect(t, r, 429, "ACCOUNT_LOCKED")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 890 || ra > 900 {
		t.Errorf("Retry-After = %q, want about 900", r.Header.Get("Retry-After"))
	}
	// The right password is refused during the lock, and trying does not extend it.
	h.clock.Advance(10 * time.Minute)
	r = h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, testPassword))
	testenv.Expect(t, r, 429, "ACCOUNT_LOCKED")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra > 300 {
		t.Errorf("Retry-After = %d after 10 min, want <= 300 (not extended)", ra)
	}
	h.clock.Advance(5*time.Minute + time.Second)
	h.login(testEmail, testPassword)

	// Every failure is a FailedLogins count for the alarm; the success a Logins count.
	if n := strings.Count(h.env.Metrics.String(), `"FailedLogins":1`); n != 5 {
		t.Errorf("FailedLogins published %d times, want 5 (an attempt during the lock is no failure)", n)
	}
	if !strings.Contains(h.env.Metrics.String(), `"Logins":1`) {
		t.Error("no Logins count after a successful login")
	}

	// An address without an account locks the same way (a lock reveals nothing).
	for i := 1; i <= 4; i++ {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, "ghost@example.com", "Wrong9Password")), 401, "INVALID_CREDENTIALS")
	}
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, "ghost@example.com", "Wrong9Password")), 429, "ACCOUNT_LOCKED")

	// A success resets the count: 4 failures, a success, 4 failures → still not locked.
	for i := 0; i < 4; i++ {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Wrong9Password")), 401, "INVALID_CREDENTIALS")
	}
	h.login(testEmail, testPassword)
	for i := 0; i < 4; i++ {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Wrong9Password")), 401, "INVALID_CREDENTIALS")
	}
	h.login(testEmail, testPassword)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.signup(testEmail, testPassword)
	first := c.cookies["refresh_token"].Value

	h.clock.Advance(time.Minute)
	body := testenv.Expect(t, c.do("POST", "/api/auth/refresh", ""), 200, "")
	second := c.cookies["refresh_token"].Value
	if second == first || body["access_token"] == "" || body["token_type"] != "bearer" || body["message"] == nil {
		t.Fatalf("refresh did not rotate: %v", body)
	}

	// Another tab presents the first token 5 s after the rotation: a new access token, the
	// session survives, the refresh cookie is not replaced.
	h.clock.Advance(5 * time.Second)
	tab := h.browser()
	tab.cookies["refresh_token"] = &http.Cookie{Name: "refresh_token", Value: first}
	r := tab.do("POST", "/api/auth/refresh", "")
	testenv.Expect(t, r, 200, "")
	if tab.cookies["refresh_token"].Value != first {
		t.Errorf("grace refresh replaced the refresh cookie")
	}
	testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 200, "")

	// 11 s after the rotation the same token is a reuse: the whole session is revoked.
	h.clock.Advance(6 * time.Second)
	testenv.Expect(t, tab.do("POST", "/api/auth/refresh", ""), 401, "UNAUTHENTICATED")
	testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 401, "UNAUTHENTICATED")
	testenv.Expect(t, c.do("POST", "/api/auth/refresh", ""), 401, "UNAUTHENTICATED")

	// The reuse is in the audit trail.
	fresh := h.login(testEmail, testPassword)
	logs := testenv.Expect(t, fresh.do("GET", "/api/audit-logs?action=REFRESH_TOKEN_REUSED", ""), 200, "")
	if logs["total"] != 1.0 {
		t.Errorf("REFRESH_TOKEN_REUSED entries = %v", logs["total"])
	}
	h.assertNoSecrets(first, second)
}

// TestTokenDeliveryInBody: clients without cookies get the refresh token in the body and send
// it back in the body.
func TestTokenDeliveryInBody(t *testing.T) {
	h := newHarness(t, nil)
	h.signup(testEmail, testPassword)
	c := h.browser()
	c.header.Set("X-Token-Delivery", "body")
	body := testenv.Expect(t, c.do("POST", "/api/auth/login", loginBody(t, testEmail, testPassword)), 200, "")
	refresh, _ := body["refresh_token"].(string)
	if refresh == "" || len(c.cookies) != 0 {
		t.Fatalf("body delivery: refresh %q, cookies %v", refresh, c.cookies)
	}
	c.bearer = body["access_token"].(string)
	testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 200, "")
	body = testenv.Expect(t, c.do("POST", "/api/auth/refresh", jsonBody(t, map[string]string{"refresh_token": refresh})), 200, "")
	if next, _ := body["refresh_token"].(string); next == "" || next == refresh || len(c.cookies) != 0 {
		t.Errorf("refresh in body: %v, cookies %v", body, c.cookies)
	}
}

// TestAnonymousPageLoad is the frontend's sequence on a page load without a session.
func TestAnonymousPageLoad(t *testing.T) {
	h := newHarness(t, nil)
	c := h.browser()
	testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 401, "UNAUTHENTICATED")
	testenv.Expect(t, c.do("POST", "/api/auth/refresh", ""), 401, "UNAUTHENTICATED")
	testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 401, "UNAUTHENTICATED")
	c.cookies["refresh_token"] = &http.Cookie{Name: "refresh_token", Value: "garbage"}
	testenv.Expect(t, c.do("POST", "/api/auth/refresh", ""), 401, "UNAUTHENTICATED")
	testenv.Expect(t, c.do("POST", "/api/auth/refresh", `{"refresh_token": 5}`), 422, "VALIDATION_ERROR")
}

// TestAuthenticatedRoutesRefuseBadTokens: every authenticated route answers 401 to a missing,
// expired, foreign-key, alg:none, refresh-as-access or logged-out token.
func TestAuthenticatedRoutesRefuseBadTokens(t *testing.T) {
	h := newHarness(t, nil)
	c, body := h.signup(testEmail, testPassword)
	token := body["access_token"].(string)
	claims := claimsOf(t, token)
	userID, sessionID := claims["sub"].(string), claims["sid"].(string)

	loggedOut := h.login(testEmail, testPassword)
	loggedOutToken := loggedOut.cookies["access_token"].Value
	testenv.Expect(t, loggedOut.do("POST", "/api/auth/logout", ""), 200, "")

	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"static"}`))
	payload := strings.Split(token, ".")[1]
	algNone := header + "." + payload + "."

	routes := []struct{ method, path string }{
		{"GET", "/api/auth/me"}, {"POST", "/api/auth/logout"}, {"POST", "/api/auth/2fa/setup"},
		{"POST", "/api/auth/2fa/verify"}, {"GET", "/api/auth/2fa/status"}, {"POST", "/api/auth/2fa/disable"},
		{"POST", "/api/auth/2fa/backup-codes"}, {"POST", "/api/auth/change-password"},
		{"GET", "/api/audit-logs"}, {"GET", "/api/audit-logs/summary"}, {"GET", "/api/audit-logs/export"},
		{"GET", "/api/audit-logs/0123456789abcdef01234567"},
	}
	bad := map[string]string{
		"none":              "",
		"garbage":           "not.a.jwt",
		"foreign key":       h.foreignToken(userID, sessionID),
		"alg none":          algNone,
		"refresh as access": c.cookies["refresh_token"].Value,
		"logged out":        loggedOutToken,
	}
	for name, tok := range bad {
		for _, rt := range routes {
			cl := h.browser()
			cl.bearer = tok
			testenv.Expect(t, cl.do(rt.method, rt.path, ""), 401, "UNAUTHENTICATED")
		}
		_ = name
	}
	// Expired: 16 minutes later the signup's access token is refused everywhere.
	h.clock.Advance(16 * time.Minute)
	for _, rt := range routes {
		cl := h.browser()
		cl.bearer = token
		testenv.Expect(t, cl.do(rt.method, rt.path, ""), 401, "UNAUTHENTICATED")
	}
}

func TestChangePassword(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.signup(testEmail, testPassword)
	other := h.login(testEmail, testPassword)
	oldAccess := c.cookies["access_token"].Value

	testenv.Expect(t, c.do("POST", "/api/auth/change-password", jsonBody(t, map[string]string{"current_password": "Wrong9Password", "new_password": "Brand9NewPass"})), 422, "INVALID_CREDENTIALS")
	testenv.Expect(t, c.do("POST", "/api/auth/change-password", jsonBody(t, map[string]string{"current_password": testPassword, "new_password": "weak"})), 422, "VALIDATION_ERROR")
	testenv.Expect(t, c.do("POST", "/api/auth/change-password", jsonBody(t, map[string]string{"current_password": testPassword, "new_password": "Brand9NewPass"})), 200, "")
	if c.cookies["access_token"].Value == oldAccess {
		t.Error("no new cookies after a password change")
	}
	testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 200, "")
	testenv.Expect(t, other.do("GET", "/api/auth/me", ""), 401, "UNAUTHENTICATED")
	testenv.Expect(t, other.do("POST", "/api/auth/refresh", ""), 401, "UNAUTHENTICATED")
	// The caller's old session is replaced: its access token is dead too, and it is not counted
	// among the sessions revoked.
	stale := h.browser()
	stale.bearer = oldAccess
	testenv.Expect(t, stale.do("GET", "/api/auth/me", ""), 401, "UNAUTHENTICATED")
	logs, _ := testenv.Expect(t, c.do("GET", "/api/audit-logs?action=PASSWORD_CHANGED", ""), 200, "")["logs"].([]any)
	if len(logs) != 1 {
		t.Fatalf("%d PASSWORD_CHANGED entries, want 1", len(logs))
	}
	if n := logs[0].(map[string]any)["details"].(map[string]any)["sessions_revoked"]; n != float64(1) {
		t.Errorf("sessions_revoked = %v, want 1 (the other login)", n)
	}
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, testPassword)), 401, "INVALID_CREDENTIALS")
	h.login(testEmail, "Brand9NewPass")
	h.assertNoSecrets("Brand9NewPass")
}

func TestAuditTrailOwnership(t *testing.T) {
	h := newHarness(t, nil)
	a, _ := h.signup(testEmail, testPassword)
	b, _ := h.signup("bob@example.com", testPassword)
	list := testenv.Expect(t, a.do("GET", "/api/audit-logs", ""), 200, "")
	logs, _ := list["logs"].([]any)
	if len(logs) == 0 {
		t.Fatal("no audit entries after signup")
	}
	id := logs[0].(map[string]any)["id"].(string)
	testenv.Expect(t, a.do("GET", "/api/audit-logs/"+id, ""), 200, "")
	testenv.Expect(t, b.do("GET", "/api/audit-logs/"+id, ""), 404, "NOT_FOUND")
	summary := testenv.Expect(t, a.do("GET", "/api/audit-logs/summary", ""), 200, "")
	if counts := summary["summary"].(map[string]any)["action_counts"].(map[string]any); counts["USER_SIGNUP"] != 1.0 {
		t.Errorf("summary = %v", summary)
	}
	_ = testenv.Origin
}

// TestSignupOpensTheAccountOnce: signup opens the account with its starting deposit, records the
// deposit beside the flag, the audit entry and the session, and leaves its clearing from pending to
// the account's next update or first read. Whatever fails after the account insert, the deposit
// ends up in the ledger exactly once and the balance equals it.
func TestSignupOpensTheAccountOnce(t *testing.T) {
	tests := []struct {
		name string
		// fault is injected for the signup only.
		fault  *devdb.Fault
		status int
		// then is what repairs or completes the state after the signup.
		then func(t *testing.T, h *harness)
	}{
		{name: "signup, then the first read", status: 201, then: func(t *testing.T, h *harness) {
			// The read comes from another function's instance (a Ledger of its own), as the new
			// user's first look at the ledger does: the auth instance's Ledger knows it recorded
			// the deposit and would leave its clean to the account's next update.
			reader := ledger.New(h.env.Deps.Mongo.Database, ledger.Options{Now: h.clock.Now})
			entries, total, err := reader.Entries(t.Context(), userIDOf(t, h), ledger.EntryQuery{})
			if err != nil || total != 1 || entries[0].Description != ledger.StartingBalanceDescription || entries[0].Value != money.USD(1_000_000) {
				t.Fatalf("Entries = %+v, %d, %v; want the starting deposit", entries, total, err)
			}
		}},
		{name: "flag not written, then login repairs", fault: &devdb.Fault{Command: "update", Times: 1, ErrorCode: 1, ErrorMessage: "injected"},
			status: 500, then: func(t *testing.T, h *harness) {
				if u := storedUserDoc(t, h); u.AccountOpened {
					t.Fatal("account_opened set although its update failed")
				}
				h.login(testEmail, testPassword)
				if u := storedUserDoc(t, h); !u.AccountOpened {
					t.Fatal("login did not set account_opened")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if tt.fault != nil {
				h.db.Inject(*tt.fault)
			}
			r := h.browser().do("POST", "/api/auth/signup", signupBody(t, testEmail, testPassword))
			h.db.ClearFaults()
			if r.Status != tt.status {
				t.Fatalf("signup: %d %s, want %d", r.Status, r.Body, tt.status)
			}
			id := userIDOf(t, h)
			db := h.database(t)
			acc := moneycheck.ReadAccount(t, db, id)
			deposit := ledger.DerivedID("open-account", id)
			if _, pending := acc.Pending[deposit]; !pending || acc.Cash != 1_000_000 || len(acc.Pending) != 1 {
				t.Fatalf("account after signup = %+v, want the starting cash with its deposit pending", acc)
			}
			if n := len(moneycheck.ReadEntries(t, db, id)); n != 1 {
				t.Fatalf("%d entries after signup, want the deposit recorded beside the flag", n)
			}
			tt.then(t, h)
			s := moneycheck.State{Account: moneycheck.ReadAccount(t, db, id), Entries: moneycheck.ReadEntries(t, db, id)}
			for _, err := range append(s.Flushed(), s.Balances()...) {
				t.Error(err)
			}
		})
	}
}

// storedFlags are the test user's stored id and account flag.
type storedFlags struct {
	ID            string `bson:"_id"`
	AccountOpened bool   `bson:"account_opened"`
}

func storedUserDoc(t *testing.T, h *harness) storedFlags {
	t.Helper()
	var u storedFlags
	if err := bson.Unmarshal(h.storedUser(t), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

func userIDOf(t *testing.T, h *harness) string {
	t.Helper()
	return storedUserDoc(t, h).ID
}
