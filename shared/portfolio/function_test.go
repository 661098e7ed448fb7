package portfolio_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestNewFunction: the production wiring (the process's guard and clocks) serves the four routes
// with their indexes; with no CancelOpenSells (nil: nothing to cancel) a removal still works, and
// coins that something reserved make it fail safely rather than vanish under an order.
func TestNewFunction(t *testing.T) {
	h := newHarness(t)
	d := h.Deps
	fn, err := portfolio.NewFunction(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRoutes := []string{
		"DELETE /api/portfolio/holding/{symbol}", "GET /api/portfolio", "GET /api/portfolio/holding/{symbol}",
		"POST /api/portfolio/holding",
	}
	if !slices.Equal(fn.Routes, wantRoutes) || fn.Name != portfolio.Name {
		t.Errorf("%s routes %v, want %v", fn.Name, fn.Routes, wantRoutes)
	}
	names := map[string]bool{}
	for _, ix := range fn.Indexes {
		names[ix.Collection] = true
	}
	for _, c := range []string{ledger.TransactionsCollection, "idempotency", "audit_logs", auth.SessionsCollection} {
		if !names[c] {
			t.Errorf("no index on %s in %+v", c, fn.Indexes)
		}
	}

	u := h.newUser("u1")
	u.adjust("BTC", 100_000_000)
	u.adjust("ETH", 100_000_000)
	h.sells.place(t, "u1", "ETH", 1) // a reservation nobody will cancel
	tok, _, err := d.Auth().Tokens.Issue(context.Background(), "u1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, token string) testenv.Response {
		t.Helper()
		header := testenv.JSONHeader()
		if token != "" {
			header.Set("Authorization", "Bearer "+token)
		}
		return testenv.Do(t, fn, testenv.Request{Method: method, Path: path, Resource: "/api/portfolio/holding/{symbol}", Header: header})
	}
	if p := decodePortfolio(t, send(http.MethodGet, "/api/portfolio", tok)); len(p.Holdings) != 2 {
		t.Errorf("holdings %+v", p.Holdings)
	}
	testenv.Expect(t, send(http.MethodGet, "/api/portfolio", ""), http.StatusUnauthorized, auth.CodeUnauthenticated)
	must(t, send(http.MethodDelete, "/api/portfolio/holding/BTC", tok), http.StatusOK)
	testenv.Expect(t, send(http.MethodDelete, "/api/portfolio/holding/ETH", tok), http.StatusConflict, portfolio.CodeHoldingChanged)
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 0 || acc.Holdings["ETH"] != 100_000_000 || acc.Available["ETH"] != 99_999_999 {
		t.Errorf("account %+v", acc)
	}
	h.AssertLedger("u1")
}

// TestNewFunctionCancelsOnlyReserved: the production wiring asks trading to cancel open sell
// orders only when the removal's read shows coins of the coin reserved: no order of the coin can
// be open otherwise, and the lookup would cost the removal a round trip for nothing.
func TestNewFunctionCancelsOnlyReserved(t *testing.T) {
	h := newHarness(t)
	var calls []string
	fn, err := portfolio.NewFunction(h.Deps, func(ctx context.Context, userID, symbol string) error {
		calls = append(calls, userID+"/"+symbol)
		return h.sells.CancelOpenSells(ctx, userID, symbol)
	})
	if err != nil {
		t.Fatal(err)
	}
	u := h.newUser("u1")
	u.adjust("BTC", 100_000_000)
	u.adjust("ETH", 100_000_000)
	h.sells.place(t, "u1", "ETH", 30_000_000)
	tok, _, err := h.Deps.Auth().Tokens.Issue(context.Background(), "u1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	remove := func(symbol string) testenv.Response {
		t.Helper()
		header := testenv.JSONHeader()
		header.Set("Authorization", "Bearer "+tok)
		return testenv.Do(t, fn, testenv.Request{Method: http.MethodDelete, Path: "/api/portfolio/holding/" + symbol,
			Resource: "/api/portfolio/holding/{symbol}", Header: header})
	}

	must(t, remove("BTC"), http.StatusOK)
	if len(calls) != 0 {
		t.Fatalf("cancel calls %v for a coin nothing reserves, want none", calls)
	}
	must(t, remove("ETH"), http.StatusOK)
	if !slices.Equal(calls, []string{"u1/ETH"}) {
		t.Fatalf("cancel calls %v, want one for u1/ETH", calls)
	}
	if acc := h.Account("u1"); acc.Holdings["BTC"] != 0 || acc.Holdings["ETH"] != 0 || acc.Available["ETH"] != 0 {
		t.Errorf("account %+v, want both holdings removed", acc)
	}
	h.AssertLedger("u1")
}
