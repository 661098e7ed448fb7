package moneyenv_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
)

// TestEnv runs one environment through what the harnesses use it for, in order.
func TestEnv(t *testing.T) {
	e := moneyenv.New(t)

	t.Run("a user's account opens with StartCash and keeps the invariant", func(t *testing.T) {
		e.OpenAccount("u1")
		s := e.AssertLedger("u1")
		if s.Account.Cash != int64(moneyenv.StartCash) || len(s.Entries) != 1 || s.Entries[0].Type != "deposit" {
			t.Errorf("account %+v, entries %+v", s.Account, s.Entries)
		}
	})

	t.Run("a token minted at the clock's time", func(t *testing.T) {
		e.Clock.Advance(48 * time.Hour) // far beyond an access token's life
		h := e.Header("u1", "key-1")
		tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
		if !ok {
			t.Fatalf("no bearer token: %v", h)
		}
		claims, err := e.Tokens.Verify(context.Background(), tok)
		if err != nil || claims.UserID != "u1" || !claims.IssuedAt.Equal(e.Clock.Now()) {
			t.Errorf("claims %+v, %v: want u1's, issued now", claims, err)
		}
		if h.Get(idempotency.HeaderName) != "key-1" || h.Get("Content-Type") != "application/json" {
			t.Errorf("header %v", h)
		}
		if h := e.Header("", ""); h.Get("Authorization") != "" || h.Get(idempotency.HeaderName) != "" {
			t.Errorf("anonymous header %v", h)
		}
	})

	t.Run("a deposit of the test's own, through Ledger", func(t *testing.T) {
		if _, err := e.Ledger.Deposit(context.Background(), "u1", 500, ""); err != nil {
			t.Fatal(err)
		}
		if s := e.AssertLedger("u1"); s.Account.Cash != int64(moneyenv.StartCash)+500 || len(e.Entries("u1")) != 2 {
			t.Errorf("account %+v, entries %+v", s.Account, s.Entries)
		}
	})

	t.Run("the refresher stores the price file and runs after", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "prices.json")
		pricefile.Write(t, path, map[string]string{"BTC": "65000.12"})
		var after []market.Price
		r := e.NewRefresher(path, func(_ context.Context, p []market.Price) error { after = p; return nil })
		res, err := r.Refresh(context.Background())
		if err != nil || res.Stored != 1 || !res.At.Equal(e.Clock.Now()) || len(after) != 1 || after[0].Symbol != "BTC" {
			t.Errorf("refresh %+v, %v; after saw %+v", res, err, after)
		}
	})
}
