package accounts_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

var codePattern = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode reads the newest verification code sent to email from the outbox.
func (h *harness) lastCode(email string) string {
	h.t.Helper()
	msgs, err := h.outbox.Messages()
	if err != nil {
		h.t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == email {
			if m := codePattern.FindStringSubmatch(msgs[i].Text); m != nil {
				return m[1]
			}
		}
	}
	h.t.Fatalf("no verification mail for %s in %d messages", email, len(msgs))
	return ""
}

func verifyBody(t *testing.T, email, c string) string {
	return jsonBody(t, map[string]string{"email": email, "code": c})
}

func TestEmailVerification(t *testing.T) {
	h := newHarness(t, nil)
	h.signup(testEmail, testPassword)
	good := h.lastCode(testEmail)

	testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, wrongCode(good))), 422, "INVALID_CODE")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", verifyBody(t, "nobody@example.com", good)), 422, "INVALID_CODE")
	body := testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", jsonBody(t, map[string]string{"email": testEmail, "token": good})), 200, "")
	if body["user"].(map[string]any)["emailVerified"] != true || body["message"] == nil {
		t.Errorf("verify = %v", body)
	}
	if me := testenv.Expect(t, h.login(testEmail, testPassword).do("GET", "/api/auth/me", ""), 200, ""); me["user"].(map[string]any)["emailVerified"] != true {
		t.Errorf("me after verify = %v", me)
	}
	h.assertNoSecrets(good)
}

func wrongCode(good string) string {
	if good == "000000" {
		return "111111"
	}
	return "000000"
}

func TestVerificationCodeLimits(t *testing.T) {
	h := newHarness(t, nil)
	h.signup(testEmail, testPassword)
	good := h.lastCode(testEmail)
	for i := 0; i < 5; i++ {
		testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, wrongCode(good))), 422, "INVALID_CODE")
	}
	// The fifth wrong try used the code up: the right one no longer works.
	testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, good)), 422, "INVALID_CODE")

	// Resend answers the same for unknown addresses, and the new code works...
	a := testenv.Expect(t, h.browser().do("POST", "/api/auth/resend-verification", `{"email":"nobody@example.com"}`), 200, "")
	b := testenv.Expect(t, h.browser().do("POST", "/api/auth/resend-verification", `{"email":"`+testEmail+`"}`), 200, "")
	if a["message"] != b["message"] {
		t.Errorf("resend reveals accounts: %v vs %v", a, b)
	}
	fresh := h.lastCode(testEmail)
	// ...but not after 24 hours.
	h.clock.Advance(24*time.Hour + time.Second)
	testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, fresh)), 422, "INVALID_CODE")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/resend-verification", `{"email":"`+testEmail+`"}`), 200, "")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, h.lastCode(testEmail))), 200, "")
	testenv.Expect(t, h.browser().do("POST", "/api/auth/resend-verification", `{"email":"bad"}`), 422, "VALIDATION_ERROR")
}

func TestRequireEmailVerification(t *testing.T) {
	h := newHarness(t, map[string]string{"REQUIRE_EMAIL_VERIFICATION": "true"})
	c := h.browser()
	body := testenv.Expect(t, c.do("POST", "/api/auth/signup", signupBody(t, testEmail, testPassword)), 201, "")
	if body["access_token"] != nil || len(c.cookies) != 0 || body["user"] == nil || body["message"] == nil {
		t.Fatalf("gated signup = %v, cookies %v", body, c.cookies)
	}
	testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Wrong9Password")), 401, "INVALID_CREDENTIALS")
	r := h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, testPassword))
	refused := testenv.Expect(t, r, 403, "EMAIL_NOT_VERIFIED")
	if !strings.Contains(refused["error"].(string), "Email not verified") {
		t.Errorf("message = %v", refused["error"])
	}
	v := h.browser()
	good := h.lastCode(testEmail)
	body = testenv.Expect(t, v.do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, good)), 200, "")
	if body["access_token"] == nil || v.cookies["access_token"] == nil || v.cookies["refresh_token"] == nil {
		t.Fatalf("verify-email did not log in: %v %v", body, v.cookies)
	}
	testenv.Expect(t, v.do("GET", "/api/auth/me", ""), 200, "")
	h.login(testEmail, testPassword)

	// Once verified, verify-email logs no one in: not with the used code, not with any other.
	for _, c := range []string{good, wrongCode(good)} {
		again := h.browser()
		testenv.Expect(t, again.do("POST", "/api/auth/verify-email", verifyBody(t, testEmail, c)), 422, "INVALID_CODE")
		if len(again.cookies) != 0 {
			t.Errorf("verify-email of a verified address set cookies")
		}
	}
}
