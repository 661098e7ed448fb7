// Package mongodb owns the warm MongoDB client: one per Lambda instance (or per local server),
// created at init with pool settings sized for Lambda, recreated lazily with backoff when init
// could not create it, and classified errors so an unreachable database is a 503, never a 500.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// DefaultMaxPoolSize is the pool size of a client whose Options leave MaxPoolSize zero, as every
// function's does: a Lambda instance serves one request at a time, and its commands that run in
// parallel (a page beside its count, a fill's inserts) are few, so 5 connections serve it; 1,000
// instances × a server-sized pool would exhaust an Atlas tier's connection limit. The README's
// connection arithmetic and the template test of reserved concurrency are computed from it.
const DefaultMaxPoolSize = 5

// MonitoringConnsPerServer is the most connections the driver holds to each cluster member
// besides the pool: its heartbeat connection, and a round-trip-time connection when it streams
// server state (it polls, with the heartbeat connection alone, when it detects Lambda). Capacity
// plans count the larger figure.
const MonitoringConnsPerServer = 2

// Options configures the warm client. Zero values take the Lambda defaults.
type Options struct {
	// URI resolves the connection string: a constant, or a Secrets Manager read. It is called
	// again on every (backed-off) attempt until a client exists, so a secret that was unavailable
	// at cold start is picked up once it is back.
	URI      func(ctx context.Context) (string, error)
	Database string
	AppName  string
	Logger   *slog.Logger
	// Monitor, when set, sees every command (tests and benchmarks count round trips with it).
	Monitor *event.CommandMonitor
	// PoolMonitor, when set, sees the pool's events (connections created, checked out, closed):
	// the benchmarks measure connections per instance with it.
	PoolMonitor *event.PoolMonitor

	// MaxPoolSize defaults to DefaultMaxPoolSize.
	MaxPoolSize uint64
	// ServerSelectionTimeout defaults to 3s: long enough for a primary election, short enough
	// that a request against a dead cluster gets its 503 well inside the function timeout.
	ServerSelectionTimeout time.Duration
	// OperationTimeout (the driver's client-side operation timeout) defaults to 5s, below the
	// functions' 10s timeout, so a hung socket cannot eat the invocation.
	OperationTimeout time.Duration
}

// Client is the warm client. Its methods are safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	client   *mongo.Client
	db       *mongo.Database
	lastErr  error
	failures int
	retryAt  time.Time

	now    func() time.Time
	jitter func(time.Duration) time.Duration
}

// New returns a client that has not connected yet; it does no I/O.
func New(opts Options) *Client {
	if opts.MaxPoolSize == 0 {
		opts.MaxPoolSize = DefaultMaxPoolSize
	}
	if opts.ServerSelectionTimeout == 0 {
		opts.ServerSelectionTimeout = 3 * time.Second
	}
	if opts.OperationTimeout == 0 {
		opts.OperationTimeout = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{opts: opts, log: log, now: time.Now, jitter: fullJitter}
}

// Options returns the settings in effect, defaults applied: enough to build a like client (the
// benchmarks rebuild a function's client with a pool monitor added) or to report them.
func (c *Client) Options() Options {
	return c.opts
}

// Connect creates the driver client and pings it once, bounded by ctx. It is called at init. A
// failure is returned for logging but is not fatal: the function keeps starting, requests get 503
// DATABASE_UNAVAILABLE, and the driver (or Database, if no client could be created) reconnects.
func (c *Client) Connect(ctx context.Context) error {
	if _, err := c.Database(ctx); err != nil {
		return err
	}
	if _, err := c.Ping(ctx); err != nil {
		return err
	}
	return nil
}

// Database returns the database handle. Before a client exists it tries to create one, at most
// once per backoff period (exponential with jitter, capped), and without waiting: a request that
// arrives during the backoff gets ErrUnavailable at once instead of waiting past its deadline.
func (c *Client) Database(ctx context.Context) (*mongo.Database, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != nil {
		return c.db, nil
	}
	if now := c.now(); now.Before(c.retryAt) {
		return nil, &unavailableError{cause: c.lastErr}
	}
	client, err := c.create(ctx)
	if err != nil {
		c.failures++
		c.lastErr = err
		c.retryAt = c.now().Add(c.jitter(backoff(c.failures)))
		c.log.WarnContext(ctx, "mongodb client not created", "attempt", c.failures, "error", err.Error())
		return nil, &unavailableError{cause: err}
	}
	c.client, c.db, c.failures, c.lastErr = client, client.Database(c.opts.Database), 0, nil
	return c.db, nil
}

func (c *Client) create(ctx context.Context) (*mongo.Client, error) {
	uri, err := c.opts.URI(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve connection string: %w", err)
	}
	o := options.Client().ApplyURI(uri).
		SetAppName(c.opts.AppName).
		SetMaxPoolSize(c.opts.MaxPoolSize).
		SetMinPoolSize(0). // idle instances hold no connections
		SetMaxConnIdleTime(60 * time.Second).
		SetServerSelectionTimeout(c.opts.ServerSelectionTimeout).
		SetTimeout(c.opts.OperationTimeout).
		SetRetryWrites(true).
		SetRetryReads(true)
	if c.opts.Monitor != nil {
		o.SetMonitor(c.opts.Monitor)
	}
	if c.opts.PoolMonitor != nil {
		o.SetPoolMonitor(c.opts.PoolMonitor)
	}
	client, err := mongo.Connect(o)
	if err != nil {
		// The driver's option errors may quote the URI: keep only a fixed description.
		return nil, errors.New("invalid connection string or client options")
	}
	return client, nil
}

// Ping measures one round trip to the primary.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	if _, err := c.Database(ctx); err != nil {
		return 0, err
	}
	c.mu.Lock()
	client := c.client
	c.mu.Unlock()
	start := c.now()
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		return 0, fmt.Errorf("ping: %w", err)
	}
	return c.now().Sub(start), nil
}

// Disconnect closes the pool. It is called from the SIGTERM hook and by the local server on
// shutdown; calling it on a client that never connected is fine.
func (c *Client) Disconnect(ctx context.Context) error {
	c.mu.Lock()
	client := c.client
	c.client, c.db = nil, nil
	c.mu.Unlock()
	if client == nil {
		return nil
	}
	if err := client.Disconnect(ctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongodb disconnect: %w", err)
	}
	return nil
}

// backoff is the wait after the n-th consecutive failure: 200ms doubling, capped at 10s.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond
	for i := 1; i < n && d < 10*time.Second; i++ {
		d *= 2
	}
	return min(d, 10*time.Second)
}

// fullJitter spreads retries of many instances over [d/2, d] so a recovering cluster is not hit by
// every cold instance at the same instant.
func fullJitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(half+1)
}
