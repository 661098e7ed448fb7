package hardening_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// outcome is one response of a burst, classified.
type outcome struct {
	u                *user
	op, key, orderID string
	body             string
	status           int
	code             string
}

// allowedRefusals are the 4xx codes a burst of valid requests may meet: funds spent by the
// others, an order another request closed first, a key still held by its first request.
var allowedRefusals = map[string]bool{
	trading.CodeInsufficientFunds: true, "ORDER_NOT_OPEN": true, "IDEMPOTENCY_KEY_IN_PROGRESS": true,
}

// TestEngineRestartDuringOrderBurst: while 8 clients send market buys and sells, resting limit
// orders, cancels and keyed deposits and withdrawals through the real handlers, the engine is
// stopped and restarted. Every answer is a success, an expected 4xx or a 503 with CORS and
// Retry-After — DATABASE_UNAVAILABLE, or TIMEOUT for a request that waited its 5 s for a
// connection while the engine was down or catching up — never a 500, never a driver message;
// afterwards every 201 order is stored, each keyed request
// that got a 503 is retried with its key and booked exactly once, and the ledger invariant holds
// for every user (balances equal their entries, nothing negative, no reservation left on a
// closed order).
func TestEngineRestartDuringOrderBurst(t *testing.T) {
	s := newStack(t, stackOptions{})
	var users []*user
	for i := range 6 {
		u := s.signup(fmt.Sprintf("burst%d@example.com", i))
		testenv.Expect(t, u.do("POST", "/api/portfolio/holding", `{"symbol":"ETH","amount":2}`), 201, "")
		users = append(users, u)
	}

	var (
		mu        sync.Mutex
		outcomes  []outcome
		problems  []string
		openOrder = map[*user][]string{}
		successes atomic.Int64
		stop      atomic.Bool
		seq       atomic.Int64
		wg        sync.WaitGroup
	)
	request := func(u *user, op, method, target, key, body string) outcome {
		h := u.bearer()
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		r, err := s.send(ctx, method, target, h, body)
		o := outcome{u: u, op: op, key: key, body: body, status: r.Status}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", op, err))
			return o
		}
		m := map[string]any{}
		_ = jsonUnmarshal(r.Body, &m)
		o.code, _ = m["code"].(string)
		o.orderID = field(m, "order", "id")
		switch {
		case r.Status == http.StatusOK || r.Status == http.StatusCreated:
			successes.Add(1)
		case r.Status >= 400 && r.Status < 500 && allowedRefusals[o.code]:
		case r.Status == http.StatusServiceUnavailable && (o.code == "DATABASE_UNAVAILABLE" || o.code == "TIMEOUT"):
			if r.Header.Get("Retry-After") == "" || r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin {
				problems = append(problems, fmt.Sprintf("%s: 503 without Retry-After or CORS: %v", op, r.Header))
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: %d %s", op, r.Status, r.Body))
		}
		if r.Status >= 500 {
			for _, leak := range []string{"mongo", "127.0.0.1", "connection", "server selection", "i/o", "EOF", "context"} {
				if strings.Contains(string(r.Body), leak) {
					problems = append(problems, fmt.Sprintf("%s: 5xx body leaks %q: %s", op, leak, r.Body))
				}
			}
		}
		outcomes = append(outcomes, o)
		return o
	}
	for w := range 8 {
		wg.Go(func() {
			for k := w; !stop.Load(); k++ {
				u := users[k%len(users)]
				n := seq.Add(1)
				switch k % 5 {
				case 0:
					request(u, "market buy", "POST", "/api/orders", "", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`)
				case 1:
					request(u, "market sell", "POST", "/api/orders", "", `{"trading_pair":"ETH/USDT","order_type":"market","side":"sell","amount":0.1}`)
				case 2:
					o := request(u, "limit buy", "POST", "/api/orders", fmt.Sprintf("limit-%d", n), `{"trading_pair":"SOL/USD","order_type":"limit","side":"buy","amount":1,"price":100}`)
					if o.orderID != "" {
						mu.Lock()
						openOrder[u] = append(openOrder[u], o.orderID)
						mu.Unlock()
					}
				case 3:
					mu.Lock()
					var id string
					if ids := openOrder[u]; len(ids) > 0 {
						id, openOrder[u] = ids[0], ids[1:]
					}
					mu.Unlock()
					if id != "" {
						request(u, "cancel", "POST", "/api/orders/"+id+"/cancel", "", "")
					}
				case 4:
					typ := []string{"deposit", "withdrawal"}[n%2]
					// A unique amount per key, so the ledger tells how often each was booked.
					request(u, typ, "POST", "/api/transactions", fmt.Sprintf("money-%d", n), fmt.Sprintf(`{"type":%q,"amount":%d.%02d}`, typ, 10+n/100, n%100))
				}
			}
		})
	}
	waitFor := func(n int64) {
		deadline := time.Now().Add(60 * time.Second)
		for successes.Load() < n {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("only %d successes, waiting for %d", successes.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(40)
	if err := s.db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := successes.Load()
	time.Sleep(4 * time.Second) // longer than the driver's server selection timeout (3 s): requests fail, not just wait
	if err := s.db.StartEngine(); err != nil {
		t.Fatal(err)
	}
	waitFor(stoppedAt + 40)
	stop.Store(true)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		for _, line := range strings.Split(s.env.Logs.String(), "\n") {
			if strings.Contains(line, `"status":500`) || strings.Contains(line, `"level":"ERROR"`) {
				t.Log(line)
			}
		}
	}

	// Every keyed money movement that got a 503 is retried with its key by its sender, as a
	// client does; then each one answered 201 (first time or on retry) is in the ledger once.
	var unavailable, retried, inProgress int
	final := map[string]outcome{}
	for _, o := range outcomes {
		if o.status == http.StatusServiceUnavailable {
			unavailable++
		}
		if strings.HasPrefix(o.key, "money-") {
			final[o.key] = o
		}
	}
	for key, o := range final {
		if o.status != http.StatusServiceUnavailable {
			continue
		}
		r := s.do("POST", "/api/transactions", o.u.bearer("Idempotency-Key", key), o.body)
		o.status = r.Status
		final[key] = o
		retried++
		switch {
		case r.Status == http.StatusCreated:
		case r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), trading.CodeInsufficientFunds):
		case r.Status == http.StatusConflict && strings.Contains(string(r.Body), "IDEMPOTENCY_KEY_IN_PROGRESS"):
			// The first attempt could not release its claim (the database was down): the key is
			// taken over once its marker is 60 s old, and the takeover finds the write if it landed.
			inProgress++
		default:
			t.Errorf("retry of %s: %d %s", key, r.Status, r.Body)
		}
	}
	for key, o := range final {
		var n int64
		_, _ = fmt.Sscanf(key, "money-%d", &n)
		got := entriesWithAmount(s, o.u.id, o.op, 1000+n)
		switch o.status {
		case http.StatusCreated:
			if got != 1 {
				t.Errorf("%s (%s, answered 201): %d entries in the ledger, want 1", key, o.op, got)
			}
		case http.StatusConflict: // still claimed: booked at most once, whatever the first attempt did
			if got > 1 {
				t.Errorf("%s (%s, still in progress): %d entries in the ledger, want at most 1", key, o.op, got)
			}
		default:
			if got != 0 {
				t.Errorf("%s (%s, answered %d): %d entries in the ledger, want none", key, o.op, o.status, got)
			}
		}
	}

	if err := s.runPrices(); err != nil {
		t.Fatalf("prices run after the restart: %v", err)
	}
	for _, o := range outcomes {
		if o.status == http.StatusCreated && o.orderID != "" {
			if n := s.count(trading.OrdersCollection, bson.D{{Key: "_id", Value: o.orderID}}); n != 1 {
				t.Errorf("order %s was answered 201 but %d are stored", o.orderID, n)
			}
		}
	}
	for _, u := range users {
		s.assertLedger(u.id)
	}
	t.Logf("%d requests: %d succeeded, %d answered 503 (DATABASE_UNAVAILABLE or TIMEOUT) around the outage; %d keyed retries (%d still in progress)",
		len(outcomes), successes.Load(), unavailable, retried, inProgress)
}

func entriesWithAmount(s *stack, userID, typ string, cents int64) int {
	return s.count(ledger.TransactionsCollection, bson.D{{Key: "user_id", Value: userID}, {Key: "type", Value: typ}, {Key: "amount", Value: cents}})
}

// Secrets Manager ids of the secrets tests.
const (
	jwtSecretID   = "cryptovault/dev/jwt"
	mongoSecretID = "cryptovault/dev/mongodb-uri"
)

// secretsStack is a stack whose JWT key and connection string both live in Secrets Manager (as in
// AWS), read through the real SDK client from smfake.
func secretsStack(t *testing.T, sm *smfake.Server, o stackOptions) *stack {
	t.Helper()
	o.env = map[string]string{"MONGODB_URI": "", "MONGODB_SECRET_ARN": mongoSecretID, "JWT_SECRET": "", "JWT_SECRET_ARN": jwtSecretID}
	o.app.SecretsAPI = sm.Client(t)
	return newStack(t, o)
}

// TestSecretsManagerDownAtColdStart: an instance that starts while Secrets Manager is down (its
// JWT key and its connection string both there) answers every route that needs them — a signup, a
// login, an order, and an authenticated read with a token another instance signed — with 503
// SECRETS_UNAVAILABLE, CORS and Retry-After (never a 401, which would log the browser out, and
// never a 500); once the endpoint is back the same instance serves all of them.
// (platform/app and health test the same outage on a probe route and /health.)
func TestSecretsManagerDownAtColdStart(t *testing.T) {
	db := testenv.DB(t)
	sm := smfake.Start(t)
	sm.Put(jwtSecretID, `{"kid":"dev-1","secret":"`+testenv.JWTSecret+`"}`)
	sm.Put(mongoSecretID, db.URI())
	// A token signed by a warm instance before this one started.
	tok := forge(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "dev-1"}, map[string]any{
		"sub": "u1", "sid": "s1", "jti": "j1", "iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		"iss": "cryptovault", "aud": "cryptovault-api", "typ": "access",
	}, hs256([]byte(testenv.JWTSecret)))
	sm.SetDown(true)
	s := secretsStack(t, sm, stackOptions{db: db, noPrices: true})

	requests := []struct{ method, path, body string }{
		{"POST", "/api/auth/signup", `{"email":"cold@example.com","password":"` + password + `","name":"Cold Start"}`},
		{"POST", "/api/auth/login", `{"email":"cold@example.com","password":"` + password + `"}`},
		{"GET", "/api/auth/me", ""},
		{"GET", "/api/portfolio", ""},
		{"POST", "/api/orders", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`},
	}
	for _, rq := range requests {
		r := s.do(rq.method, rq.path, jsonHeader("Authorization", "Bearer "+tok), rq.body)
		testenv.Expect(t, r, http.StatusServiceUnavailable, "SECRETS_UNAVAILABLE")
		if r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without CORS or Retry-After: %v", rq.method, rq.path, r.Header)
		}
		assertNoInternals(t, r, db.URI())
	}

	sm.SetDown(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.do("POST", "/api/auth/signup", jsonHeader(), requests[0].body)
		if r.Status == http.StatusCreated {
			break
		}
		if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("no recovery: %d %s", r.Status, r.Body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.refreshPrices()
	u := &user{s: s}
	login := testenv.Expect(t, s.do("POST", "/api/auth/login", jsonHeader(), requests[1].body), 200, "")
	u.access = login["access_token"].(string)
	u.id = field(login, "user", "id")
	if kid := headerOf(t, u.access)["kid"]; kid != "dev-1" {
		t.Errorf("signed with kid %v, want dev-1", kid)
	}
	testenv.Expect(t, u.do("GET", "/api/auth/me", ""), 200, "")
	testenv.Expect(t, u.do("POST", "/api/orders", requests[4].body), 201, "")
	s.assertLedger(u.id)
	if logs := s.env.Logs.String(); strings.Contains(logs, testenv.JWTSecret) || strings.Contains(logs, db.URI()) {
		t.Error("a secret reached a log line")
	}
}

// TestSecretsManagerDownDuringWarmRefresh: a warm instance whose cached keys expire while Secrets
// Manager is down keeps working on its cached values — existing tokens verify, logins sign new
// ones, orders fill, refresh rotates — for many cache periods, and picks up a rotated key once
// the endpoint is back (old tokens still valid as AWSPREVIOUS).
func TestSecretsManagerDownDuringWarmRefresh(t *testing.T) {
	db := testenv.DB(t)
	sm := smfake.Start(t)
	sm.Put(jwtSecretID, `{"kid":"dev-1","secret":"`+testenv.JWTSecret+`"}`)
	sm.Put(mongoSecretID, db.URI())
	const ttl = 100 * time.Millisecond
	s := secretsStack(t, sm, stackOptions{db: db, beforeBuild: func(d *app.Deps) {
		// The instance's cache, with a short TTL so that the test spans many refreshes.
		d.Secrets = secrets.NewCache(sm.Client(t), secrets.CacheOptions{TTL: ttl, RetryAfterFailure: ttl, Logger: d.Logger})
		d.Keys = secrets.NewSecretsManagerKeyRing(d.Secrets, jwtSecretID)
	}})
	u := s.signup("warm@example.com")

	sm.SetDown(true)
	for i := range 8 {
		time.Sleep(ttl + 20*time.Millisecond) // every cached value is stale: each request starts a refresh that fails
		testenv.Expect(t, u.do("GET", "/api/auth/me", ""), 200, "")
		testenv.Expect(t, u.do("POST", "/api/orders", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.001}`), 201, "")
		if i%4 == 0 {
			login := testenv.Expect(t, s.do("POST", "/api/auth/login", jsonHeader(), fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, password)), 200, "")
			testenv.Expect(t, s.do("GET", "/api/portfolio", jsonHeader("Authorization", "Bearer "+login["access_token"].(string)), ""), 200, "")
			r := s.do("POST", "/api/auth/refresh", jsonHeader("Cookie", "refresh_token="+u.refresh), "")
			testenv.Expect(t, r, 200, "")
			for _, c := range (&http.Response{Header: r.Header}).Cookies() {
				if c.Name == "refresh_token" {
					u.refresh = c.Value
				}
			}
		}
	}
	if !strings.Contains(s.env.Logs.String(), "refresh failed") {
		t.Error("no refresh failure was logged while Secrets Manager was down")
	}

	// Back, with a rotated key: new tokens use it, the old one still verifies.
	sm.SetDown(false)
	sm.Put(jwtSecretID, `{"kid":"dev-2","secret":"rotated-signing-key-0123456789abcdef-0123"}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(ttl)
		login := testenv.Expect(t, s.do("POST", "/api/auth/login", jsonHeader(), fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, password)), 200, "")
		if headerOf(t, login["access_token"].(string))["kid"] == "dev-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotated key was not picked up after Secrets Manager came back")
		}
	}
	testenv.Expect(t, u.do("GET", "/api/auth/me", ""), 200, "")
	s.assertLedger(u.id)
}

// headerOf decodes a token's header.
func headerOf(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := jsonUnmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPriceFeedDownLongerThanMaxAge: the feed disappears (the file is gone: every refresh fails)
// for longer than PRICE_MAX_AGE. Scheduled refreshes fail without touching the stored prices;
// trading refuses with 503 PRICE_STALE and changes nothing; market data still answers, with the
// true time of the last good refresh (not a fresh-looking one); /health is 503 with prices down;
// portfolio reads still work. When the feed is back, the next refresh restores all of it.
func TestPriceFeedDownLongerThanMaxAge(t *testing.T) {
	const maxAge = 2 * time.Second
	s := newStack(t, stackOptions{env: map[string]string{"PRICE_MAX_AGE": maxAge.String()}, noPrices: true})
	before := time.Now().UTC().Truncate(time.Second)
	s.refreshPrices()
	after := time.Now().UTC()
	u := s.signup("stale@example.com")
	testenv.Expect(t, u.do("POST", "/api/orders", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`), 201, "")

	if err := os.Remove(s.priceFile); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = s.runPrices() // the feed error is the run's to report or log; the store must keep its prices
		time.Sleep(maxAge/2 + 100*time.Millisecond)
	}

	snap := s.snapshot()
	for _, body := range []string{
		`{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`,
		`{"trading_pair":"BTC/USD","order_type":"market","side":"sell","amount":0.005}`,
		`{"trading_pair":"ETH/USD","order_type":"stop","side":"buy","amount":0.1,"price":3000}`,
	} {
		r := u.do("POST", "/api/orders", body)
		testenv.Expect(t, r, http.StatusServiceUnavailable, "PRICE_STALE")
		if r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin {
			t.Errorf("PRICE_STALE without CORS: %v", r.Header)
		}
	}
	s.assertUnchanged("orders on stale prices", snap)

	list := testenv.Expect(t, s.do("GET", "/api/crypto", jsonHeader(), ""), 200, "")
	updated, err := time.Parse(time.RFC3339, list["updatedAt"].(string))
	if err != nil || updated.Before(before) || updated.After(after) {
		t.Errorf("updatedAt %v, want the last good refresh, between %v and %v", list["updatedAt"], before, after)
	}
	if age := time.Since(updated); age <= maxAge {
		t.Errorf("market data is %v old, want older than PRICE_MAX_AGE", age)
	}
	coin := testenv.Expect(t, s.do("GET", "/api/crypto/BTC", jsonHeader(), ""), 200, "")
	if lu := field(coin, "cryptocurrency", "last_updated"); lu != list["updatedAt"] {
		t.Errorf("BTC last_updated %q, want %v", lu, list["updatedAt"])
	}
	health := s.do("GET", "/health", jsonHeader(), "")
	h := health.JSON(t)
	prices, _ := h["checks"].(map[string]any)["prices"].(map[string]any)
	if health.Status != http.StatusServiceUnavailable || h["status"] != "unhealthy" || prices["status"] != "down" || prices["age_seconds"].(float64) < maxAge.Seconds() {
		t.Errorf("health with stale prices: %d %s", health.Status, health.Body)
	}
	testenv.Expect(t, u.do("GET", "/api/portfolio", ""), 200, "")

	// Back: refreshes (every 250 ms here, shorter than PRICE_MAX_AGE as a schedule must be)
	// restore trading and health, within the functions' price cache period
	// (market.DefaultCacheTTL).
	pricefile.Write(t, s.priceFile, coins)
	eventually := func(what string, ok func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(market.DefaultCacheTTL + 5*time.Second)
		for {
			s.refreshPrices()
			done, last := ok()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s after the feed came back: %s", what, last)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	eventually("trading", func() (bool, string) {
		r := u.do("POST", "/api/orders", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`)
		return r.Status == http.StatusCreated, fmt.Sprintf("%d %s", r.Status, r.Body)
	})
	eventually("health", func() (bool, string) {
		r := s.do("GET", "/health", jsonHeader(), "")
		return r.Status == http.StatusOK, fmt.Sprintf("%d %s", r.Status, r.Body)
	})
	s.assertLedger(u.id)
}

// TestDeadlineShorterThanSlowQuery: the invocation's deadline (the Lambda context's) is shorter
// than a slow database command. The request still ends before its deadline — in Lambda a
// response after it is lost and the browser sees the gateway's error instead — with a 503 in the
// envelope when the slow command is the account update, and with no half-applied change: the
// engine may still apply the update after the client gave up (architecture.md), in which case
// the ledger stays whole and the retry with the same Idempotency-Key answers 201 without booking
// it twice. A slow write after the outcome is decided (the idempotency bookkeeping) does not hold
// the response past the deadline either.
func TestDeadlineShorterThanSlowQuery(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := s.signup("deadline@example.com")
	const (
		budget = 3 * time.Second // the invocation's remaining time
		slow   = 4 * time.Second // the injected delay of one command
	)
	call := func(path, key, body string) (response, time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		start := time.Now()
		r, err := s.send(ctx, "POST", path, u.bearer("Idempotency-Key", key), body)
		if err != nil {
			t.Fatal(err)
		}
		return r, time.Since(start)
	}
	cases := []struct {
		name, command, path, key, body string
		entryType                      string
		cents                          int64 // the entry's amount in minor units (cents, or 1e-8 coin)
		slowOutcome                    bool  // the slow command comes after the outcome is stored
	}{
		{name: "deposit, slow account update", command: "findAndModify", path: "/api/transactions", key: "slow-deposit",
			body: `{"type":"deposit","amount":123.45}`, entryType: "deposit", cents: 12345},
		{name: "market buy, slow account update", command: "findAndModify", path: "/api/orders", key: "slow-buy",
			body: `{"trading_pair":"ETH/USD","order_type":"market","side":"buy","amount":0.0123}`, entryType: "buy", cents: 1_230_000},
		// The account update is the first findAndModify; the stored response, beside the entry's
		// and the audit's inserts, is the first update.
		{name: "withdrawal, slow bookkeeping after the outcome", command: "update", path: "/api/transactions", key: "slow-withdrawal",
			body: `{"type":"withdrawal","amount":67.89}`, entryType: "withdrawal", cents: 6789, slowOutcome: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.db.Inject(devdb.Fault{Command: c.command, Delay: slow, Times: 1})
			r, took := call(c.path, c.key, c.body)
			if took >= budget {
				t.Errorf("the request took %v, past its %v deadline (%d %s)", took.Round(time.Millisecond), budget, r.Status, r.Body)
			}
			if c.slowOutcome {
				testenv.Expect(t, r, http.StatusCreated, "")
			} else {
				if r.Status != http.StatusServiceUnavailable {
					t.Fatalf("status %d, want 503: %s", r.Status, r.Body)
				}
				code := r.JSON(t)["code"]
				if code != "TIMEOUT" && code != "DATABASE_UNAVAILABLE" {
					t.Errorf("code %v, want TIMEOUT or DATABASE_UNAVAILABLE", code)
				}
				if r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin {
					t.Errorf("503 without CORS headers: %v", r.Header)
				}
				assertNoInternals(t, r, s.db.URI())
			}
			// Let the delayed command reach the engine: the write may land after the client gave up.
			time.Sleep(slow - took + 500*time.Millisecond)
			s.db.ClearFaults()
			s.assertLedger(u.id)
			applied := entriesWithAmount(s, u.id, c.entryType, c.cents)
			t.Logf("%s: %d after %v; booked before the retry: %v", c.name, r.Status, took.Round(time.Millisecond), applied == 1)

			// The client retries with its key: one booking, whatever happened to the first.
			retry := s.do("POST", c.path, u.bearer("Idempotency-Key", c.key), c.body)
			testenv.Expect(t, retry, http.StatusCreated, "")
			if c.slowOutcome && !bytes.Equal(retry.Body, r.Body) {
				t.Errorf("the retry is not the stored answer:\n%s\n%s", r.Body, retry.Body)
			}
			if n := entriesWithAmount(s, u.id, c.entryType, c.cents); n != 1 {
				t.Errorf("%d %s entries of %d after the retry, want exactly 1", n, c.entryType, c.cents)
			}
			s.assertLedger(u.id)
		})
	}
}
