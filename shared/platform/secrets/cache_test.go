package secrets_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/secrets"
)

const dbValue = "mongodb+srv://app:P4ssw0rd-do-not-log@cluster0.example.net/vault"

func TestValueFreshCacheMakesNoCall(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("db", dbValue)

	for i, advance := range []time.Duration{0, time.Minute, testTTL - time.Minute - time.Nanosecond} {
		e.clock.Advance(advance)
		got, err := e.cache.Value(ctxT(t), "db", "")
		if err != nil || got != dbValue {
			t.Fatalf("read %d: Value = %q, %v", i, got, err)
		}
		if c := e.srv.Calls(); c != 1 {
			t.Fatalf("read %d: Calls() = %d, want 1 (fresh values need no call)", i, c)
		}
	}
}

func TestValueStaleRefreshesInBackground(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("db", "v1")
	if got, err := e.cache.Value(ctxT(t), "db", secrets.StageCurrent); err != nil || got != "v1" {
		t.Fatalf("Value = %q, %v", got, err)
	}

	e.srv.Put("db", "v2")
	e.clock.Advance(testTTL)
	e.srv.Hold() // the refresh cannot complete: the stale read must not wait for it
	if got, err := e.cache.Value(ctxT(t), "db", ""); err != nil || got != "v1" {
		t.Fatalf("stale Value = %q, %v; want the cached v1 at once", got, err)
	}
	eventually(t, "the background refresh to reach the endpoint", func() bool { return e.srv.Attempts() == 2 })
	for range 5 { // single-flight: more stale reads start no more refreshes
		if got, _ := e.cache.Value(ctxT(t), "db", ""); got != "v1" {
			t.Fatalf("stale Value = %q while refreshing, want v1", got)
		}
	}
	e.srv.Release()

	eventually(t, "the refreshed value", func() bool {
		got, err := e.cache.Value(ctxT(t), "db", "")
		return err == nil && got == "v2"
	})
	if c := e.srv.Calls(); c != 2 {
		t.Errorf("Calls() = %d, want 2 (one fetch, one refresh)", c)
	}
}

func TestValueSingleFlightOnColdCache(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("db", dbValue)
	e.srv.Hold()

	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			got, err := e.cache.Value(ctxT(t), "db", "")
			if err == nil && got != dbValue {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	eventually(t, "the first fetch to reach the endpoint", func() bool { return e.srv.Attempts() >= 1 })
	time.Sleep(50 * time.Millisecond) // let the other callers pile up behind it
	e.srv.Release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := e.srv.Calls(); c != 1 {
		t.Errorf("Calls() = %d for %d concurrent cold reads, want 1", c, callers)
	}
}

func TestValueHonoursCallerDeadline(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("db", dbValue)
	e.srv.Hold()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.cache.Value(ctx, "db", "")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Value blocked %v past a 50ms deadline", elapsed)
	}
	if !errors.Is(err, secrets.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}

	// The abandoned fetch still completes and fills the cache.
	e.srv.Release()
	if got, err := e.cache.Value(ctxT(t), "db", ""); err != nil || got != dbValue {
		t.Fatalf("Value after release = %q, %v", got, err)
	}
	if c := e.srv.Calls(); c != 1 {
		t.Errorf("Calls() = %d, want 1", c)
	}
}

func TestValueFetchFailuresWrapErrUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		stage string
	}{
		{name: "network down", setup: func(e *env) { e.srv.SetDown(true) }},
		{name: "access denied", setup: func(e *env) { e.srv.SetFailure("AccessDeniedException", 400) }},
		{name: "throttled", setup: func(e *env) { e.srv.SetFailure("ThrottlingException", 400) }},
		{name: "server error", setup: func(e *env) { e.srv.SetFailure("InternalServiceError", 500) }},
		{name: "unknown stage", setup: func(*env) {}, stage: "AWSPENDING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.Put("db", dbValue)
			tt.setup(e)
			_, err := e.cache.Value(ctxT(t), "db", tt.stage)
			if !errors.Is(err, secrets.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			assertNoLeak(t, "error", err.Error(), dbValue)
			assertNoLeak(t, "log", e.logs.String(), dbValue)
		})
	}

	t.Run("missing secret", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.cache.Value(ctxT(t), "nope", "")
		if !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("err = %v, want ErrUnavailable naming the secret", err)
		}
	})
}

func TestValueColdStartEndpointDown(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("db", dbValue)
	e.srv.SetDown(true)

	_, err := e.cache.Value(ctxT(t), "db", "")
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	assertNoLeak(t, "error", err.Error(), dbValue)
	attempts := e.srv.Attempts()
	if attempts == 0 {
		t.Fatal("no request reached the endpoint")
	}

	// Within RetryAfterFailure the failure is answered from memory, even once
	// the endpoint is back: a dead endpoint is not hammered by every request.
	for _, step := range []time.Duration{0, testRetry / 2, testRetry/2 - time.Nanosecond} {
		e.clock.Advance(step)
		if step > 0 {
			e.srv.SetDown(false)
		}
		if _, err := e.cache.Value(ctxT(t), "db", ""); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("during backoff: err = %v, want the cached failure", err)
		}
		if got := e.srv.Attempts(); got != attempts {
			t.Fatalf("during backoff: Attempts() = %d, want %d (no retry)", got, attempts)
		}
	}

	// After the backoff the same Cache recovers.
	e.clock.Advance(time.Nanosecond)
	if got, err := e.cache.Value(ctxT(t), "db", ""); err != nil || got != dbValue {
		t.Fatalf("after recovery: Value = %q, %v", got, err)
	}
	eventually(t, "the recovery log", func() bool { return strings.Contains(e.logs.String(), "fetch recovered") })
	assertNoLeak(t, "log", e.logs.String(), dbValue)
}

func TestValueWarmRefreshEndpointDown(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("db", dbValue)
	if _, err := e.cache.Value(ctxT(t), "db", ""); err != nil {
		t.Fatal(err)
	}

	e.srv.SetDown(true)
	e.clock.Advance(testTTL)
	if got, err := e.cache.Value(ctxT(t), "db", ""); err != nil || got != dbValue {
		t.Fatalf("stale Value = %q, %v", got, err)
	}
	eventually(t, "the refresh warning", func() bool {
		return strings.Contains(e.logs.String(), "level=WARN msg=\"secrets: refresh failed; serving cached value\"")
	})
	logs := e.logs.String()
	assertNoLeak(t, "log", logs, dbValue)
	if !strings.Contains(logs, "secret_id=db") {
		t.Errorf("warning does not name the secret: %s", logs)
	}

	// Stale-while-error: the cached value keeps working, and no new fetch is
	// made within RetryAfterFailure.
	attempts := e.srv.Attempts()
	for range 3 {
		if got, err := e.cache.Value(ctxT(t), "db", ""); err != nil || got != dbValue {
			t.Fatalf("Value while down = %q, %v", got, err)
		}
	}
	if got := e.srv.Attempts(); got != attempts {
		t.Errorf("Attempts() = %d, want %d during backoff", got, attempts)
	}

	// Endpoint back (with a rotated value): the next refresh picks it up.
	const rotated = "mongodb://app:N3w-P4ss@db.example.net/vault"
	e.srv.SetDown(false)
	e.srv.Put("db", rotated)
	e.clock.Advance(testRetry)
	eventually(t, "the rotated value", func() bool {
		got, err := e.cache.Value(ctxT(t), "db", "")
		return err == nil && got == rotated
	})
	assertNoLeak(t, "log", e.logs.String(), dbValue, rotated)
}
