package accounts_test

import (
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestBadTokenDeliveryChangesNothing: an X-Token-Delivery header other than body or cookie is a
// 422 on every route that reads it, and it is refused before anything changes. (Regression: the
// bad-input table found that refresh rotated the refresh token, and change-password changed the
// password and revoked the other sessions, before the header was read and the 422 answered — so a
// client that fixed the header and retried after 10 s had its session revoked as a token reuse,
// and a password changed under a "failed" request.)
func TestBadTokenDeliveryChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.signup(testEmail, testPassword)
	other := h.login(testEmail, testPassword)

	t.Run("refresh", func(t *testing.T) {
		refresh := c.cookies["refresh_token"].Value
		c.header.Set("X-Token-Delivery", "carrier-pigeon")
		r := c.do("POST", "/api/auth/refresh", "")
		c.header.Del("X-Token-Delivery")
		body := testenv.Expect(t, r, 422, "VALIDATION_ERROR")
		if fields, _ := body["fields"].(map[string]any); fields["X-Token-Delivery"] == nil {
			t.Errorf("the 422 does not name X-Token-Delivery: %v", body)
		}
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("a refused refresh set cookies: %v", r.Header.Values("Set-Cookie"))
		}
		// Long after the reuse grace, the same refresh token is still the session's current one:
		// it was not rotated by the refused request.
		h.clock.Advance(time.Minute)
		testenv.Expect(t, c.do("POST", "/api/auth/refresh", ""), 200, "")
		if c.cookies["refresh_token"].Value == refresh {
			t.Errorf("the retry did not rotate the refresh token")
		}
		testenv.Expect(t, c.do("GET", "/api/auth/me", ""), 200, "")
	})

	t.Run("change-password", func(t *testing.T) {
		c.header.Set("X-Token-Delivery", "carrier-pigeon")
		r := c.do("POST", "/api/auth/change-password", jsonBody(t, map[string]string{"current_password": testPassword, "new_password": "Brand9NewPass"}))
		c.header.Del("X-Token-Delivery")
		testenv.Expect(t, r, 422, "VALIDATION_ERROR")
		// The password is unchanged and no session was revoked.
		testenv.Expect(t, other.do("GET", "/api/auth/me", ""), 200, "")
		testenv.Expect(t, h.browser().do("POST", "/api/auth/login", loginBody(t, testEmail, "Brand9NewPass")), 401, "INVALID_CREDENTIALS")
		h.login(testEmail, testPassword)
	})
}
