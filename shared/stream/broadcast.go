package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// Broadcast limits.
const (
	// DefaultConcurrency bounds the posts in flight. At the management API's round trip in the
	// same region (about 10-30 ms) 64 workers post 2,000-6,000 messages a second, and 64
	// connections to one host is a small pool.
	DefaultConcurrency = 64
	// DefaultBroadcastTimeout bounds one broadcast: the prices function has a 50 s timeout and a
	// 1 minute schedule, and the refresh itself takes a few seconds.
	DefaultBroadcastTimeout = 25 * time.Second
	// maxLoggedFailures caps the warnings one broadcast logs; the rest are counted.
	maxLoggedFailures = 5
	// ConnectGrace is how long after its $connect a connection answering 410 is kept: $connect
	// stores the document before API Gateway completes the handshake (which waits for $connect,
	// up to the integration's 10 s timeout), and until then every post is refused with 410.
	// Deleting it then would leave an open connection that never gets an update. A client that
	// really left is deleted by its $disconnect, or by the first broadcast after the grace.
	ConnectGrace = 30 * time.Second
)

// BroadcastOptions configures a Broadcaster. Zero fields take defaults.
type BroadcastOptions struct {
	Concurrency int           // default DefaultConcurrency
	Timeout     time.Duration // default DefaultBroadcastTimeout
	Logger      *slog.Logger  // default: discard
	Metrics     *obs.Metrics  // nil: no metrics
	Now         func() time.Time
}

// Broadcaster sends price_update to every live connection. It is safe for concurrent use.
type Broadcaster struct {
	conns       *Connections
	endpoints   Endpoints
	concurrency int
	timeout     time.Duration
	log         *slog.Logger
	metrics     *obs.Metrics
	now         func() time.Time
}

// NewBroadcaster returns a Broadcaster over conns, posting through endpoints. It does no I/O.
func NewBroadcaster(conns *Connections, endpoints Endpoints, o BroadcastOptions) *Broadcaster {
	b := &Broadcaster{conns: conns, endpoints: endpoints, concurrency: o.Concurrency, timeout: o.Timeout, log: o.Logger, metrics: o.Metrics, now: o.Now}
	if b.concurrency <= 0 {
		b.concurrency = DefaultConcurrency
	}
	if b.timeout <= 0 {
		b.timeout = DefaultBroadcastTimeout
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// BroadcastResult counts one broadcast's connections.
type BroadcastResult struct {
	// Sent got the message; Gone answered 410 and were deleted; Connecting answered 410 within
	// ConnectGrace of their $connect and were kept; Failed got an error (throttled twice,
	// unreachable endpoint, deadline); Filtered were skipped because none of their coins had a
	// price. Expired connections are not read at all.
	Sent, Gone, Connecting, Failed, Filtered int
	Duration                                 time.Duration
}

// Broadcast sends price_update for prices to every connection that has not expired, each with the
// coins it subscribed to. Post failures are counted, not returned: one bad connection must not
// fail the prices run. The error is for what stops the broadcast itself: the connections cannot
// be read, or the deadline passed before every connection was tried.
func (b *Broadcaster) Broadcast(ctx context.Context, prices []market.Price) (BroadcastResult, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	now := b.now()
	msgs := &messageCache{prices: prices, at: pricesTime(prices, now), byKey: map[string]cachedMessage{}}

	var (
		mu     sync.Mutex
		res    BroadcastResult
		gone   []string
		logged int
	)
	count := func(conn Connection, err error, filtered bool) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case filtered:
			res.Filtered++
		case err == nil:
			res.Sent++
		case errors.Is(err, ErrGone) && now.Sub(conn.ConnectedAt) < ConnectGrace:
			res.Connecting++
		case errors.Is(err, ErrGone):
			res.Gone++
			gone = append(gone, conn.ID)
		default:
			res.Failed++
			if logged < maxLoggedFailures && ctx.Err() == nil {
				logged++
				b.log.WarnContext(ctx, "stream: price update not delivered", "connection_id", conn.ID, "error", err.Error())
			}
		}
	}

	jobs := make(chan Connection, b.concurrency)
	var workers sync.WaitGroup
	for range b.concurrency {
		workers.Go(func() {
			for conn := range jobs {
				msg, ok, err := msgs.get(conn.Symbols)
				if err == nil && ok {
					err = b.post(ctx, conn, msg)
				}
				count(conn, err, err == nil && !ok)
			}
		})
	}
	scanErr := b.conns.Live(ctx, now, func(conn Connection) bool {
		select {
		case jobs <- conn:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(jobs)
	workers.Wait()

	var errs []error
	if scanErr != nil {
		errs = append(errs, scanErr)
	} else if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("stream: broadcast stopped after %s: %w", b.timeout, ctx.Err()))
	}
	if len(gone) > 0 {
		// A fresh deadline: the deletes are worth doing even when the posts ran out of time.
		delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := b.conns.RemoveMany(delCtx, gone); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	res.Duration = time.Since(start)
	b.report(ctx, res, errors.Join(errs...))
	return res, errors.Join(errs...)
}

func (b *Broadcaster) post(ctx context.Context, conn Connection, msg []byte) error {
	poster, err := b.endpoints.Poster(conn.Endpoint)
	if err != nil {
		return err
	}
	return poster.PostToConnection(ctx, conn.ID, msg)
}

func (b *Broadcaster) report(ctx context.Context, res BroadcastResult, err error) {
	attrs := []any{"sent", res.Sent, "gone", res.Gone, "connecting", res.Connecting, "failed", res.Failed, "filtered", res.Filtered,
		"duration_ms", res.Duration.Milliseconds()}
	if n := res.Sent + res.Gone + res.Connecting + res.Failed; n > 0 {
		// The figure that says how many connections fit in the schedule period.
		attrs = append(attrs, "per_connection_us", res.Duration.Microseconds()/int64(n))
	}
	if err != nil {
		b.log.ErrorContext(ctx, "stream: broadcast incomplete", append(attrs, "error", err.Error())...)
	} else {
		b.log.InfoContext(ctx, "stream: price update broadcast", attrs...)
	}
	if b.metrics != nil {
		if err := b.metrics.Emit(
			obs.Metric{Name: "StreamMessagesSent", Unit: obs.Count, Value: float64(res.Sent)},
			obs.Metric{Name: "StreamConnectionsGone", Unit: obs.Count, Value: float64(res.Gone)},
			obs.Metric{Name: "StreamPostFailures", Unit: obs.Count, Value: float64(res.Failed)},
			obs.Metric{Name: "StreamBroadcastDuration", Unit: obs.Milliseconds, Value: float64(res.Duration.Milliseconds())},
		); err != nil {
			b.log.ErrorContext(ctx, "stream: metrics not written", "error", err.Error())
		}
	}
}

// messageCache encodes price_update once per distinct subscription: with 10 coins there are few
// in practice (and at most 1,023), against thousands of connections.
type messageCache struct {
	prices []market.Price
	at     time.Time

	mu    sync.Mutex
	byKey map[string]cachedMessage
}

type cachedMessage struct {
	msg []byte
	ok  bool
}

func (c *messageCache) get(symbols []string) ([]byte, bool, error) {
	key := strings.Join(symbols, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, hit := c.byKey[key]; hit {
		return m.msg, m.ok, nil
	}
	msg, ok, err := encodePrices(TypePriceUpdate, c.prices, symbols, c.at)
	if err != nil {
		return nil, false, err
	}
	c.byKey[key] = cachedMessage{msg: msg, ok: ok}
	return msg, ok, nil
}
