package stream_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/wsfake"
)

// managementAPI is the real client pointed at the fake.
func managementAPI(fake *wsfake.Server, maxConns int) *stream.ManagementAPI {
	return stream.NewManagementAPI(func(context.Context) (aws.Config, error) { return fake.Config(), nil }, maxConns)
}

func connection(id, endpoint string, connectedAt time.Time, symbols ...string) stream.Connection {
	return stream.Connection{ID: id, ConnectedAt: connectedAt, ExpiresAt: connectedAt.Add(stream.MaxConnectionAge), Endpoint: endpoint, Symbols: symbols}
}

// TestBroadcast is the acceptance test of the broadcast: through the management API, live
// connections get price_update (narrowed to their subscription), a connection answering 410
// Gone is deleted (unless its handshake may still be completing), an expired one is skipped and
// kept for the TTL, and ids that need escaping in the URL path still sign correctly.
func TestBroadcast(t *testing.T) {
	e := newEnv(t, nil)
	fake := wsfake.Start(t)
	now := refreshedAt.Add(time.Minute)
	ep := fake.Endpoint()
	e.add(t, connection("all+/=", ep, now.Add(-time.Hour)))
	e.add(t, connection("btc-only", ep, now.Add(-time.Minute), "BTC"))
	e.add(t, connection("btc-eth", ep, now, "BTC", "ETH"))
	e.add(t, connection("gone", ep, now.Add(-stream.ConnectGrace)))
	e.add(t, connection("connecting", ep, now.Add(-stream.ConnectGrace+time.Second)))
	e.add(t, connection("expired", ep, now.Add(-stream.MaxConnectionAge-time.Second)))
	// "gone" and "connecting" are not live at the endpoint: one left, the other's handshake is
	// not complete yet.
	fake.Connect("all+/=", "btc-only", "btc-eth", "expired")

	b := stream.NewBroadcaster(e.conns, managementAPI(fake, 4), stream.BroadcastOptions{Now: func() time.Time { return now }, Logger: e.Deps.Logger})
	res, err := b.Broadcast(testCtx(t), testPrices())
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	if res.Sent != 3 || res.Gone != 1 || res.Connecting != 1 || res.Failed != 0 || res.Filtered != 0 {
		t.Errorf("result %+v, want 3 sent, 1 gone, 1 connecting", res)
	}
	tests := []struct {
		id      string
		symbols []string // nil: no message
	}{
		{"all+/=", []string{"BTC", "ETH", "USDT", "BNB", "SOL", "XRP", "USDC", "ADA", "DOGE", "TRX"}},
		{"btc-only", []string{"BTC"}},
		{"btc-eth", []string{"BTC", "ETH"}},
		{"expired", nil},
	}
	for _, tt := range tests {
		msgs := fake.Messages(tt.id)
		if tt.symbols == nil {
			if len(msgs) != 0 {
				t.Errorf("%s got %d messages, want none", tt.id, len(msgs))
			}
			continue
		}
		if len(msgs) != 1 {
			t.Fatalf("%s got %d messages, want 1", tt.id, len(msgs))
		}
		m := decodePrices(t, msgs[0])
		if m.Type != "price_update" || m.Timestamp != "2026-11-28T09:15:00Z" || !reflect.DeepEqual(m.symbols(), tt.symbols) {
			t.Errorf("%s got %s %s %v, want price_update 2026-11-28T09:15:00Z %v", tt.id, m.Type, m.Timestamp, m.symbols(), tt.symbols)
		}
	}
	// data[] is GET /api/crypto's: the frontend's names and display strings.
	first := decodePrices(t, fake.Messages("btc-only")[0]).Data[0]
	want := map[string]any{"symbol": "BTC", "name": "Bitcoin", "price": 1234.56789012, "change24h": -0.45, "marketCap": "$10.00B", "volume24h": "$1.00B"}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("data[0] = %v, want %v", first, want)
	}
	if _, ok := e.doc(t, "gone"); ok {
		t.Error("the gone connection's document was kept")
	}
	for _, id := range []string{"all+/=", "btc-only", "expired", "connecting"} {
		if _, ok := e.doc(t, id); !ok {
			t.Errorf("%s's document was deleted", id)
		}
	}
}

// TestBroadcastFailures: throttling and server errors are tried once more; an answer that is no
// 410 keeps the connection; an unreachable or foreign endpoint fails only its own connections.
func TestBroadcastFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(fake *wsfake.Server)
		endpoint   func(fake *wsfake.Server) string
		wantSent   int
		wantFailed int
		requests   int // requests the fake saw, retries included
	}{
		{"throttled once, then delivered", func(f *wsfake.Server) { f.SetFailure(http.StatusTooManyRequests, "LimitExceededException", 1) },
			(*wsfake.Server).Endpoint, 1, 0, 2},
		{"server error twice: failed after two attempts", func(f *wsfake.Server) {
			f.SetFailure(http.StatusInternalServerError, "InternalServerErrorException", -1)
		},
			(*wsfake.Server).Endpoint, 0, 1, 2},
		{"forbidden: not retried", func(f *wsfake.Server) { f.SetFailure(http.StatusForbidden, "ForbiddenException", -1) },
			(*wsfake.Server).Endpoint, 0, 1, 1},
		{"endpoint unreachable", func(*wsfake.Server) {}, func(*wsfake.Server) string { return "http://127.0.0.1:1/dev" }, 0, 1, 0},
		{"not a URL", func(*wsfake.Server) {}, func(*wsfake.Server) string { return "ftp://example/dev" }, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			fake := wsfake.Start(t)
			e.add(t, connection("c1", tt.endpoint(fake), refreshedAt))
			fake.Connect("c1")
			tt.setup(fake)
			b := stream.NewBroadcaster(e.conns, managementAPI(fake, 2), stream.BroadcastOptions{Now: func() time.Time { return refreshedAt }, Logger: e.Deps.Logger})
			res, err := b.Broadcast(testCtx(t), testPrices())
			if err != nil {
				t.Fatalf("Broadcast: %v (post failures are counted, not returned)", err)
			}
			if res.Sent != tt.wantSent || res.Failed != tt.wantFailed || res.Gone != 0 {
				t.Errorf("result %+v, want %d sent, %d failed", res, tt.wantSent, tt.wantFailed)
			}
			if got := fake.Requests(); got != tt.requests {
				t.Errorf("fake saw %d requests, want %d", got, tt.requests)
			}
			if _, ok := e.doc(t, "c1"); !ok {
				t.Error("a failed connection was deleted (only 410 deletes)")
			}
			if tt.wantFailed > 0 && !strings.Contains(e.Logs.String(), "price update not delivered") {
				t.Error("no warning for the failed post")
			}
		})
	}
}

// TestBroadcastBounds: at most Concurrency posts are in flight, and a broadcast that cannot finish
// within its Timeout stops and says so instead of running into the prices function's timeout.
func TestBroadcastBounds(t *testing.T) {
	tests := []struct {
		name        string
		conns       int
		concurrency int
		latency     time.Duration
		timeout     time.Duration
		wantErr     bool
	}{
		{"bounded concurrency", 24, 4, 40 * time.Millisecond, 10 * time.Second, false},
		{"deadline", 40, 2, 100 * time.Millisecond, 300 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			fake := wsfake.Start(t)
			fake.SetLatency(tt.latency)
			for i := range tt.conns {
				id := fmt.Sprintf("c%03d", i)
				e.add(t, connection(id, fake.Endpoint(), refreshedAt))
				fake.Connect(id)
			}
			b := stream.NewBroadcaster(e.conns, managementAPI(fake, tt.concurrency), stream.BroadcastOptions{
				Concurrency: tt.concurrency, Timeout: tt.timeout, Now: func() time.Time { return refreshedAt }, Logger: e.Deps.Logger,
			})
			start := time.Now()
			res, err := b.Broadcast(testCtx(t), testPrices())
			took := time.Since(start)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Broadcast: err %v, want error %v", err, tt.wantErr)
			}
			if got := fake.MaxInFlight(); got > tt.concurrency {
				t.Errorf("%d posts in flight, bound %d", got, tt.concurrency)
			}
			if tt.wantErr {
				if res.Sent >= tt.conns || took > tt.timeout+time.Second {
					t.Errorf("deadline: %+v after %v", res, took)
				}
				return
			}
			if res.Sent != tt.conns || fake.MaxInFlight() != tt.concurrency {
				t.Errorf("result %+v, %d in flight; want all %d sent with %d in flight", res, fake.MaxInFlight(), tt.conns, tt.concurrency)
			}
		})
	}
}

// TestBroadcastSkipsConnectionsWithoutPrices: a subscription none of whose coins has a price gets
// nothing (an empty update would be noise), and is not an error.
func TestBroadcastSkipsConnectionsWithoutPrices(t *testing.T) {
	e := newEnv(t, nil)
	fake := wsfake.Start(t)
	e.add(t, connection("doge", fake.Endpoint(), refreshedAt, "DOGE"))
	fake.Connect("doge")
	b := stream.NewBroadcaster(e.conns, managementAPI(fake, 2), stream.BroadcastOptions{Now: func() time.Time { return refreshedAt }})
	res, err := b.Broadcast(testCtx(t), testPrices()[:2]) // BTC and ETH only
	if err != nil || res.Filtered != 1 || res.Sent != 0 || fake.Requests() != 0 {
		t.Errorf("result %+v, err %v, %d requests; want 1 filtered, no request", res, err, fake.Requests())
	}
}
