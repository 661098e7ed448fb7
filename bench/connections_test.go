package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// connInstances is how many function instances the connection measurement runs at once (issue 8:
// "50 concurrent simulated instances").
const connInstances = 50

// connUsers is how many users the instances serve, any instance any user (as in AWS).
const connUsers = 5

// invokeTimeout is each simulated invocation's deadline: the HTTP functions' Timeout in the template.
const invokeTimeout = 10 * time.Second

// connLoad is one load of the connection measurement.
type connLoad struct {
	name string
	// inFlight is how many requests each instance serves at once: 1 as Lambda does; more pushes
	// every instance's pool past its size, to show that it waits instead of opening connections.
	inFlight int
	// readsOnly leaves the market fills out: see connLoads.
	readsOnly bool
	duration  time.Duration
}

// connLoads are the loads measureConnections runs, each for d. Under pressure the instances
// serve reads alone: they fill a pool as well (up to three commands in parallel each), while a
// fill's three sequential steps, each queued behind every other instance's commands at the local
// engine (one command at a time), would come close to the driver's 5 s operation timeout.
func connLoads(d time.Duration) []connLoad {
	return []connLoad{
		{name: "one request at a time per instance (as Lambda)", inFlight: 1, duration: d},
		{name: "4 reads at once per instance (pool under pressure)", inFlight: 4, readsOnly: true, duration: d},
	}
}

// connResult is one load's figures: connections at the engine and in the instances' pools.
type connResult struct {
	connLoad
	instances int
	// maxPoolSize is the pool size of the instances' clients as their init set it.
	maxPoolSize int
	// serverStart and poolsStart are the connections open when the load began, at the engine and
	// in all pools: for the first load, what the instances' init (handshake, ping, index
	// creation) left open; pools keep idle connections for a minute.
	serverStart, poolsStart int
	// serverPeak is the most client connections open at once at the engine, from the instances'
	// init (for the first load) to the end of the load: pools and monitoring.
	serverPeak int
	// poolPeakTotal sums each instance's peak of open pool connections; poolPeakMax is the
	// largest; checkedOutMax the most connections one instance had checked out at once.
	poolPeakTotal, poolPeakMax, checkedOutMax int
	// created counts the pool connections the instances opened during the load (and, for the
	// first, their init); maxWait is the longest a command waited for a pool connection.
	created int
	maxWait time.Duration
	// The requests served, and those that failed.
	tally
}

// poolBound is issue 8's bound on the pool connections: instances × maxPoolSize, the size the
// README's arithmetic uses (mongodb.DefaultMaxPoolSize), whatever the instances were built with.
func (r connResult) poolBound() int { return r.instances * mongodb.DefaultMaxPoolSize }

// serverBound adds the monitoring connections each instance may hold (the README counts 2).
func (r connResult) serverBound() int {
	return r.instances * (mongodb.DefaultMaxPoolSize + mongodb.MonitoringConnsPerServer)
}

// problems lists every bound the load exceeded; none when it kept to the README's arithmetic.
func (r connResult) problems() []string {
	var out []string
	if r.poolPeakMax > mongodb.DefaultMaxPoolSize {
		out = append(out, fmt.Sprintf("an instance held %d pool connections, over maxPoolSize %d", r.poolPeakMax, mongodb.DefaultMaxPoolSize))
	}
	if r.poolPeakTotal > r.poolBound() {
		out = append(out, fmt.Sprintf("the pools held %d connections, over %d instances × %d = %d", r.poolPeakTotal, r.instances, mongodb.DefaultMaxPoolSize, r.poolBound()))
	}
	if r.serverPeak > r.serverBound() {
		out = append(out, fmt.Sprintf("the engine saw %d connections at once, over %d instances × (%d pooled + %d monitoring) = %d",
			r.serverPeak, r.instances, mongodb.DefaultMaxPoolSize, mongodb.MonitoringConnsPerServer, r.serverBound()))
	}
	// A 503 is the local engine falling behind (one command at a time for every connection, on
	// a machine that may be running other tests): the measurement stands as long as the load was
	// real. Any other failure means the requests did not run their real paths.
	if r.errors > r.unavailable {
		out = append(out, fmt.Sprintf("%d of %d requests failed other than with a 503, first: %s", r.errors-r.unavailable, r.requests, r.firstError()))
	}
	if r.requests == r.errors {
		out = append(out, fmt.Sprintf("none of %d requests succeeded: no load (first failure: %s)", r.requests, r.firstError()))
	}
	return out
}

func (r connResult) String() string {
	return fmt.Sprintf("%s: %d instances, %d requests (%d failed, %d of them 503) in %v; engine: %d connections at the start, peak %d (bound %d); "+
		"pools: %d at the start, peak %d in all (bound %d), %d at most per instance (maxPoolSize %d), %d checked out at most, %d created; longest wait for a connection %v",
		r.name, r.instances, r.requests, r.errors, r.unavailable, r.duration, r.serverStart, r.serverPeak, r.serverBound(),
		r.poolsStart, r.poolPeakTotal, r.poolBound(), r.poolPeakMax, r.maxPoolSize, r.checkedOutMax, r.created, r.maxWait.Round(time.Millisecond))
}

// poolGauge follows one instance's pool through the driver's pool events.
type poolGauge struct {
	mu                sync.Mutex
	open, out         int
	peakOpen, peakOut int
	created           int
	maxWait           time.Duration
}

func (g *poolGauge) monitor() *event.PoolMonitor {
	return &event.PoolMonitor{Event: func(e *event.PoolEvent) {
		g.mu.Lock()
		defer g.mu.Unlock()
		switch e.Type {
		case event.ConnectionCreated:
			g.open++
			g.created++
		case event.ConnectionClosed:
			g.open--
		case event.ConnectionCheckedOut:
			g.out++
			g.maxWait = max(g.maxWait, e.Duration)
		case event.ConnectionCheckedIn:
			g.out--
		}
		g.peakOpen, g.peakOut = max(g.peakOpen, g.open), max(g.peakOut, g.out)
	}}
}

// reset starts a new load's figures from the connections open now.
func (g *poolGauge) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.peakOpen, g.peakOut, g.created, g.maxWait = g.open, g.out, 0, 0
}

// connInstance is one function instance of the measurement, its pool followed by a gauge.
type connInstance struct {
	name  string
	fn    *lambdahttp.Function
	deps  *app.Deps
	gauge *poolGauge
}

// newConnInstance builds the catalog function name as its main does (app.New, the function's
// builder, its indexes), except that its Mongo client is rebuilt with the same settings plus a
// pool monitor before the function takes it.
func (e *env) newConnInstance(t testing.TB, name string) *connInstance {
	t.Helper()
	entry := catalogEntry(t, name)
	d := testenv.NewDeps(t, e.config(t, nil), app.Options{SecretsAPI: e.sm.Client(t)}).Deps
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := &poolGauge{}
	o := d.Mongo.Options()
	o.PoolMonitor = g.monitor()
	if err := d.Mongo.Disconnect(ctx); err != nil {
		t.Fatalf("%s: disconnect the client of init: %v", name, err)
	}
	d.Mongo = mongodb.New(o)
	if err := d.Mongo.Connect(ctx); err != nil {
		t.Fatalf("%s: connect the monitored client: %v", name, err)
	}
	fn, err := entry.Build(d)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	app.EnsureIndexes(ctx, d, fn.Indexes)
	return &connInstance{name: name, fn: fn, deps: d, gauge: g}
}

// connRequest is one request of an instance's mix.
type connRequest struct {
	name, method, path, body string
	// idempotent requests carry a fresh Idempotency-Key.
	idempotent bool
}

// connMix is each function's requests, in the order an instance cycles through them: reads with
// their parallel commands (page ∥ count, flush check ∥ page ∥ count) and, on orders, market fills
// (claim, account update, then order, ledger and audit inserts in parallel).
var connMix = map[string][]connRequest{
	"orders": {
		{name: "GET /api/orders", method: http.MethodGet, path: "/api/orders?limit=20"},
		{name: "POST /api/orders (market)", method: http.MethodPost, path: "/api/orders", idempotent: true,
			body: `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.0001}`},
	},
	"transactions": {{name: "GET /api/transactions", method: http.MethodGet, path: "/api/transactions?limit=20"}},
	"portfolio":    {{name: "GET /api/portfolio", method: http.MethodGet, path: "/api/portfolio"}},
}

// connFunctions are the functions the instances are spread over, in turn.
var connFunctions = []string{"orders", "transactions", "portfolio"}

// invocations numbers the simulated invocations: request ids and the fills' idempotency keys.
var invocations atomic.Int64

// serve sends one request to the instance as API Gateway would, within an invocation's deadline,
// and returns the status; it is safe to call from any goroutine (it does not touch a testing.TB).
func (c *connInstance) serve(req connRequest, user *session) (int, string, error) {
	r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
	for k, vs := range user.header() {
		r.Header[k] = vs
	}
	id := fmt.Sprintf("conn-%d", invocations.Add(1))
	if req.idempotent {
		r.Header.Set("Idempotency-Key", id)
	}
	ev := apigateway.Event(r, r.URL.Path, []byte(req.body), apigateway.Stage{Name: "dev", PathPrefix: "/dev"}, id)
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	resp, err := c.fn.ServeEvent(ctx, ev)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s on %s: %w", req.method, req.path, c.name, err)
	}
	return resp.StatusCode, resp.Body, nil
}

// measureConnections runs each load on connInstances function instances at once and counts the
// Mongo connections at both ends: the engine's open client connections, and each instance's pool
// through the driver's pool events. It uses an engine of its own, so that only these instances'
// connections are counted, and builds the instances once (their init is part of the first load).
func measureConnections(t testing.TB, loads []connLoad) []connResult {
	t.Helper()
	e := newEnv(t)
	// The setup (prices in the store, users signed up) runs on instances of its own, closed
	// before the load, so that the engine counts the load's instances alone.
	prices, authFn := e.newInstance(t, "prices", nil), e.newInstance(t, "auth", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := prices.fn.Handle(ctx, []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)); err != nil {
		t.Fatalf("prices run: %v", err)
	}
	users := make([]*session, connUsers)
	for i := range users {
		users[i] = signup(t, authFn, fmt.Sprintf("connections-%d@example.com", i))
	}
	for _, in := range []*instance{prices, authFn} {
		if err := in.deps.Close(ctx); err != nil {
			t.Fatalf("close a setup instance: %v", err)
		}
	}
	for e.db.ConnStats().Open > 0 {
		if ctx.Err() != nil {
			t.Fatalf("the setup's connections are still open at the engine: %+v", e.db.ConnStats())
		}
		time.Sleep(10 * time.Millisecond)
	}

	var out []connResult
	var instances []*connInstance
	for li, load := range loads {
		if li == 0 {
			// The instances' init (handshake, ping, index creation) counts in the first load's
			// peaks. They are built one after another: building calls t.Fatal, which only the
			// test's goroutine may.
			e.db.ResetConnPeak()
			for i := range connInstances {
				instances = append(instances, e.newConnInstance(t, connFunctions[i%len(connFunctions)]))
			}
		} else {
			e.db.ResetConnPeak()
			for _, in := range instances {
				in.gauge.reset()
			}
		}
		out = append(out, runConnLoad(e, load, instances, users))
	}
	return out
}

// tally counts the requests of a load: all of them, per route, and those that failed (a status
// of 300 or more, or no response); among the failures, unavailable counts the 503s, commands that
// waited past the driver's operation timeout.
type tally struct {
	requests, errors, unavailable int
	byRoute                       map[string]int
	firstOther, first503          string
}

// firstError describes the first failure that is not a 503, else the first 503, else "".
func (t tally) firstError() string { return cmp.Or(t.firstOther, t.first503) }

// add counts one request; describe is called for the first failure of each kind.
func (t *tally) add(route string, status int, err error, describe func() string) {
	t.requests++
	if t.byRoute == nil {
		t.byRoute = map[string]int{}
	}
	t.byRoute[route]++
	switch {
	case err == nil && status < 300:
	case status == http.StatusServiceUnavailable:
		t.errors++
		t.unavailable++
		if t.first503 == "" {
			t.first503 = describe()
		}
	default:
		t.errors++
		if t.firstOther == "" {
			t.firstOther = describe()
		}
	}
}

func (t *tally) merge(o tally) {
	t.requests += o.requests
	t.errors += o.errors
	t.unavailable += o.unavailable
	if t.byRoute == nil {
		t.byRoute = map[string]int{}
	}
	for k, v := range o.byRoute {
		t.byRoute[k] += v
	}
	t.firstOther = cmp.Or(t.firstOther, o.firstOther)
	t.first503 = cmp.Or(t.first503, o.first503)
}

// runConnLoad drives the instances for the load's duration and collects the figures.
func runConnLoad(e *env, load connLoad, instances []*connInstance, users []*session) connResult {
	res := connResult{connLoad: load, instances: len(instances), serverStart: e.db.ConnStats().Open}
	for _, in := range instances {
		in.gauge.mu.Lock()
		res.poolsStart += in.gauge.open
		in.gauge.mu.Unlock()
	}
	var (
		mu  sync.Mutex
		all tally
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(load.duration)
	for i, in := range instances {
		var mix []connRequest
		for _, req := range connMix[in.name] {
			if !load.readsOnly || req.method == http.MethodGet {
				mix = append(mix, req)
			}
		}
		for w := range load.inFlight {
			wg.Go(func() {
				var mine tally
				for j := w; time.Now().Before(deadline); j++ {
					req := mix[j%len(mix)]
					status, body, err := in.serve(req, users[(i+j)%len(users)])
					mine.add(req.name, status, err, func() string {
						return fmt.Sprintf("%s on %s: %d %v %.200s", req.name, in.name, status, err, body)
					})
				}
				mu.Lock()
				defer mu.Unlock()
				all.merge(mine)
			})
		}
	}
	wg.Wait()
	res.tally = all
	res.serverPeak = e.db.ConnStats().Peak
	for _, in := range instances {
		g := in.gauge
		g.mu.Lock()
		res.poolPeakTotal += g.peakOpen
		res.poolPeakMax = max(res.poolPeakMax, g.peakOpen)
		res.checkedOutMax = max(res.checkedOutMax, g.peakOut)
		res.created += g.created
		res.maxWait = max(res.maxWait, g.maxWait)
		g.mu.Unlock()
		res.maxPoolSize = max(res.maxPoolSize, int(in.deps.Mongo.Options().MaxPoolSize))
	}
	return res
}

// TestConnectionsUnderLoad is issue 8's connection check: 50 function instances, each with its own
// client at the production settings, serving orders, transactions and portfolio requests (market
// fills among them) at once, keep within the README's arithmetic: at most maxPoolSize pooled
// connections per instance, and at the engine at most that plus the monitoring connections per
// instance. The second load gives each instance more requests at once than Lambda would: its pool
// must make them wait rather than grow, so a bigger pool (or none) fails here.
func TestConnectionsUnderLoad(t *testing.T) {
	if *reportFlag {
		t.Skip("TestReport measures the same loads")
	}
	for _, res := range measureConnections(t, connLoads(2*time.Second)) {
		t.Log(res)
		for _, p := range res.problems() {
			t.Errorf("%s: %s", res.name, p)
		}
	}
}
