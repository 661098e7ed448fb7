package main

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/samtemplate"
)

// throttler enforces the stage's throttling table (samtemplate.Template.Throttles, at the
// template's parameter defaults) the way API Gateway does:
//
//   - One token bucket per method: template route = HTTP method + resource path, so
//     /api/auth/login and /api/auth/login/ share one, and requests of every client share it.
//     API Gateway's stage and method throttling is not per client (per-client limits are the
//     WAF rate rule, which the local server does not emulate).
//   - A route with its own MethodSettings entry uses those limits; every other route uses the
//     stage default in a bucket of its own (the stage default is a per-method limit, not one
//     bucket for the whole stage).
//   - OPTIONS is throttled too. The template's OPTIONS routes are ordinary methods with a Lambda
//     integration (no CORS mock), and the stage default "/*" "*" covers every method, OPTIONS
//     included; each preflight route has its own bucket at the stage default, separate from the
//     route it precedes (OPTIONS /api/auth/login: 100/200, POST /api/auth/login: 10/20). A
//     throttled preflight is 429, which the browser reports as a failed preflight, as in AWS.
//   - A bucket holds Burst tokens, starts full and gains Rate tokens per second; a request
//     takes one token or is answered 429 RATE_LIMITED before its function runs.
//
// Requests that match no route (404, 405) are not throttled: API Gateway answers them before
// any method exists to throttle. There is no goroutine per bucket: a bucket is brought up to
// date when a request takes from it.
type throttler struct {
	table  samtemplate.ThrottleTable
	now    func() time.Time
	reject http.Handler // the 429 envelope, through the gateway's middleware

	mu      sync.Mutex
	buckets map[samtemplate.Route]*bucket // nil value: the route has no limit
}

// retryAfterKey carries the wait of a throttled request to the reject handler.
type retryAfterKey struct{}

// newThrottler returns a throttler for table. The 429 goes through the platform middleware of
// deps, as the gateway's 404/405 do, so it has the error envelope, the request id, the security
// headers and CORS for allowed origins (API Gateway's THROTTLED response carries them too).
// now is the clock (time.Now; a fake one in tests).
func newThrottler(table samtemplate.ThrottleTable, deps *app.Deps, now func() time.Time) *throttler {
	reject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait, _ := r.Context().Value(retryAfterKey{}).(time.Duration)
		web.WriteError(w, r, &web.Error{Status: http.StatusTooManyRequests, Code: web.CodeRateLimited,
			Message: "Too many requests", RetryAfter: wait})
	})
	return &throttler{
		table:   table,
		now:     now,
		reject:  deps.HTTP("gateway", reject),
		buckets: map[samtemplate.Route]*bucket{},
	}
}

// admit takes a token from route's bucket and reports whether the request may go on. When it
// may not, admit has answered 429 RATE_LIMITED with Retry-After. A nil throttler (-throttle
// off) admits everything.
func (t *throttler) admit(w http.ResponseWriter, r *http.Request, route samtemplate.Route) bool {
	if t == nil {
		return true
	}
	ok, wait := t.take(route)
	if ok {
		return true
	}
	// Like serveMiss: the answer does not depend on the body, so the middleware must not look
	// at it (no 413/415 in place of the 429).
	req := r.Clone(context.WithValue(r.Context(), retryAfterKey{}, wait))
	req.Header.Del("Content-Type")
	req.Body, req.ContentLength = http.NoBody, 0
	if req.Method == http.MethodOptions {
		// The middleware answers every OPTIONS as a preflight (204). Present the throttled
		// preflight as a GET so that it gets the 429 with the same CORS headers; its access
		// log line keeps the route (r.Pattern, "OPTIONS /api/...").
		req.Method = http.MethodGet
	}
	t.reject.ServeHTTP(w, req)
	return false
}

// take takes a token from route's bucket, creating the bucket (full) on first use. It returns
// the wait until the next token when there is none.
func (t *throttler) take(route samtemplate.Route) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now() // under the lock, so a bucket never sees time go backwards
	b, seen := t.buckets[route]
	if !seen {
		if th, ok := t.table.For(route); ok {
			b = newBucket(th, now)
		}
		t.buckets[route] = b
	}
	if b == nil {
		return true, 0
	}
	return b.take(now)
}

// tokenUnit is one token in the bucket's fixed-point count: whole requests at integer rates
// stay exact however the elapsed time is sliced (a float count could leave 0.9999… of a token
// after refills that add up to exactly one).
const tokenUnit = int64(time.Second / time.Nanosecond) // 1 token = 1e9 units, 1 ns at 1 token/s = 1 unit

// bucket is a token bucket: capacity Burst tokens, refilled at Rate tokens per second.
type bucket struct {
	rate     float64 // tokens per second
	capacity int64   // in units
	tokens   int64   // in units
	last     time.Time
}

func newBucket(th samtemplate.Throttle, now time.Time) *bucket {
	capacity := int64(th.Burst) * tokenUnit
	return &bucket{rate: th.Rate, capacity: capacity, tokens: capacity, last: now}
}

// take refills the bucket up to now and takes one token. Without one it returns the wait until
// the bucket holds one again, at least a second (Retry-After is in whole seconds and 0 would
// invite an immediate retry). A bucket that can never hold a token (rate or burst 0, which
// blocks the method in API Gateway) answers a wait of 1 s, API Gateway's static hint.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		// units gained = elapsed ns × rate (tokens/s); compare as floats before converting so
		// that a long idle time cannot overflow.
		gained := float64(elapsed) * b.rate
		if gained >= float64(b.capacity-b.tokens) {
			b.tokens = b.capacity
		} else {
			b.tokens += int64(gained)
		}
		b.last = now
	}
	if b.tokens >= tokenUnit {
		b.tokens -= tokenUnit
		return true, 0
	}
	if b.rate <= 0 || b.capacity < tokenUnit {
		return false, time.Second
	}
	wait := time.Duration(math.Ceil(float64(tokenUnit-b.tokens) / b.rate))
	return false, max(wait, time.Second)
}
