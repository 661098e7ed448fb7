package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// fakeClock is a clock that moves only when told, so bucket counts are exact however slow
// the machine is.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// takeN takes n times from b at now and returns how many were admitted and the last wait.
func takeN(b *bucket, now time.Time, n int) (admitted int, lastWait time.Duration) {
	for range n {
		ok, wait := b.take(now)
		if ok {
			admitted++
		} else {
			lastWait = wait
		}
	}
	return admitted, lastWait
}

func TestBucketBurstThenRate(t *testing.T) {
	t0 := newFakeClock().Now()
	b := newBucket(samtemplate.Throttle{Rate: 10, Burst: 20}, t0)
	steps := []struct {
		at       time.Duration // since t0
		takes    int
		admitted int
		wait     time.Duration // of the last refused take (0: none refused)
	}{
		{0, 25, 20, time.Second},                       // starts full: the burst, then nothing (100 ms, shown as 1 s)
		{100 * time.Millisecond, 2, 1, time.Second},    // one token per 100 ms
		{150 * time.Millisecond, 1, 0, time.Second},    // half a token is not a token
		{200 * time.Millisecond, 1, 1, 0},              // the other half
		{1200 * time.Millisecond, 11, 10, time.Second}, // a second: rate tokens
		{10 * time.Second, 25, 20, time.Second},        // a long idle time fills up to the burst, no more
		{10*time.Second + 99*time.Millisecond, 1, 0, time.Second},
		{10*time.Second + 100*time.Millisecond, 1, 1, 0},
	}
	for _, s := range steps {
		admitted, wait := takeN(b, t0.Add(s.at), s.takes)
		if admitted != s.admitted || wait != s.wait {
			t.Errorf("at %v, %d takes: admitted %d, wait %v; want %d, %v", s.at, s.takes, admitted, wait, s.admitted, s.wait)
		}
	}
}

// TestBucketRetryAfter: the wait is the time to the next whole token, at least a second.
func TestBucketRetryAfter(t *testing.T) {
	t0 := newFakeClock().Now()
	b := newBucket(samtemplate.Throttle{Rate: 0.25, Burst: 1}, t0)
	if ok, _ := b.take(t0); !ok {
		t.Fatal("a full bucket refused")
	}
	if ok, wait := b.take(t0); ok || wait != 4*time.Second {
		t.Errorf("empty bucket at 0.25/s: %v, wait %v; want 4s", ok, wait)
	}
	if ok, wait := b.take(t0.Add(2500 * time.Millisecond)); ok || wait != 1500*time.Millisecond {
		t.Errorf("after 2.5 s: %v, wait %v; want 1.5s (Retry-After 2)", ok, wait)
	}
	if ok, _ := b.take(t0.Add(4 * time.Second)); !ok {
		t.Error("refused after 4 s at 0.25/s")
	}
	// Time going backwards (it cannot under the throttler's lock, but a bucket must not mint
	// tokens from it).
	if ok, _ := b.take(t0); ok {
		t.Error("admitted when the clock went back")
	}
}

// TestBucketZeroLimits: a rate or burst of 0 blocks the method, as in API Gateway.
func TestBucketZeroLimits(t *testing.T) {
	t0 := newFakeClock().Now()
	for _, th := range []samtemplate.Throttle{{Rate: 0, Burst: 2}, {Rate: 5, Burst: 0}} {
		b := newBucket(th, t0)
		admitted, wait := takeN(b, t0.Add(time.Hour), 5)
		if want := th.Burst; admitted != want || wait != time.Second {
			t.Errorf("%+v: admitted %d, wait %v; want %d, 1s", th, admitted, wait, want)
		}
	}
}

// TestThrottlerPerRouteConcurrent: one bucket per route shared by every caller, exact under
// concurrency; a route without a limit (no stage default, no entry) is never refused.
func TestThrottlerPerRouteConcurrent(t *testing.T) {
	login := samtemplate.Route{Method: "POST", Path: "/api/auth/login"}
	loginGet := samtemplate.Route{Method: "GET", Path: "/api/auth/login"}
	other := samtemplate.Route{Method: "GET", Path: "/api/other"}
	clock := newFakeClock()
	th := &throttler{
		table: samtemplate.ThrottleTable{Routes: map[samtemplate.Route]samtemplate.Throttle{
			login:    {Rate: 10, Burst: 20},
			loginGet: {Rate: 1, Burst: 3},
		}},
		now:     clock.Now,
		buckets: map[samtemplate.Route]*bucket{},
	}
	var mu sync.Mutex
	admitted := map[samtemplate.Route]int{}
	var wg sync.WaitGroup
	for i := range 300 {
		route := []samtemplate.Route{login, loginGet, other}[i%3]
		wg.Go(func() {
			if ok, _ := th.take(route); ok {
				mu.Lock()
				admitted[route]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted[login] != 20 || admitted[loginGet] != 3 || admitted[other] != 100 {
		t.Errorf("admitted %v; want login 20, GET login 3, other 100", admitted)
	}
}

// newThrottledGateway serves the real template.yaml's functions, as newTestGateway does, with
// the template's throttling table on clock (nil clock: throttling off).
func newThrottledGateway(t *testing.T, clock *fakeClock) *httptest.Server {
	t.Helper()
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	gw, err := newGateway(tpl, env.Deps, env.Deps.Logger)
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		table, err := tpl.Throttles()
		if err != nil {
			t.Fatal(err)
		}
		gw.throttle = newThrottler(table, env.Deps, clock.Now)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// hammer sends n identical requests from 8 concurrent clients, as an impatient frontend
// would, and returns every reply.
func hammer(t *testing.T, url, method, path, body string, n int) []reply {
	t.Helper()
	replies := make([]reply, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				replies[i] = send(t, url, method, path, body)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return replies
}

func send(t *testing.T, url, method, path, body string) reply {
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return reply{}
	}
	req.Header.Set("Origin", testenv.Origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", "POST")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return reply{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// count splits replies into those that reached the function, which must answer passStatus,
// and the 429s, checking each 429 is the gateway's RATE_LIMITED (not, say, the auth function's
// ACCOUNT_LOCKED).
func count(t *testing.T, replies []reply, passStatus int) (passed, throttled int) {
	t.Helper()
	for _, r := range replies {
		if r.status != http.StatusTooManyRequests {
			passed++
			if r.status != passStatus {
				t.Errorf("status %d, want %d or 429: %s", r.status, passStatus, r.raw)
			}
			continue
		}
		throttled++
		checkRateLimited(t, r)
	}
	return passed, throttled
}

// checkRateLimited: the API's envelope, Retry-After in whole seconds, the request id, and the
// headers of every response (CORS for the allowed origin, security headers).
func checkRateLimited(t *testing.T, r reply) {
	t.Helper()
	b := r.body
	if b["code"] != "RATE_LIMITED" || b["error"] != "Too many requests" || b["detail"] != b["error"] {
		t.Errorf("429 body %s", r.raw)
	}
	if id := r.header.Get("X-Request-Id"); id == "" || b["request_id"] != id {
		t.Errorf("request id: header %q, body %v", id, b["request_id"])
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want whole seconds >= 1", r.header.Get("Retry-After"))
	}
	h := r.header
	if h.Get("Access-Control-Allow-Origin") != testenv.Origin || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("429 headers %v", h)
	}
}

// TestGatewayThrottlesLogin: POST /api/auth/login (10/s, burst 20 in the template) hammered by
// 60 requests with the clock frozen gets exactly 20 through to the function (its 422 for an
// empty body is not a throttle) and 40 429 RATE_LIMITED; a second later exactly 10 more pass.
func TestGatewayThrottlesLogin(t *testing.T) {
	clock := newFakeClock()
	srv := newThrottledGateway(t, clock)

	passed, throttled := count(t, hammer(t, srv.URL, "POST", "/api/auth/login", `{}`, 60), 422)
	if passed != 20 || throttled != 40 {
		t.Fatalf("frozen clock: %d passed, %d throttled; want 20 and 40", passed, throttled)
	}
	r := send(t, srv.URL, "POST", "/api/auth/login", `{}`)
	checkRateLimited(t, r)
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("at 10/s the wait is 100 ms: Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
	// The trailing-slash form is the same resource, hence the same bucket.
	if r := send(t, srv.URL, "POST", "/api/auth/login/", `{}`); r.status != 429 {
		t.Errorf("POST /api/auth/login/ = %d, want 429 (same bucket)", r.status)
	}

	// Other methods have their own buckets: signup (same limits, own bucket) and the login
	// preflight (stage default) are untouched.
	if r := send(t, srv.URL, "POST", "/api/auth/signup", `{}`); r.status == 429 {
		t.Errorf("signup throttled by login's bucket: %s", r.raw)
	}
	if r := send(t, srv.URL, "OPTIONS", "/api/auth/login", ""); r.status != http.StatusNoContent {
		t.Errorf("login preflight = %d, want 204", r.status)
	}

	clock.Advance(time.Second)
	passed, throttled = count(t, hammer(t, srv.URL, "POST", "/api/auth/login", `{}`, 30), 422)
	if passed != 10 || throttled != 20 {
		t.Errorf("one second later: %d passed, %d throttled; want 10 and 20", passed, throttled)
	}
	clock.Advance(time.Minute)
	passed, _ = count(t, hammer(t, srv.URL, "POST", "/api/auth/login", `{}`, 30), 422)
	if passed != 20 {
		t.Errorf("after a minute idle: %d passed, want the burst (20)", passed)
	}
}

// TestGatewayThrottleStageDefault: a route without its own MethodSettings entry gets the stage
// default (100/s, burst 200) in a bucket of its own; OPTIONS is a method like any other.
func TestGatewayThrottleStageDefault(t *testing.T) {
	clock := newFakeClock()
	srv := newThrottledGateway(t, clock)

	// POST /api/status answers 422 to [] without touching the database: cheap to repeat.
	passed, throttled := count(t, hammer(t, srv.URL, "POST", "/api/status", `[]`, 230), 422)
	if passed != 200 || throttled != 30 {
		t.Errorf("POST /api/status: %d passed, %d throttled; want 200 and 30", passed, throttled)
	}
	if r := send(t, srv.URL, "GET", "/api/status", ""); r.status != 200 {
		t.Errorf("GET /api/status = %d, want 200 (its own bucket): %s", r.status, r.raw)
	}

	// Preflights: 200 answered by the function (204), then 429 — with the CORS headers, as API
	// Gateway's THROTTLED response has them.
	passed, throttled = count(t, hammer(t, srv.URL, "OPTIONS", "/api/auth/verify-email", "", 205), http.StatusNoContent)
	if passed != 200 || throttled != 5 {
		t.Errorf("OPTIONS: %d passed, %d throttled; want 200 and 5", passed, throttled)
	}

	// Unknown paths are API Gateway's own 404, never throttled.
	for range 3 {
		if r := send(t, srv.URL, "GET", "/api/nope", ""); r.status != 404 {
			t.Errorf("GET /api/nope = %d, want 404", r.status)
		}
	}
}

// TestGatewayThrottleOff: without a throttler (-throttle off) nothing is 429.
func TestGatewayThrottleOff(t *testing.T) {
	srv := newThrottledGateway(t, nil)
	if passed, throttled := count(t, hammer(t, srv.URL, "POST", "/api/auth/login", `{}`, 60), 422); passed != 60 || throttled != 0 {
		t.Errorf("throttling off: %d passed, %d throttled; want 60 and 0", passed, throttled)
	}
}

// TestRunThrottleFlag: run, as main calls it, throttles by default and not with -throttle off.
// Real clock: login allows 20 at once and 10/s after, so 200 back-to-back requests see a 429
// unless they take over 18 s; with throttling off, 60 see none.
func TestRunThrottleFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		n    int
		want bool // some request is throttled
	}{
		{nil, 200, true},
		{[]string{"-throttle", "on"}, 200, true},
		{[]string{"-throttle", "off"}, 60, false},
	} {
		t.Run(strings.Join(append([]string{"args"}, tt.args...), " "), func(t *testing.T) {
			f, err := parseFlags(append([]string{"-template", "../../template.yaml", "-data", t.TempDir(),
				"-addr", freeAddr(t)}, tt.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			out := &logbuf.Buffer{}
			done := make(chan error, 1)
			go func() { done <- run(ctx, f, func(string) string { return "" }, out) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			}()
			url := "http://" + f.addr
			waitHealthy(t, url, out, time.Minute)
			throttled := false
			for i := 0; i < tt.n && !throttled; i++ {
				r := send(t, url, "POST", "/api/auth/login", `{}`)
				if r.status == 429 {
					checkRateLimited(t, r)
					throttled = true
				}
			}
			if throttled != tt.want {
				t.Errorf("throttled = %v, want %v", throttled, tt.want)
			}
			wantLine := "throttling:  on"
			if !tt.want {
				wantLine = "throttling:  off"
			}
			if !strings.Contains(out.String(), wantLine) {
				t.Errorf("start banner lacks %q:\n%s", wantLine, out.String())
			}
		})
	}
}

func TestParseFlagsThrottle(t *testing.T) {
	for _, tt := range []struct {
		args []string
		off  bool
		ok   bool
	}{
		{nil, false, true},
		{[]string{"-throttle", "on"}, false, true},
		{[]string{"-throttle=off"}, true, true},
		{[]string{"-throttle", "no"}, false, false},
		{[]string{"-throttle", ""}, false, false},
		{[]string{"-throttle"}, false, false},
	} {
		f, err := parseFlags(tt.args, io.Discard)
		if (err == nil) != tt.ok || (tt.ok && f.throttleOff != tt.off) {
			t.Errorf("parseFlags(%q) = throttleOff %v, err %v", tt.args, f.throttleOff, err)
		}
	}
}
