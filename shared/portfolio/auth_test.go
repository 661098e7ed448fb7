package portfolio_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestUnauthenticated: every route answers 401 UNAUTHENTICATED without a valid session (none, a
// malformed token, an expired one) and changes nothing.
func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	expired, _, err := h.Tokens.Issue(context.Background(), "u1", "session-u1")
	if err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(16 * time.Minute) // access tokens live 15 min

	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/api/portfolio", ""},
		{http.MethodGet, "/api/portfolio/holding/BTC", ""},
		{http.MethodPost, "/api/portfolio/holding", addBody("BTC", "1")},
		{http.MethodDelete, "/api/portfolio/holding/BTC", ""},
	}
	tokens := map[string]string{"no token": "", "malformed": "not-a-jwt", "expired": expired}
	for _, rt := range routes {
		for name, tok := range tokens {
			t.Run(rt.method+" "+rt.path+" "+name, func(t *testing.T) {
				header := testenv.JSONHeader()
				if tok != "" {
					header.Set("Authorization", "Bearer "+tok)
				}
				resource := ""
				if rt.path == "/api/portfolio/holding/BTC" {
					resource = "/api/portfolio/holding/{symbol}"
				}
				r := testenv.Do(t, h.fn, testenv.Request{Method: rt.method, Path: rt.path, Resource: resource, Header: header, Body: rt.body})
				testenv.Expect(t, r, http.StatusUnauthorized, auth.CodeUnauthenticated)
			})
		}
	}
	if n := len(h.entries("u1", "")); n != 1 {
		t.Errorf("%d entries, want only the opening deposit", n)
	}
	// A known path with another method is 405 METHOD_NOT_ALLOWED.
	r := u.do(http.MethodPut, "/api/portfolio/holding", addBody("BTC", "1"), "")
	testenv.Expect(t, r, http.StatusMethodNotAllowed, web.CodeMethodNotAllowed)
	h.AssertNoSecrets(t)
}

// TestOwnership: every route reads and changes only the caller's account. B never sees A's
// holdings, cannot read or remove them (404, never 403), and B's additions land in B's account.
func TestOwnership(t *testing.T) {
	h := newHarness(t)
	a, b := h.newUser("alice"), h.newUser("bob")
	must(t, a.add(addBody("BTC", "1"), ""), http.StatusCreated)
	h.sells.place(t, "alice", "BTC", 10_000_000)

	pb := decodePortfolio(t, b.portfolio())
	if len(pb.Holdings) != 0 || num(t, pb.TotalBalance) != "10000.00" {
		t.Errorf("bob's portfolio %+v shows something of alice's", pb)
	}
	testenv.Expect(t, b.holding("BTC"), http.StatusNotFound, web.CodeNotFound)
	testenv.Expect(t, b.remove("BTC"), http.StatusNotFound, web.CodeNotFound)
	must(t, b.add(addBody("ETH", "2"), ""), http.StatusCreated)

	if acc := h.Account("alice"); acc.Holdings["BTC"] != 100_000_000 || acc.Available["BTC"] != 90_000_000 || acc.Holdings["ETH"] != 0 {
		t.Errorf("alice's account changed: %+v", acc)
	}
	if calls := h.sells.callsMade(); len(calls) != 0 {
		t.Errorf("CancelOpenSells calls %v: bob's DELETE must not cancel alice's orders", calls)
	}
	pa := decodePortfolio(t, a.portfolio())
	if len(pa.Holdings) != 1 || pa.Holdings[0].Symbol != "BTC" || num(t, pa.TotalBalance) != "75000.12" {
		t.Errorf("alice's portfolio %+v", pa)
	}
	if logs := h.auditActions("bob"); len(logs) != 1 {
		t.Errorf("bob's audit %+v, want his one HOLDING_ADDED", logs)
	}
	h.AssertLedger("alice")
	h.AssertLedger("bob")
}
