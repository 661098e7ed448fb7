package secrets

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Staging labels that Secrets Manager moves during rotation.
const (
	// StageCurrent labels the version in use: the one to sign with.
	StageCurrent = "AWSCURRENT"
	// StagePrevious labels the version that was current before the last
	// rotation: still accepted for verification.
	StagePrevious = "AWSPREVIOUS"
)

// Cache defaults.
const (
	// DefaultTTL bounds how long a rotation takes to be picked up while
	// keeping Secrets Manager traffic (and cost) negligible.
	DefaultTTL = 5 * time.Minute
	// DefaultRetryAfterFailure is the minimum pause between two fetches of
	// the same secret after a failure, so a dead endpoint is not hammered by
	// every request while still recovering quickly.
	DefaultRetryAfterFailure = time.Second
	// DefaultFetchTimeout bounds one fetch (all SDK attempts included). A
	// fetch runs detached from the caller that triggered it, so it needs its
	// own limit.
	DefaultFetchTimeout = 5 * time.Second
)

// CacheOptions configures a [Cache]. The zero value gives the defaults.
type CacheOptions struct {
	// TTL is how long a value is served without a refresh (default
	// DefaultTTL). After it, the value is still served while one background
	// refresh runs.
	TTL time.Duration
	// RetryAfterFailure is the minimum time between a failed fetch and the
	// next attempt for the same secret (default DefaultRetryAfterFailure).
	RetryAfterFailure time.Duration
	// FetchTimeout bounds a single fetch (default DefaultFetchTimeout). It is
	// an addition to the original API: fetches are shared between callers and
	// outlive the request that started them, so no caller's deadline applies.
	FetchTimeout time.Duration
	// Logger receives refresh warnings; nil discards them. Values are never
	// logged.
	Logger *slog.Logger
	// Now replaces time.Now, so tests can move time without sleeping.
	Now func() time.Time
}

// Cache keeps secret values in memory for the life of a Lambda instance.
//
// Reads never wait on Secrets Manager once a value is cached: fresh values
// are returned as is, stale ones are returned at once while a single
// background refresh runs, and a failed refresh keeps the old value. Only the
// first read of a secret waits, and concurrent first reads share one fetch.
// A Cache is safe for concurrent use.
type Cache struct {
	api          API
	ttl          time.Duration
	retryAfter   time.Duration
	fetchTimeout time.Duration
	log          *slog.Logger
	now          func() time.Time

	mu      sync.Mutex
	entries map[entryKey]*entry
}

// entryKey identifies a cached item: a single version of a secret, or a
// derived item such as a key ring's parsed key set.
type entryKey struct {
	kind     entryKind
	secretID string
	stage    string
}

type entryKind uint8

const (
	kindValue entryKind = iota
	kindKeySet
)

// entry is the state of one cached item.
type entry struct {
	val       any
	ok        bool      // val holds a successfully fetched value
	fetchedAt time.Time // when val was fetched
	err       error     // last fetch failure; nil after a success
	failedAt  time.Time
	flight    *flight // fetch in progress, shared by all waiters
}

// flight is one in-progress fetch; done is closed once val/err are set.
type flight struct {
	done chan struct{}
	val  any
	err  error
}

// NewCache returns a Cache reading through api. It does no I/O: the first
// read of each secret fetches it. api must not be nil.
func NewCache(api API, opts CacheOptions) *Cache {
	if api == nil {
		panic("secrets: NewCache called with a nil API")
	}
	c := &Cache{
		api:          api,
		ttl:          opts.TTL,
		retryAfter:   opts.RetryAfterFailure,
		fetchTimeout: opts.FetchTimeout,
		log:          opts.Logger,
		now:          opts.Now,
		entries:      make(map[entryKey]*entry),
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.retryAfter <= 0 {
		c.retryAfter = DefaultRetryAfterFailure
	}
	if c.fetchTimeout <= 0 {
		c.fetchTimeout = DefaultFetchTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Value returns the SecretString of secretID at versionStage ("" means
// AWSCURRENT).
//
// A fresh cached value is returned without any call. A stale cached value is
// returned at once and one background refresh is started (single-flight). With
// no cached value the secret is fetched synchronously, one fetch shared by all
// concurrent callers; the wait is bounded by ctx, and a fetch abandoned by its
// caller still completes and fills the cache for the next one. Within
// RetryAfterFailure of a failed fetch, the failure is returned without a new
// call. Every error wraps [ErrUnavailable] and never contains the value.
func (c *Cache) Value(ctx context.Context, secretID, versionStage string) (string, error) {
	if secretID == "" {
		return "", errors.New("secrets: empty secret id")
	}
	if versionStage == "" {
		versionStage = StageCurrent
	}
	v, err := c.get(ctx, entryKey{kind: kindValue, secretID: secretID, stage: versionStage},
		func(ctx context.Context) (any, error) { return c.fetchString(ctx, secretID, versionStage) })
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// get implements the caching policy for any item; fetch produces the item.
func (c *Cache) get(ctx context.Context, k entryKey, fetch func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	e := c.entries[k]
	if e == nil {
		e = &entry{}
		c.entries[k] = e
	}
	now := c.now()

	if e.ok {
		if now.Sub(e.fetchedAt) >= c.ttl && e.flight == nil && !c.backingOff(e, now) {
			c.startLocked(ctx, k, e, fetch)
		}
		v := e.val
		c.mu.Unlock()
		return v, nil
	}

	f := e.flight
	if f == nil {
		if c.backingOff(e, now) {
			err := e.err
			c.mu.Unlock()
			return nil, err
		}
		f = c.startLocked(ctx, k, e, fetch)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return nil, &fetchError{
			secretID: k.secretID, stage: stageLabel(k),
			reason: "gave up waiting for Secrets Manager: " + ctx.Err().Error(),
			cause:  ctx.Err(),
		}
	}
}

// backingOff reports whether the last fetch failed too recently to try again.
func (c *Cache) backingOff(e *entry, now time.Time) bool {
	return e.err != nil && now.Sub(e.failedAt) < c.retryAfter
}

// startLocked starts a fetch for e in the background. The fetch is detached
// from ctx's cancellation (other callers may be waiting on it, and a refresh
// must outlive the request that triggered it) but keeps its values (tracing),
// and is bounded by fetchTimeout. c.mu must be held.
func (c *Cache) startLocked(ctx context.Context, k entryKey, e *entry, fetch func(context.Context) (any, error)) *flight {
	f := &flight{done: make(chan struct{})}
	e.flight = f
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout)
	go func() {
		defer cancel()
		v, err := fetch(fctx)

		c.mu.Lock()
		now := c.now()
		e.flight = nil
		hadValue, wasFailing, age := e.ok, e.err != nil, now.Sub(e.fetchedAt)
		if err == nil {
			e.val, e.ok, e.fetchedAt, e.err = v, true, now, nil
		} else {
			e.err, e.failedAt = err, now
		}
		c.mu.Unlock()

		f.val, f.err = v, err
		close(f.done)

		attrs := []any{slog.String("secret_id", k.secretID), slog.String("version_stage", stageLabel(k))}
		switch {
		case err != nil && hadValue:
			c.log.Warn("secrets: refresh failed; serving cached value",
				append(attrs, slog.Duration("cached_age", age), slog.String("error", err.Error()))...)
		case err != nil:
			c.log.Warn("secrets: fetch failed; no cached value",
				append(attrs, slog.String("error", err.Error()))...)
		case wasFailing:
			c.log.Info("secrets: fetch recovered", attrs...)
		}
	}()
	return f
}

// fetchString reads one version's SecretString.
func (c *Cache) fetchString(ctx context.Context, secretID, stage string) (string, error) {
	out, err := c.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(secretID),
		VersionStage: aws.String(stage),
	})
	if err != nil {
		return "", newFetchError(secretID, stage, err)
	}
	if out.SecretString == nil {
		return "", &fetchError{secretID: secretID, stage: stage,
			reason: "secret has no SecretString (binary secrets are not supported)", cause: ErrInvalidSecret}
	}
	return *out.SecretString, nil
}

// stageLabel names the stage(s) an entry covers, for logs and errors.
func stageLabel(k entryKey) string {
	if k.kind == kindKeySet {
		return StageCurrent + "+" + StagePrevious
	}
	return k.stage
}
