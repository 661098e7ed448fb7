package secrets_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
)

const (
	testTTL   = 5 * time.Minute
	testRetry = time.Second
)

func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
}

// env is a fake endpoint, a real SDK client for it, and a cache over it.
type env struct {
	srv   *smfake.Server
	clock *fakeclock.Clock
	logs  *logbuf.Buffer
	cache *secrets.Cache
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := smfake.Start(t)
	e := &env{srv: srv, clock: newClock(), logs: &logbuf.Buffer{}}
	e.cache = secrets.NewCache(srv.Client(t), secrets.CacheOptions{
		TTL:               testTTL,
		RetryAfterFailure: testRetry,
		Logger:            slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:               e.clock.Now,
	})
	return e
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond; background refreshes finish on real time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// keyJSON builds a signing key secret as stored in Secrets Manager.
func keyJSON(t *testing.T, kid, secret string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"kid": kid, "secret": secret})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNoLeak fails if any of the secret strings appears in text.
func assertNoLeak(t *testing.T, where, text string, secretValues ...string) {
	t.Helper()
	for _, s := range secretValues {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s leaks a secret value: %q", where, text)
		}
	}
}
