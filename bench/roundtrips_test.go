package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// commandDelay is added to every database command of a measured request, outside the engine's
// one-command-at-a-time lock (devdb.Fault.Delay): commands a request sends in parallel overlap
// and commands that wait for one another do not, so the longest chain is measured, not assumed.
const commandDelay = 80 * time.Millisecond

// cachePeriodRequests is how many GET /api/crypto a fresh market instance serves for the
// "≤ 1 command per instance per cache period" budget (well inside market.DefaultCacheTTL).
const cachePeriodRequests = 100

// cost is what one request costs its function instance.
type cost struct {
	Seq, Total int // Mongo commands: longest chain, and all of them
	SM         int // Secrets Manager requests
}

func (c cost) String() string { return fmt.Sprintf("%d seq / %d total / %d SM", c.Seq, c.Total, c.SM) }

// within reports whether c is within the budget b.
func (c cost) within(b cost) bool { return c.Seq <= b.Seq && c.Total <= b.Total && c.SM <= b.SM }

// route is one row of the round-trip table.
type route struct {
	function, name string
	// target is the architecture's budget (or, where it states none, the least the route's
	// work allows: see why).
	target cost
	why    string
	// send makes one request; it is called once to warm the instance (caches, revocation view,
	// pool) and once measured.
	send func(*rtRun) testenv.Response
	// repeat, when set, replaces the warm-up and measured pair: a fresh instance serves repeat
	// requests and the cost is their sum (a cache's per-period cost).
	repeat int
	// covered names the existing test that also checks this route.
	covered string
}

// rtResult is one measured row.
type rtResult struct {
	route
	got    cost
	levels cmdlog.Levels // command names per level of the chain
	// perInstance counts the commands left out as per-instance work (the revocation view).
	perInstance int
}

func (r rtResult) ok() bool { return r.got.within(r.target) }

// rtRun is the shared state of a round-trip measurement: one warm instance per function.
type rtRun struct {
	t         testing.TB
	env       *env
	instances map[string]*instance
	user      *session
	orderID   string
	entryID   string
	keys      int
}

func (r *rtRun) instance(name string) *instance {
	if in, ok := r.instances[name]; ok {
		return in
	}
	in := r.env.newInstance(r.t, name, nil)
	r.instances[name] = in
	return in
}

func (r *rtRun) do(function, method, path, resource, body string, h http.Header) testenv.Response {
	r.t.Helper()
	if h == nil {
		h = r.user.header()
	}
	return testenv.Do(r.t, r.instance(function).fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: h, Body: body})
}

func (r *rtRun) get(function, path, resource string) testenv.Response {
	return r.do(function, http.MethodGet, path, resource, "", nil)
}

// routes is the table: every endpoint the issue lists, with its target.
func routes() []route {
	read := cost{Seq: 1, Total: 1}
	return []route{
		{function: "health", name: "GET /health", target: cost{Seq: 1, Total: 2},
			why: "ping ∥ newest price (cached per period); the keys come from the instance's secrets cache",
			send: func(r *rtRun) testenv.Response {
				return r.do("health", http.MethodGet, "/health", "", "", testenv.JSONHeader())
			}},
		{function: "auth", name: "POST /api/auth/login", target: cost{Seq: 4, Total: 4},
			why: "lockout → user → (bcrypt) → audit → session; a few ms beside ≥ 100 ms of bcrypt (floor: 2, lockout ∥ user and audit ∥ session)",
			send: func(r *rtRun) testenv.Response {
				body, _ := json.Marshal(map[string]string{"email": r.user.email, "password": r.user.password})
				h := testenv.JSONHeader()
				h.Set("X-Token-Delivery", "body")
				return r.do("auth", http.MethodPost, "/api/auth/login", "", string(body), h)
			}},
		{function: "auth", name: "GET /api/auth/me", target: read, why: "authenticated read",
			send: func(r *rtRun) testenv.Response { return r.get("auth", "/api/auth/me", "") }},
		{function: "auth", name: "POST /api/auth/refresh", target: cost{Seq: 3, Total: 3},
			why: "find session → rotate (conditional on the hash read) → audit (floor: 2, audit ∥ response)",
			send: func(r *rtRun) testenv.Response {
				body, _ := json.Marshal(map[string]string{"refresh_token": r.user.refresh})
				h := testenv.JSONHeader()
				h.Set("X-Token-Delivery", "body")
				resp := r.do("auth", http.MethodPost, "/api/auth/refresh", "", string(body), h)
				if resp.Status == http.StatusOK {
					r.user.take(r.t, resp)
				}
				return resp
			}},
		{function: "audit", name: "GET /api/audit-logs", target: cost{Seq: 1, Total: 2}, why: "authenticated read: page ∥ count",
			send: func(r *rtRun) testenv.Response { return r.get("audit", "/api/audit-logs?limit=20", "") }},
		{function: "market", name: "GET /api/crypto", target: cost{Seq: 1, Total: 1}, repeat: cachePeriodRequests,
			why:     fmt.Sprintf("≤ 1 command per instance per cache period (%v): %d requests on a fresh instance", market.DefaultCacheTTL, cachePeriodRequests),
			covered: "shared/market TestList… (1,000 requests ≤ 1 command)",
			send:    func(r *rtRun) testenv.Response { return r.get("market", "/api/crypto", "") }},
		{function: "orders", name: "POST /api/orders (market fill, key)", target: cost{Seq: 3, Total: 6},
			why: "market fill ≤ 3 sequential, ≤ 6 total", covered: "shared/trading TestRoundTrips",
			send: func(r *rtRun) testenv.Response {
				r.keys++
				h := r.user.header()
				h.Set("Idempotency-Key", fmt.Sprintf("bench-fill-%d", r.keys))
				return r.do("orders", http.MethodPost, "/api/orders", "", `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.001}`, h)
			}},
		{function: "orders", name: "GET /api/orders", target: cost{Seq: 1, Total: 2}, why: "authenticated read: page ∥ count",
			covered: "shared/trading TestRoundTrips",
			send:    func(r *rtRun) testenv.Response { return r.get("orders", "/api/orders?limit=50", "") }},
		{function: "orders", name: "GET /api/orders/{id}", target: read, why: "authenticated read",
			covered: "shared/trading TestRoundTrips",
			send:    func(r *rtRun) testenv.Response { return r.get("orders", "/api/orders/"+r.orderID, "/api/orders/{id}") }},
		// The steady state: the warm-up read clears what the fill rows left pending, so the
		// measured read finds this instance's own clean last and nothing pending.
		{function: "transactions", name: "GET /api/transactions", target: cost{Seq: 1, Total: 3},
			why: "authenticated read (pending entries and clean stamp ∥ page ∥ count)", covered: "shared/transactions TestRoundTrips",
			send: func(r *rtRun) testenv.Response { return r.get("transactions", "/api/transactions?limit=50", "") }},
		{function: "transactions", name: "GET /api/transactions after a fill", target: cost{Seq: 1, Total: 3},
			why:     "authenticated read; a market fill on the orders instance just before it leaves its entries pending (their clean is deferred)",
			covered: "shared/transactions TestRoundTrips",
			send: func(r *rtRun) testenv.Response {
				r.keys++
				h := r.user.header()
				h.Set("Idempotency-Key", fmt.Sprintf("bench-fill-%d", r.keys))
				fill := r.do("orders", http.MethodPost, "/api/orders", "", `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.001}`, h)
				if fill.Status != http.StatusCreated {
					return fill
				}
				return r.get("transactions", "/api/transactions?limit=50", "")
			}},
		{function: "transactions", name: "GET /api/transactions/{id}", target: cost{Seq: 1, Total: 2},
			why: "authenticated read (flush check ∥ entry)", covered: "shared/transactions TestRoundTrips",
			send: func(r *rtRun) testenv.Response {
				return r.get("transactions", "/api/transactions/"+r.entryID, "/api/transactions/{id}")
			}},
		{function: "portfolio", name: "GET /api/portfolio", target: read, why: "authenticated read, prices from the instance's cache",
			covered: "shared/portfolio TestRoundTrips",
			send:    func(r *rtRun) testenv.Response { return r.get("portfolio", "/api/portfolio", "") }},
	}
}

// knownMisses are the routes whose measured cost is over the target today, with the budget the
// test enforces instead (so that they cannot get worse) and what would close the gap. The report
// prints them.
var knownMisses = map[string]struct {
	budget cost
	why    string
}{
	"GET /api/transactions after a fill": {budget: cost{Seq: 2, Total: 6},
		why: "A fill records its entries but defers clearing them from the account's pending map to the account's " +
			"next update, so the first read after it finds them pending beside the page. They are on the page, hence " +
			"in transactions, but the count, read in parallel, may predate their insert: the read reads the page and " +
			"count again, with the clean beside (2 sequential, 6 commands; 3 sequential, 7 commands when a pending " +
			"entry is not on the page and must be inserted first). Every later read on the same instance is 1 " +
			"sequential; on another instance, reads within a second (the clock-skew bound) of that clean read the " +
			"page twice (2 sequential, 5 commands), later ones once. Why not both budgets: the clean can only follow " +
			"the acknowledgement of the entries' insert, which is already the fill's third and last level (commit → " +
			"record ∥ order and idempotency writes), so without a multi-document transaction one extra level is paid " +
			"either by every fill (a fourth sequential command, over its ≤ 3) or by the first read after it; the read " +
			"pays it, once. Ways to close it that were weighed and not taken: taking the total from a page shorter " +
			"than the limit (short ledgers only), or counting entries older than a cutoff apart from the newer ones " +
			"(a fourth command, and exact only within the clock skew of every writer's created_at)."},
}

// budgetOf is what TestRoundTripBudgets enforces for a route.
func budgetOf(r route) cost {
	if m, ok := knownMisses[r.name]; ok {
		return m.budget
	}
	return r.target
}

// measureRoundTrips builds one instance per function on env, signs a user up, and measures every
// route of the table on a warm instance.
func measureRoundTrips(t testing.TB, e *env) []rtResult {
	t.Helper()
	e.refreshPrices(t)
	r := &rtRun{t: t, env: e, instances: map[string]*instance{}}
	r.user = signup(t, r.instance("auth"), "roundtrips@example.com")
	// An order to read back and a ledger entry besides the opening deposit.
	h := r.user.header()
	h.Set("Idempotency-Key", "bench-setup")
	order := r.do("orders", http.MethodPost, "/api/orders", "", `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.001}`, h)
	if order.Status != http.StatusCreated {
		t.Fatalf("setup order: %d %s", order.Status, order.Body)
	}
	if o, ok := order.JSON(t)["order"].(map[string]any); ok {
		r.orderID, _ = o["id"].(string)
	}
	var list struct {
		Transactions []struct {
			ID string `json:"id"`
		} `json:"transactions"`
	}
	if resp := r.get("transactions", "/api/transactions?limit=1", ""); json.Unmarshal(resp.Body, &list) != nil || len(list.Transactions) == 0 {
		t.Fatalf("setup: no ledger entry: %s", resp.Body)
	}
	r.entryID = list.Transactions[0].ID

	var out []rtResult
	for _, rt := range routes() {
		res := rtResult{route: rt}
		in := r.instance(rt.function)
		if rt.repeat > 0 {
			// A fresh instance: its cache is cold at the first request.
			in = e.newInstance(t, rt.function, nil)
			r.instances[rt.function] = in
		} else if resp := rt.send(r); resp.Status >= 300 {
			t.Fatalf("%s (warm-up): %d %s", rt.name, resp.Status, resp.Body)
		}
		beforeCmds, beforeSM := in.cmds.Mark(), e.sm.Attempts()
		if rt.repeat == 0 { // a cache's single read is counted, not timed
			e.db.Inject(devdb.Fault{Delay: commandDelay})
		}
		for range max(rt.repeat, 1) {
			if resp := rt.send(r); resp.Status >= 300 {
				e.db.ClearFaults()
				t.Fatalf("%s: %d %s", rt.name, resp.Status, resp.Body)
			}
		}
		e.db.ClearFaults()
		res.got.SM = e.sm.Attempts() - beforeSM
		var counted []cmdlog.Command
		for _, c := range in.cmds.Since(beforeCmds) {
			if c.Tag == revocations {
				res.perInstance++
				continue
			}
			counted = append(counted, c)
		}
		res.levels = cmdlog.LevelsOf(counted)
		res.got.Seq, res.got.Total = len(res.levels), len(counted)
		out = append(out, res)
	}
	return out
}

// TestRoundTripBudgets is the cost budget of architecture.md per endpoint, on a warm instance:
// Mongo commands (sequential and total) and Secrets Manager requests. It fails when a route
// costs more than its budget. (The routes that other packages' round-trip tests already check
// in detail are measured here too, so that the report has every row from one harness.)
func TestRoundTripBudgets(t *testing.T) {
	if *reportFlag {
		t.Skip("TestReport measures the same table")
	}
	for _, res := range measureRoundTrips(t, newEnv(t)) {
		budget := budgetOf(res.route)
		t.Logf("%-38s %-26s levels: %s (+%d per-instance)", res.name, res.got, strings.Join(res.levels, " | "), res.perInstance)
		if !res.got.within(budget) {
			t.Errorf("%s costs %s, over its budget %s (%s)", res.name, res.got, budget, res.why)
		}
	}
}
