package idempotency_test

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/idempotency"
)

const (
	route = "POST /api/things"
	fp    = `{"amount":50}`
)

// TestBeginOutcomes walks one key through its life: claimed, in progress for a duplicate,
// replayed once finished, refused for another body or route; other users' keys are separate.
func TestBeginOutcomes(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	c := e.mustClaim(t, "u1", "k1", route, fp)
	if c.Token() == "" || c.Reclaimed() {
		t.Fatalf("fresh claim: token %q, reclaimed %v", c.Token(), c.Reclaimed())
	}

	_, _, err := e.begin(t, "u1", "k1", route, fp)
	wantCode(t, err, http.StatusConflict, idempotency.CodeKeyInProgress)
	_, _, err = e.begin(t, "u1", "k1", route, `{"amount":51}`)
	wantCode(t, err, http.StatusConflict, idempotency.CodeKeyReused) // reuse wins over in-progress

	body := []byte(`{"id":"x"}` + "\n")
	if err := c.Finish(ctx, http.StatusCreated, body); err != nil {
		t.Fatalf("Finish: %v", err)
	}

	tests := []struct {
		name, user, key, route, fp string
		replay                     bool
		code                       string
	}{
		{name: "same request", user: "u1", key: "k1", route: route, fp: fp, replay: true},
		{name: "different body", user: "u1", key: "k1", route: route, fp: `{"amount":51}`, code: idempotency.CodeKeyReused},
		{name: "other route", user: "u1", key: "k1", route: "POST /api/orders", fp: fp, code: idempotency.CodeKeyReused},
		{name: "other user, same key", user: "u2", key: "k1", route: route, fp: fp},
		{name: "same user, other key", user: "u1", key: "k2", route: route, fp: fp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claim, resp, err := e.begin(t, tt.user, tt.key, tt.route, tt.fp)
			switch {
			case tt.code != "":
				wantCode(t, err, http.StatusConflict, tt.code)
			case tt.replay:
				if err != nil || claim != nil || resp == nil || resp.Status != http.StatusCreated || !bytes.Equal(resp.Body, body) {
					t.Fatalf("got claim %v, response %+v, error %v; want the stored 201", claim, resp, err)
				}
			default:
				if err != nil || claim == nil || claim.Token() == c.Token() {
					t.Fatalf("got claim %v, error %v; want a fresh claim with its own token", claim, err)
				}
			}
		})
	}
}

// TestTakeover: a claim silent for InFlightTimeout is taken over with the same token; the
// request that gave up can no longer finish, the one that took over can.
func TestTakeover(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	first := e.mustClaim(t, "u1", "k", route, fp)

	e.clock.Advance(idempotency.InFlightTimeout - time.Second)
	_, _, err := e.begin(t, "u1", "k", route, fp)
	wantCode(t, err, http.StatusConflict, idempotency.CodeKeyInProgress)

	e.clock.Advance(2 * time.Second)
	second := e.mustClaim(t, "u1", "k", route, fp)
	if !second.Reclaimed() || second.Token() != first.Token() {
		t.Fatalf("takeover: reclaimed %v, token %q; want true and the first claim's %q", second.Reclaimed(), second.Token(), first.Token())
	}
	// The new holder is in flight now: a third request waits.
	_, _, err = e.begin(t, "u1", "k", route, fp)
	wantCode(t, err, http.StatusConflict, idempotency.CodeKeyInProgress)

	if err := first.Finish(ctx, http.StatusCreated, []byte("{}")); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("Finish by the abandoned claim: %v, want ErrClaimLost", err)
	}
	if err := second.Finish(ctx, http.StatusCreated, []byte(`{"n":2}`)); err != nil {
		t.Fatalf("Finish by the new holder: %v", err)
	}
	_, resp, err := e.begin(t, "u1", "k", route, fp)
	if err != nil || resp == nil || string(resp.Body) != `{"n":2}` {
		t.Fatalf("replay %+v, %v; want the new holder's response", resp, err)
	}
}

// TestFinishStatuses: 2xx and 4xx are stored and replayed; a 5xx releases the claim so that the
// retry runs at once, under the same token (its earlier update may have landed).
func TestFinishStatuses(t *testing.T) {
	tests := []struct {
		status int
		stored bool
	}{
		{http.StatusOK, true},
		{http.StatusCreated, true},
		{http.StatusNotFound, true},
		{http.StatusConflict, true},
		{http.StatusUnprocessableEntity, true},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	}
	e := newTestEnv(t)
	ctx := testCtx(t)
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			key := "k-" + http.StatusText(tt.status)
			c := e.mustClaim(t, "u1", key, route, fp)
			if err := c.Finish(ctx, tt.status, []byte(`{"s":1}`)); err != nil {
				t.Fatalf("Finish(%d): %v", tt.status, err)
			}
			claim, resp, err := e.begin(t, "u1", key, route, fp)
			if err != nil {
				t.Fatalf("Begin after Finish(%d): %v", tt.status, err)
			}
			if tt.stored {
				if resp == nil || resp.Status != tt.status || string(resp.Body) != `{"s":1}` {
					t.Fatalf("Finish(%d): replay %+v, claim %v; want the stored response", tt.status, resp, claim)
				}
				return
			}
			if claim == nil || !claim.Reclaimed() || claim.Token() != c.Token() {
				t.Fatalf("Finish(%d): claim %v; want an immediate takeover with the same token", tt.status, claim)
			}
		})
	}
}

// TestExpiry: a key is remembered for Retention; after that the same key is a new request with a
// new token, whether its record was finished or abandoned.
func TestExpiry(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	done := e.mustClaim(t, "u1", "done", route, fp)
	if err := done.Finish(ctx, http.StatusCreated, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	abandoned := e.mustClaim(t, "u1", "abandoned", route, fp)

	e.clock.Advance(idempotency.Retention - time.Second)
	if _, resp, err := e.begin(t, "u1", "done", route, fp); err != nil || resp == nil {
		t.Fatalf("just before expiry: %+v, %v; want the replay", resp, err)
	}

	e.clock.Advance(time.Second)
	for _, old := range []*idempotency.Claim{done, abandoned} {
		key := "done"
		if old == abandoned {
			key = "abandoned"
		}
		// Another body too: an expired key is not compared with what it was used for.
		c := e.mustClaim(t, "u1", key, route, `{"other":1}`)
		if c.Reclaimed() || c.Token() == old.Token() {
			t.Fatalf("%s after expiry: reclaimed %v, token reused %v; want a fresh claim", key, c.Reclaimed(), c.Token() == old.Token())
		}
	}
}

// TestConcurrentBegin: of 20 requests with one key at the same moment exactly one gets the
// claim; the others are told it is in progress.
func TestConcurrentBegin(t *testing.T) {
	e := newTestEnv(t)
	claims, inProgress := concurrentBegins(t, e, 20)
	if claims != 1 || inProgress != 19 {
		t.Fatalf("%d claims, %d in progress; want 1 and 19", claims, inProgress)
	}
}

// TestConcurrentTakeover: of 10 retries of an abandoned request exactly one takes it over.
func TestConcurrentTakeover(t *testing.T) {
	e := newTestEnv(t)
	e.mustClaim(t, "u1", "k", route, fp)
	e.clock.Advance(idempotency.InFlightTimeout + time.Second)
	claims, inProgress := concurrentBegins(t, e, 10)
	if claims != 1 || inProgress != 9 {
		t.Fatalf("%d claims, %d in progress; want 1 and 9", claims, inProgress)
	}
}

func concurrentBegins(t *testing.T, e *testEnv, n int) (claims, inProgress int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range n {
		wg.Go(func() {
			c, resp, err := e.store.Begin(testCtx(t), "u1", "k", route, fp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case c != nil:
				claims++
			case err != nil && resp == nil && isCode(err, idempotency.CodeKeyInProgress):
				inProgress++
			default:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("unexpected outcomes: %v", errs)
	}
	return claims, inProgress
}
