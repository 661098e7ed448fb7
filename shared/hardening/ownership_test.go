package hardening_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestCookieAndHeaderDisagree: a request carrying one user's access cookie and another user's
// bearer header acts as the header's user, on reads and writes, through the real routes — and an
// invalid or revoked header never falls back to a valid cookie. For the refresh token, the body
// wins over the cookie the same way, and a bad body token does not fall back either.
func TestCookieAndHeaderDisagree(t *testing.T) {
	s := newStack(t, stackOptions{})
	alice, bob := s.signup("alice@example.com"), s.signup("bob@example.com")
	testenv.Expect(t, alice.do("POST", "/api/transactions", `{"type":"deposit","amount":777}`), 201, "")

	both := func(cookie *user, headerToken string) http.Header {
		h := cookie.cookies()
		h.Set("Authorization", "Bearer "+headerToken)
		return h
	}
	me := testenv.Expect(t, s.do("GET", "/api/auth/me", both(alice, bob.access), ""), 200, "")
	if field(me, "user", "id") != bob.id {
		t.Fatalf("cookie alice, header bob: /me is %s, want bob", field(me, "user", "id"))
	}
	pf := testenv.Expect(t, s.do("GET", "/api/portfolio", both(alice, bob.access), ""), 200, "")["portfolio"].(map[string]any)
	if pf["cashBalance"] != 10000.0 {
		t.Errorf("cookie alice, header bob: portfolio cash %v, want bob's 10000 (alice has 10777)", pf["cashBalance"])
	}
	// A write goes to the header's user only.
	testenv.Expect(t, s.do("POST", "/api/transactions", both(alice, bob.access), `{"type":"withdrawal","amount":100}`), 201, "")
	for _, c := range []struct {
		u    *user
		cash float64
	}{{alice, 10777}, {bob, 9900}} {
		pf := testenv.Expect(t, c.u.do("GET", "/api/portfolio", ""), 200, "")["portfolio"].(map[string]any)
		if pf["cashBalance"] != c.cash {
			t.Errorf("%s: cash %v, want %v", c.u.email, pf["cashBalance"], c.cash)
		}
	}

	// A header that is not valid never falls back to the valid cookie, on reads or writes.
	loggedOut := testenv.Expect(t, s.do("POST", "/api/auth/login", jsonHeader(), fmt.Sprintf(`{"email":%q,"password":%q}`, bob.email, password)), 200, "")["access_token"].(string)
	testenv.Expect(t, s.do("POST", "/api/auth/logout", jsonHeader("Authorization", "Bearer "+loggedOut), ""), 200, "")
	before := s.snapshot()
	for _, tok := range []string{"garbage", loggedOut, "", bob.refresh} {
		testenv.Expect(t, s.do("GET", "/api/auth/me", both(alice, tok), ""), 401, "UNAUTHENTICATED")
		testenv.Expect(t, s.do("POST", "/api/transactions", both(alice, tok), `{"type":"withdrawal","amount":100}`), 401, "UNAUTHENTICATED")
		testenv.Expect(t, s.do("POST", "/api/orders", both(alice, tok), `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`), 401, "UNAUTHENTICATED")
	}
	s.assertUnchanged("invalid headers with a valid cookie", before)

	// Refresh: the body's token wins over the cookie; alice's cookie session is left alone.
	h := alice.cookies()
	r := s.do("POST", "/api/auth/refresh", h, fmt.Sprintf(`{"refresh_token":%q}`, bob.refresh))
	refreshed := testenv.Expect(t, r, 200, "")
	if sub := claimsOf(t, refreshed["access_token"].(string))["sub"]; sub != bob.id {
		t.Errorf("refresh with alice's cookie and bob's body token issued a token for %v, want bob", sub)
	}
	// Alice's refresh token was not rotated: it still refreshes (a rotated-out one would be 200
	// only within the 10 s grace window and then revoke; it is current, so it rotates now).
	r = s.do("POST", "/api/auth/refresh", jsonHeader("Cookie", "refresh_token="+alice.refresh), "")
	if got := testenv.Expect(t, r, 200, ""); claimsOf(t, got["access_token"].(string))["sub"] != alice.id {
		t.Errorf("alice's refresh: %v", got)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "refresh_token=") {
		t.Error("alice's own refresh did not rotate her token: the request that carried bob's body token had rotated it")
	}
	// A bad body token does not fall back to a good cookie.
	testenv.Expect(t, s.do("POST", "/api/auth/refresh", jsonHeader("Cookie", "refresh_token="+alice.refresh), `{"refresh_token":"forged"}`), 401, "UNAUTHENTICATED")
}

// idRoutes are the template routes with a path parameter and what the test sends on each. Public
// market routes take a coin, not a user resource.
var idRoutes = map[string]string{
	"GET /api/orders/{id}":                   "another user's order",
	"POST /api/orders/{id}/cancel":           "another user's open order",
	"GET /api/transactions/{id}":             "another user's transaction",
	"GET /api/audit-logs/{id}":               "another user's audit entry",
	"GET /api/portfolio/holding/{symbol}":    "a coin only the other user holds",
	"DELETE /api/portfolio/holding/{symbol}": "a coin only the other user holds",
	"GET /api/crypto/{symbol}":               "public market data",
	"GET /api/crypto/{symbol}/history":       "public market data",
}

// TestNoIDOR: on every route that takes an id (the list is checked against template.yaml), one
// user presenting another user's ids — by bearer and by cookie — gets 404 NOT_FOUND, never 403,
// never the other user's data, and changes nothing; the owner still sees and owns the resource.
func TestNoIDOR(t *testing.T) {
	s := newStack(t, stackOptions{})
	alice := newVictim(s, "alice@example.com")
	mallory := s.signup("mallory@example.com")

	for _, r := range s.apiRoutes() {
		if strings.Contains(r.Path, "{") {
			if _, ok := idRoutes[r.String()]; !ok {
				t.Errorf("%s takes an id but has no IDOR case: add it to idRoutes", r)
			}
		}
	}
	// Signup leaves the opening deposit pending for the new account's first ledger read to
	// clear: mallory's own read does it now, so that the snapshot compares only what another
	// user's ids could change.
	testenv.Expect(t, mallory.do("GET", "/api/portfolio", ""), 200, "")
	before := s.snapshot()
	n := 0
	for _, r := range s.apiRoutes() {
		what, ok := idRoutes[r.String()]
		if !ok || strings.HasPrefix(r.Path, "/api/crypto/") {
			continue
		}
		target := alice.target(r)
		for _, h := range []http.Header{mallory.bearer(), mallory.cookies()} {
			res := s.do(r.Method, target, h, "")
			body := testenv.Expect(t, res, http.StatusNotFound, "NOT_FOUND")
			for _, secret := range []string{alice.id, alice.email, alice.filledOrder, alice.openOrder, alice.deposit, alice.auditLog} {
				if bytes.Contains(res.Body, []byte(secret)) {
					t.Errorf("%s (%s): the 404 names alice's data %q: %v", r, what, secret, body)
				}
			}
			n++
		}
	}
	s.assertUnchanged("another user's ids", before)

	// The owner still has all of it.
	for _, target := range []string{"/api/orders/" + alice.filledOrder, "/api/orders/" + alice.openOrder,
		"/api/transactions/" + alice.deposit, "/api/audit-logs/" + alice.auditLog, "/api/portfolio/holding/BTC"} {
		testenv.Expect(t, alice.do("GET", target, ""), 200, "")
	}
	if st := field(testenv.Expect(t, alice.do("GET", "/api/orders/"+alice.openOrder, ""), 200, ""), "order", "status"); st != "open" {
		t.Errorf("alice's open order is %s after mallory's cancel", st)
	}
	// Mallory's lists hold nothing of alice's.
	for _, target := range []string{"/api/orders", "/api/transactions", "/api/audit-logs", "/api/portfolio", "/api/audit-logs/export?format=csv"} {
		res := mallory.do("GET", target, "")
		if res.Status != http.StatusOK {
			t.Fatalf("mallory GET %s: %d %s", target, res.Status, res.Body)
		}
		for _, secret := range []string{alice.id, alice.email, alice.filledOrder, alice.openOrder, alice.deposit, alice.auditLog} {
			if bytes.Contains(res.Body, []byte(secret)) {
				t.Errorf("mallory's %s names alice's %q", target, secret)
			}
		}
	}
	s.assertLedger(alice.id)
	s.assertLedger(mallory.id)
	t.Logf("%d requests with another user's ids: all 404, nothing changed", n)
}
