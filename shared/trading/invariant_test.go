package trading_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// inFlight bounds the concurrent requests of the concurrency tests: enough to interleave every
// step of every operation, few enough that the Lambda-sized pool (5 connections) in front of the
// one-command-at-a-time engine never makes a request wait past its operation timeout.
const inFlight = 16

// TestInvariantUnderConcurrency: several users at once send 100 market buys and sells (many
// beyond their funds), place and cancel resting orders (each cancel twice at once, while matcher
// runs try to fill the same orders), deposit and withdraw through the ledger, and send one
// Idempotency-Key 20 times at once. Afterwards no balance is negative, every balance equals its
// ledger, the account holds back exactly what the open orders reserve, each order left open at
// most once, and the key booked exactly one order.
func TestInvariantUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	var users []*user
	for i := range 4 {
		u := h.newUser(fmt.Sprintf("u%d", i))
		u.give("BTC", "0.5")
		u.give("ETH", "5")
		users = append(users, u)
	}
	// Resting orders to cancel, which the matcher runs below also trigger (BTC at 63000).
	type resting struct {
		u  *user
		id string
	}
	var rest []resting
	for _, u := range users {
		for _, body := range []string{
			limitOrder("limit", "buy", "BTC/USD", "0.01", "64000"),
			limitOrder("stop", "sell", "BTC/USD", "0.02", "63500"),
			limitOrder("limit", "sell", "ETH/USD", "1", "9000"), // never triggered
		} {
			rest = append(rest, resting{u, u.placed(body)["id"].(string)})
		}
	}

	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, inFlight)
		mu       sync.Mutex
		problems []string
		cancels  = map[string]int{} // order id → 200s
		keyed    [][]byte
	)
	// Tasks are collected, then started in a seeded shuffle, so that every kind interleaves with
	// every other (cancels with the matcher runs that fill the same orders, the key's burst with
	// everything) and a failure reproduces.
	var tasks []func()
	run := func(f func()) { tasks = append(tasks, f) }
	unexpected := func(what string, r testenv.Response) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf("%s: %d %s", what, r.Status, r.Body))
	}
	for i := range 100 {
		u := users[i%len(users)]
		side, pair, amount := "buy", "BTC/USDT", []string{"0.01", "0.05", "0.2"}[i%3]
		if i%2 == 1 {
			side, pair, amount = "sell", "ETH/USD", []string{"0.5", "1.5", "3"}[i%3]
		}
		run(func() {
			r := u.order(marketOrder(side, pair, amount), "")
			if r.Status != http.StatusCreated && !(r.Status == http.StatusUnprocessableEntity && bytes.Contains(r.Body, []byte(trading.CodeInsufficientFunds))) {
				unexpected("market order", r)
			}
		})
	}
	for _, o := range rest {
		for range 2 {
			run(func() {
				r := o.u.cancel(o.id)
				switch {
				case r.Status == http.StatusOK:
					mu.Lock()
					cancels[o.id]++
					mu.Unlock()
				case r.Status == http.StatusConflict && bytes.Contains(r.Body, []byte(trading.CodeOrderNotOpen)):
				default:
					unexpected("cancel", r)
				}
			})
		}
	}
	for i, u := range users {
		for j := range 5 {
			run(func() {
				ctx := testCtx(t)
				if j%2 == 0 {
					if _, err := h.Ledger.Deposit(ctx, u.id, money.USD(10_000*(i+j+1)), ""); err != nil {
						t.Errorf("deposit: %v", err)
					}
					return
				}
				_, err := h.Ledger.Apply(ctx, ledger.Change{UserID: u.id, Entries: []ledger.Entry{
					{Type: ledger.TypeWithdrawal, Symbol: ledger.CashSymbol, Amount: 150_000, Value: 150_000},
				}})
				if err != nil && !isInsufficient(err) {
					t.Errorf("withdrawal: %v", err)
				}
			})
		}
	}
	crossed := []market.Price{{Symbol: "BTC", Price: 6_300_000_000_000, UpdatedAt: h.Clock.Now()}}
	for range 3 {
		run(func() {
			if err := h.matcher.Run(testCtx(t), crossed); err != nil {
				t.Errorf("matcher: %v", err)
			}
		})
	}
	// The key's burst comes from a user of its own, so that its outcome does not depend on how
	// the other orders spent the cash.
	// Its 20 requests start together at a gate, outside the in-flight bound (20 is bounded too).
	keyUser := h.newUser("k")
	gate := make(chan struct{})
	inProgress := 0
	for range 20 {
		wg.Go(func() {
			<-gate
			r := keyUser.order(marketOrder("buy", "ETH/USD", "0.1"), "burst")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == http.StatusCreated:
				keyed = append(keyed, r.Body)
			case r.Status == http.StatusConflict && bytes.Contains(r.Body, []byte(idempotency.CodeKeyInProgress)):
				inProgress++
			default:
				problems = append(problems, fmt.Sprintf("keyed order: %d %s", r.Status, r.Body))
			}
		})
	}
	rng := rand.New(rand.NewPCG(7, 11))
	rng.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })
	for i, f := range tasks {
		if i == len(tasks)/4 {
			close(gate) // the burst lands in the middle of the other traffic
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f()
		})
	}
	wg.Wait()

	for _, p := range problems {
		t.Error(p)
	}
	for _, o := range rest {
		st := h.storedOrder(o.id).Status
		if n := cancels[o.id]; n > 1 || (n == 1) != (st == "cancelled") {
			t.Errorf("order %s is %s after %d successful cancels", o.id, st, n)
		}
	}
	if len(keyed) == 0 {
		t.Fatal("no keyed request succeeded")
	}
	for _, b := range keyed[1:] {
		if !bytes.Equal(b, keyed[0]) {
			t.Fatalf("two different 201s for one key: %s and %s", keyed[0], b)
		}
	}
	var first struct {
		Order struct {
			ID string `json:"id"`
		} `json:"order"`
	}
	if err := json.Unmarshal(keyed[0], &first); err != nil {
		t.Fatal(err)
	}
	if n := len(h.orders("k")); n != 1 || h.storedOrder(first.Order.ID).Status != "filled" {
		t.Fatalf("%d orders for one key, want exactly one, filled", n)
	}
	filled := 0
	for _, o := range rest {
		if h.storedOrder(o.id).Status == "filled" {
			filled++
		}
	}
	t.Logf("keyed: %d answered 201 (one booked), %d IN_PROGRESS; resting: %d cancelled, %d filled by the matcher", len(keyed), inProgress, len(cancels), filled)
	for _, u := range append(users, keyUser) {
		h.assertInvariant(u.id)
	}
}

func isInsufficient(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte(ledger.ErrInsufficientFunds.Error()))
}
