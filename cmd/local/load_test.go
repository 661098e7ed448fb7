//go:build load

// The load test (issue 7): `make load` runs it; `make test` does not (build tag "load").
//
//	go test -tags load -run '^TestLoad$' -count=1 -v ./cmd/local -load.users=200 -load.duration=60s
//
// It starts the local server in-process (run(), as `make run` does) on loopback ports with
// -throttle off, BCRYPT_COST=10, a temporary data folder and the simulated price feed, and drives
// it with virtual users that sign up, log in, trade (market buys and sells) and read (portfolio,
// transactions, orders, market, /me) for a bounded time with a think time between requests, like
// the React frontend's users. It stops by itself, prints the requests, the latency percentiles
// per route and the 5xx count, then checks the ledger invariant of every user directly in the
// database. It fails on any 5xx, transport error or invariant violation.

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

var (
	loadUsers    = flag.Int("load.users", 200, "virtual users")
	loadDuration = flag.Duration("load.duration", 60*time.Second, "how long the users keep going after signing up")
	loadThink    = flag.Duration("load.think", 15*time.Second, "mean think time between a user's requests (uniform in [0, 2×mean]): a person reading the page")
	loadRamp     = flag.Duration("load.ramp", time.Minute, "signups (bcrypt at cost 10, then a login) are spread over this time")
	loadData     = flag.String("load.data", "", "parent of the temporary data folder (default: "+ramDir+" when the machine has it, else the system temp folder)")
)

// ramDir holds the data folder by default: the embedded engine commits every write with an fsync,
// which costs ~20 ms on a virtual disk and would cap it near 40 writes/s, so that the test would
// measure the disk rather than the server.
const ramDir = "/dev/shm"

// loadDataDir makes the temporary data folder, removed at the end.
func loadDataDir(t *testing.T) string {
	parent := *loadData
	if parent == "" {
		if st, err := os.Stat(ramDir); err == nil && st.IsDir() {
			parent = ramDir
		}
	}
	if parent == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "cryptovault-load-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// loadStats collects latencies per route and statuses.
type loadStats struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration
	statuses  map[int]int
	codes     map[string]int // 4xx and 5xx codes
	errors    []string       // transport errors and 5xx bodies (first few)
	fiveXX    int
	transport int
}

func (s *loadStats) record(route string, d time.Duration, status int, code string, problem string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies[route] = append(s.latencies[route], d)
	s.statuses[status]++
	if status >= 400 {
		s.codes[fmt.Sprintf("%d %s", status, code)]++
	}
	if status >= 500 {
		s.fiveXX++
	}
	if status == 0 {
		s.transport++
	}
	if problem != "" && len(s.errors) < 20 {
		s.errors = append(s.errors, problem)
	}
}

// vu is one virtual user: a browser with a cookie jar, as the React frontend runs.
type vu struct {
	base   string
	client *http.Client
	stats  *loadStats
	rng    *rand.Rand
	email  string
	held   map[string]bool // coins this user has bought
}

var loadPassword = "Load9Testing"

func (u *vu) call(route, method, path, body string) (int, map[string]any) {
	req, err := http.NewRequest(method, u.base+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://localhost:3000")
	start := time.Now()
	resp, err := u.client.Do(req)
	if err != nil {
		u.stats.record(route, time.Since(start), 0, "", fmt.Sprintf("%s: %v", route, err))
		return 0, nil
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	code, _ := m["code"].(string)
	problem := ""
	if resp.StatusCode >= 500 {
		problem = fmt.Sprintf("%s: %d %s", route, resp.StatusCode, raw)
	}
	u.stats.record(route, d, resp.StatusCode, code, problem)
	return resp.StatusCode, m
}

var loadCoins = []string{"BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE"}

// step is one user action, drawn with the weights of a trading session.
func (u *vu) step(int) {
	r := u.rng.IntN(100)
	switch {
	case r < 18:
		u.call("GET /api/portfolio", "GET", "/api/portfolio", "")
	case r < 30:
		u.call("GET /api/transactions", "GET", "/api/transactions?limit=20&offset=0", "")
	case r < 42:
		u.call("GET /api/crypto", "GET", "/api/crypto", "")
	case r < 50:
		u.call("GET /api/orders", "GET", "/api/orders?limit=20", "")
	case r < 58:
		u.call("GET /api/auth/me", "GET", "/api/auth/me", "")
	case r < 62:
		u.call("GET /api/transactions/stats/overview", "GET", "/api/transactions/stats/overview", "")
	case r < 80:
		sym := loadCoins[u.rng.IntN(len(loadCoins))]
		amount := map[string]string{"BTC": "0.001", "ETH": "0.01", "SOL": "0.5", "BNB": "0.05", "XRP": "20", "ADA": "30", "DOGE": "100"}[sym]
		st, _ := u.call("POST /api/orders", "POST", "/api/orders",
			fmt.Sprintf(`{"trading_pair":"%s/USDT","order_type":"market","side":"buy","amount":%s,"price":1}`, sym, amount))
		if st == http.StatusCreated {
			u.held[sym] = true
		}
	case r < 94:
		held := slices.Sorted(maps.Keys(u.held))
		if len(held) == 0 {
			u.call("GET /api/portfolio", "GET", "/api/portfolio", "")
			return
		}
		sym := held[u.rng.IntN(len(held))]
		amount := map[string]string{"BTC": "0.0005", "ETH": "0.005", "SOL": "0.25", "BNB": "0.025", "XRP": "10", "ADA": "15", "DOGE": "50"}[sym]
		u.call("POST /api/orders", "POST", "/api/orders",
			fmt.Sprintf(`{"trading_pair":"%s/USD","order_type":"market","side":"sell","amount":%s}`, sym, amount))
	case r < 97:
		u.call("POST /api/transactions", "POST", "/api/transactions", `{"type":"deposit","amount":100}`)
	default:
		// Log in again (a new session; bcrypt at cost 10), as after closing the browser.
		u.call("POST /api/auth/login", "POST", "/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, loadPassword))
	}
}

// think waits like a person reading the page, but not past end; it reports whether time is left.
func (u *vu) think(end time.Time) bool {
	if *loadThink > 0 {
		time.Sleep(min(time.Duration(u.rng.Int64N(int64(2**loadThink))), time.Until(end)))
	}
	return time.Now().Before(end)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func TestLoad(t *testing.T) {
	users, duration := *loadUsers, *loadDuration
	if users <= 0 || duration <= 0 || duration > 30*time.Minute {
		t.Fatalf("-load.users %d, -load.duration %v: want users > 0 and 0 < duration ≤ 30m", users, duration)
	}
	addr, mongoAddr := freeAddr(t), freeAddr(t) // loopback only
	out := &logbuf.Buffer{}
	env := map[string]string{"BCRYPT_COST": "10"}
	data := loadDataDir(t)
	f := flags{addr: addr, data: data, template: "../../template.yaml", mongoAddr: mongoAddr, prices: "simulated", throttleOff: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, func(k string) string { return env[k] }, &keepLines{out: out}) }()
	stopServer := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("server did not stop within 60s")
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stopServer()
		}
		if t.Failed() {
			t.Logf("server log (warnings and errors):\n%s", out.String())
		}
	}()
	base := "http://" + addr
	waitHealthy(t, base, out, 2*time.Minute)
	// The first price run also backfills a year of history: the load starts after it.
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), `msg="prices refreshed"`) {
		if time.Now().After(deadline) {
			t.Fatal("no price refresh finished within 3 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}

	stats := &loadStats{latencies: map[string][]time.Duration{}, statuses: map[int]int{}, codes: map[string]int{}}
	transport := &http.Transport{MaxIdleConns: users, MaxIdleConnsPerHost: users, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	var (
		wg      sync.WaitGroup
		signed  atomic.Int64
		emails  sync.Map
		started = time.Now()
		endAt   = started.Add(*loadRamp + duration)
	)
	fmt.Printf("load: %d users, ramp %v, then %v; think time %v mean; local server on %s (throttle off, BCRYPT_COST=10, data in %s)\n",
		users, *loadRamp, duration, *loadThink, base, data)
	for i := range users {
		wg.Go(func() {
			time.Sleep(time.Duration(int64(*loadRamp) * int64(i) / int64(users)))
			jar, _ := cookiejar.New(nil)
			u := &vu{base: base, client: &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second}, stats: stats,
				rng: rand.New(rand.NewPCG(uint64(i), 7)), email: fmt.Sprintf("load-%d@example.com", i), held: map[string]bool{}}
			st, m := u.call("POST /api/auth/signup", "POST", "/api/auth/signup",
				fmt.Sprintf(`{"email":%q,"password":%q,"name":"Load User %d"}`, u.email, loadPassword, i))
			if st != http.StatusCreated {
				return
			}
			if user, ok := m["user"].(map[string]any); ok {
				emails.Store(user["id"], u.email)
			}
			signed.Add(1)
			u.call("POST /api/auth/login", "POST", "/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, loadPassword))
			for n := 0; u.think(endAt); n++ {
				u.step(n)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)

	// The report.
	total := 0
	var all []time.Duration
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\trequests\tp50\tp95\tp99\tmax\t")
	for _, route := range slices.Sorted(maps.Keys(stats.latencies)) {
		ls := slices.Clone(stats.latencies[route])
		slices.Sort(ls)
		all = append(all, ls...)
		total += len(ls)
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%v\t%v\t\n", route, len(ls), ms(percentile(ls, .50)), ms(percentile(ls, .95)), ms(percentile(ls, .99)), ms(ls[len(ls)-1]))
	}
	slices.Sort(all)
	fmt.Fprintf(tw, "all\t%d\t%v\t%v\t%v\t%v\t\n", total, ms(percentile(all, .50)), ms(percentile(all, .95)), ms(percentile(all, .99)), ms(all[len(all)-1]))
	_ = tw.Flush()
	var statusLine []string
	for _, st := range slices.Sorted(maps.Keys(stats.statuses)) {
		statusLine = append(statusLine, fmt.Sprintf("%d×%d", stats.statuses[st], st))
	}
	var codeLine []string
	for _, c := range slices.Sorted(maps.Keys(stats.codes)) {
		codeLine = append(codeLine, fmt.Sprintf("%s: %d", c, stats.codes[c]))
	}
	fmt.Printf("load: %d requests in %v (%.0f/s) from %d users signed up; statuses %s; refusals %s\n",
		total, elapsed.Round(time.Second), float64(total)/elapsed.Seconds(), signed.Load(), strings.Join(statusLine, " "), strings.Join(codeLine, ", "))
	fmt.Printf("load: 5xx %d, transport errors %d\n", stats.fiveXX, stats.transport)
	for _, e := range stats.errors {
		t.Error(e)
	}
	if stats.fiveXX != 0 || stats.transport != 0 {
		t.Errorf("%d 5xx and %d transport errors under load, want none", stats.fiveXX, stats.transport)
	}
	if signed.Load() != int64(users) {
		t.Errorf("only %d of %d users signed up", signed.Load(), users)
	}

	// The invariant, read directly from the database while the server is still up (idle).
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + mongoAddr + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	db := client.Database("cryptovault")
	l := ledger.New(func(context.Context) (*mongo.Database, error) { return db, nil }, ledger.Options{})
	var ids []string
	emails.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	slices.Sort(ids)
	violations := 0
	for _, id := range ids {
		for _, v := range loadInvariant(t, l, db, id) {
			violations++
			if violations <= 20 {
				t.Error(v)
			}
		}
	}
	fmt.Printf("load: ledger invariant checked for %d users: %d violations\n", len(ids), violations)
	stopServer()
}

// keepLines keeps the server's banner, warnings, errors and price refreshes: not one access-log
// line per request.
type keepLines struct {
	mu  sync.Mutex
	out *logbuf.Buffer
}

func (k *keepLines) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if !strings.Contains(line, "level=INFO") || strings.Contains(line, `msg="prices refreshed"`) {
			_, _ = k.out.Write([]byte(line))
		}
	}
	return len(p), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// loadInvariant returns the violations of the money invariants for one user after flushing what
// is pending (moneycheck): each balance equals the sum of the user's entries and none is negative
// (nor an available amount above its balance); what the account holds back equals its open orders'
// reservations; a filled order has exactly its trade and fee entries. Order documents the account
// has not written yet (order_writes) count as written.
func loadInvariant(t *testing.T, l *ledger.Ledger, db *mongo.Database, userID string) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Flush(ctx, userID); err != nil {
		return []error{fmt.Errorf("%s: flush: %w", userID, err)}
	}
	s := moneycheck.Read(t, db, userID).WithUnwritten()
	return slices.Concat(s.Flushed(), s.Balances(), s.Reservations())
}
