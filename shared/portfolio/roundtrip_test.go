package portfolio_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestRoundTrips counts the database commands of each route and the longest chain of them that
// ran one after another (the architecture's cost budget: an authenticated read is 1 sequential
// round trip, +1 command when the per-instance price cache is cold), and fails when either
// grows. Every command is delayed by the engine's proxy (outside its lock, like network latency),
// so commands sent in parallel overlap for sure and the chain length is measured, not assumed.
// The guard's revocation view is loaded first: its refresh is per instance, not per request.
func TestRoundTrips(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("BTC", 100_000_000)
	testenv.Expect(t, u.portfolio(), http.StatusOK, "") // loads the revocation view (shared guard)
	fn := h.function(h.store(market.DefaultCacheTTL))

	h.Server.Inject(devdb.Fault{Delay: 50 * time.Millisecond})
	t.Cleanup(h.Server.ClearFaults)

	tests := []struct {
		name  string
		send  func() int
		want  string // command names, in any order
		chain int    // sequential round trips
	}{
		// find account ∥ find prices (the cache's first fill).
		{"GET portfolio, cold price cache", func() int { return u.doOn(fn, http.MethodGet, "/api/portfolio", "", "").Status },
			"find find", 1},
		// find account; prices from the cache.
		{"GET portfolio, warm price cache", func() int { return u.doOn(fn, http.MethodGet, "/api/portfolio", "", "").Status },
			"find", 1},
		{"GET holding", func() int { return u.doOn(fn, http.MethodGet, "/api/portfolio/holding/btc", "", "").Status },
			"find", 1},
		// find account → findAndModify account (commit) → insert entry ∥ insert audit. The
		// entry's clean rides on the account's next update.
		{"POST without key", func() int {
			return u.doOn(fn, http.MethodPost, "/api/portfolio/holding", addBody("BTC", "1"), "").Status
		},
			"find findAndModify insert insert", 3},
		// (insert record ∥ find account) → commit (with the key's marker) → (insert entry ∥
		// insert audit ∥ update record). The marker's removal rides on the next update too.
		{"POST with key", func() int {
			return u.doOn(fn, http.MethodPost, "/api/portfolio/holding", addBody("BTC", "2"), "rt").Status
		}, "insert find findAndModify insert insert update", 3},
		// (insert record (duplicate) ∥ find account, unused) → find record.
		{"POST replay", func() int {
			return u.doOn(fn, http.MethodPost, "/api/portfolio/holding", addBody("BTC", "2"), "rt").Status
		}, "insert find find", 2},
		// find account (the POSTs' entries still pending, but recorded by this instance: no
		// flush) → (CancelOpenSells: nothing reserved, so the stand-in sends nothing) → commit →
		// insert entry ∥ insert audit.
		{"DELETE", func() int { return u.doOn(fn, http.MethodDelete, "/api/portfolio/holding/BTC", "", "").Status },
			"find findAndModify insert insert", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Commands.Mark()
			if status := tt.send(); status >= 300 {
				t.Fatalf("status %d", status)
			}
			got := h.Commands.Since(before)
			if names := sorted(cmdlog.Names(got)); names != sorted(strings.Fields(tt.want)) {
				t.Fatalf("commands %s, want %s", names, tt.want)
			}
			if lv := cmdlog.LevelsOf(got); len(lv) != tt.chain {
				t.Fatalf("%d sequential round trips, want %d (%s)", len(lv), tt.chain, lv)
			}
			t.Logf("%d commands, %d sequential", len(got), tt.chain)
		})
	}
}

// sorted compares command lists regardless of the order of parallel commands.
func sorted(names []string) string {
	c := slices.Clone(names)
	slices.Sort(c)
	return strings.Join(c, " ")
}
