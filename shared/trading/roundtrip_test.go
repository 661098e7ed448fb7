package trading_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
)

// commandDelay is added to every database command while round trips are measured. It is spent
// outside the engine's one-command-at-a-time lock (devdb.Fault.Delay), so commands that a
// request sends in parallel overlap in time and commands that wait for one another do not: the
// longest chain of non-overlapping commands is the request's sequential round trips.
const commandDelay = 80 * time.Millisecond

// TestRoundTrips enforces the architecture's cost budget: a market order fill with an
// Idempotency-Key is at most 3 sequential round trips and 6 commands (fewer without a key), and
// the other routes cost what the package documentation says. The guard's revocation view is
// loaded first (a per-instance refresh at most every 5 s, not a per-request cost). The price
// comes from the instance's cache; when it is cold, its read is one more command, counted apart,
// that runs beside the claim and adds no sequential round trip.
func TestRoundTrips(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.give("BTC", "1")
	u.placed(marketOrder("buy", "ETH/USD", "0.01")) // loads the guard's view and the price cache
	open := u.placed(limitOrder("limit", "buy", "ETH/USD", "0.01", "100"))["id"].(string)

	tests := []struct {
		name  string
		setup func()
		send  func() int
		// want lists the commands, level by level of the dependency chain ("|" between levels,
		// commands of one level sorted); prices counts the extra price-cache reads.
		want   string
		prices int
	}{
		{name: "market buy with key", send: func() int { return u.order(marketOrder("buy", "BTC/USDT", "0.01"), "rt1").Status },
			// claim → account update → entries ∥ order ∥ audit ∥ stored response
			want: "insert | findAndModify | insert insert update update"},
		{name: "market sell with key", send: func() int { return u.order(marketOrder("sell", "BTC/USDT", "0.01"), "rt2").Status },
			want: "insert | findAndModify | insert insert update update"},
		{name: "market buy without key", send: func() int { return u.order(marketOrder("buy", "BTC/USDT", "0.01"), "").Status },
			// account update → entries ∥ order ∥ audit
			want: "findAndModify | insert insert update"},
		{name: "market buy with key, cold price cache", setup: func() { h.Clock.Advance(market.DefaultCacheTTL + time.Second) },
			send: func() int { return u.order(marketOrder("buy", "BTC/USDT", "0.01"), "rt3").Status },
			want: "insert | findAndModify | insert insert update update", prices: 1},
		{name: "replay", send: func() int { return u.order(marketOrder("buy", "BTC/USDT", "0.01"), "rt1").Status },
			// claim (duplicate) → read the stored response
			want: "insert | find"},
		{name: "limit order placed with key", send: func() int { return u.order(limitOrder("limit", "buy", "BTC/USD", "0.01", "100"), "rt4").Status },
			// a reservation has no ledger entries: claim → account update → order ∥ audit ∥ response
			want: "insert | findAndModify | insert update update"},
		{name: "cancel", send: func() int { return u.cancel(open).Status },
			// find order → account update → order ∥ audit
			want: "find | findAndModify | insert update"},
		{name: "get one", send: func() int { return u.get("/api/orders/" + open).Status },
			want: "find"},
		{name: "list", send: func() int { return u.get("/api/orders?status=filled").Status },
			want: "aggregate find"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			h.Server.Inject(devdb.Fault{Delay: commandDelay})
			before := h.Commands.Mark()
			status := tt.send()
			h.Server.ClearFaults()
			if status >= 300 {
				t.Fatalf("status %d", status)
			}
			var counted, prices []cmdlog.Command
			for _, c := range h.Commands.Since(before) {
				switch c.Collection {
				case market.PricesCollection:
					prices = append(prices, c)
				case auth.SessionsCollection: // the guard's per-instance view, refreshed every 5 s
				default:
					counted = append(counted, c)
				}
			}
			got := levels(counted)
			t.Logf("%d commands, %d sequential: %s (+%d price reads)", len(counted), strings.Count(got, "|")+1, got, len(prices))
			if got != tt.want || len(prices) != tt.prices {
				t.Fatalf("commands %q (+%d price reads), want %q (+%d)", got, len(prices), tt.want, tt.prices)
			}
			// The price read must not lengthen the chain: it overlaps the first level.
			if all := levels(append(counted, prices...)); strings.Count(all, "|") != strings.Count(got, "|") {
				t.Fatalf("the price read is sequential: %s", all)
			}
		})
	}

	// The budget itself, stated as the architecture states it.
	const maxSequential, maxTotal = 3, 6
	for _, want := range []string{tests[0].want, tests[1].want, tests[3].want} {
		if seq, total := strings.Count(want, "|")+1, len(strings.Fields(strings.ReplaceAll(want, "|", ""))); seq > maxSequential || total > maxTotal {
			t.Fatalf("market fill costs %d sequential, %d total: over the budget", seq, total)
		}
	}
}

// levels renders the levels of cmds as the table states them: "|" between levels.
func levels(cmds []cmdlog.Command) string { return strings.Join(cmdlog.LevelsOf(cmds), " | ") }
