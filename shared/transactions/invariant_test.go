package transactions_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/transactions"
)

// TestInvariantUnderConcurrency: several users deposit and withdraw at once — withdrawals
// oversubscribing their cash, some requests keyed and sent twice at the same moment. No balance
// goes negative, each balance equals the sum of its ledger, and it equals what the 201s say.
func TestInvariantUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	users := []*user{h.newUser("ann"), h.newUser("ben"), h.newUser("cat"), h.newUser("dan")}
	users[0].get("/api/transactions?limit=1") // load the guard's revocation view once

	type outcome struct {
		typ    string
		status int
		id     string
		cents  int64
		code   string
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[string][]outcome{}
	)
	send := func(u *user, typ, amount string, cents int64, key string) {
		r := u.post(movement(typ, amount), key)
		o := outcome{typ: typ, status: r.Status, cents: cents}
		var body struct {
			Code        string `json:"code"`
			Transaction struct {
				ID string `json:"id"`
			} `json:"transaction"`
		}
		_ = json.Unmarshal(r.Body, &body)
		o.id, o.code = body.Transaction.ID, body.Code
		mu.Lock()
		outcomes[u.id] = append(outcomes[u.id], o)
		mu.Unlock()
	}
	for _, u := range users {
		for i := range 4 {
			wg.Go(func() { send(u, "deposit", "250.50", 25_050, "") })
			key := fmt.Sprintf("w-%d", i)
			for range 2 { // the same keyed withdrawal twice, concurrently
				wg.Go(func() { send(u, "withdrawal", "3000", 300_000, key) })
			}
			wg.Go(func() { send(u, "withdrawal", "1000.01", 100_001, "") })
		}
	}
	wg.Wait()

	for _, u := range users {
		cash := int64(moneyenv.StartCash)
		seen := map[string]bool{}
		for _, o := range outcomes[u.id] {
			switch {
			case o.status == http.StatusCreated:
				if seen[o.id] {
					continue // a keyed duplicate answered with the same transaction
				}
				seen[o.id] = true
				if o.typ == "deposit" {
					cash += o.cents
				} else {
					cash -= o.cents
				}
			case o.status == http.StatusUnprocessableEntity && o.code == transactions.CodeInsufficientFunds:
			case o.status == http.StatusConflict && o.code == idempotency.CodeKeyInProgress:
			default:
				t.Errorf("%s: unexpected %d %s", u.id, o.status, o.code)
			}
		}
		if acc := h.Account(u.id); acc.Cash != cash {
			t.Errorf("%s: cash %d, the responses add up to %d", u.id, acc.Cash, cash)
		}
		h.assertInvariant(u.id)
		// Every keyed withdrawal was booked at most once.
		if n := h.countType(u.id, "withdrawal"); n > 8 {
			t.Errorf("%s: %d withdrawals from 8 distinct requests", u.id, n)
		}
	}
	if bytes.Contains([]byte(h.Logs.String()), []byte(`"level":"ERROR"`)) {
		t.Errorf("errors logged:\n%s", h.Logs.String())
	}
}
