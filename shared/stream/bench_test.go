//go:build unix

package stream_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/wsfake"
)

// BenchmarkBroadcast measures one price_update broadcast to N live connections through the real
// client against the local management endpoint, N documents read from the embedded database. With
// no latency it measures our own cost per connection (cursor, encoding, signing, HTTP, the
// fake's handling: an upper bound, all on this machine's CPU); with the fake answering after
// 20 ms, the management API's round trip in the same region, it shows what the concurrency bound
// makes of that. Metrics: us/conn (wall time per connection), cpu-us/conn (process CPU time per
// connection, client and fake together), s/10k (the wall time extrapolated to 10,000).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
			b.Run(fmt.Sprintf("conns=%d/latency=%s", n, latency), func(b *testing.B) {
				e := newEnv(b, nil)
				fake := wsfake.Start(b)
				fake.SetRecording(false)
				fake.SetLatency(latency)
				insertConnections(b, e, fake, n)
				bc := stream.NewBroadcaster(e.conns, managementAPI(fake, stream.DefaultConcurrency), stream.BroadcastOptions{
					Now: func() time.Time { return refreshedAt },
				})
				prices := testPrices()
				cpu0 := cpuTime(b)
				b.ResetTimer()
				for b.Loop() {
					res, err := bc.Broadcast(testCtx(b), prices)
					if err != nil || res.Sent != n {
						b.Fatalf("broadcast: %+v, %v", res, err)
					}
				}
				b.StopTimer()
				perConn := b.Elapsed() / time.Duration(b.N*n)
				b.ReportMetric(float64(perConn.Nanoseconds())/1e3, "us/conn")
				b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/1e3/float64(b.N*n), "cpu-us/conn")
				b.ReportMetric((perConn * 10000).Seconds(), "s/10k")
				if got := fake.MaxInFlight(); got > stream.DefaultConcurrency {
					b.Errorf("%d posts in flight, bound %d", got, stream.DefaultConcurrency)
				}
			})
		}
	}
}

// insertConnections stores n live connections with one insert per thousand (the ids are the
// shape of API Gateway's), a quarter of them subscribed to BTC and ETH, and makes them live at
// the fake.
func insertConnections(b *testing.B, e *env, fake *wsfake.Server, n int) {
	b.Helper()
	db, err := e.Deps.Mongo.Database(testCtx(b))
	if err != nil {
		b.Fatal(err)
	}
	coll := db.Collection(stream.ConnectionsCollection)
	for start := 0; start < n; start += 1000 {
		docs := make([]any, 0, 1000)
		for i := start; i < min(n, start+1000); i++ {
			id := fmt.Sprintf("Bench%010d=", i)
			var symbols []string
			if i%4 == 0 {
				symbols = []string{"BTC", "ETH"}
			}
			docs = append(docs, connection(id, fake.Endpoint(), refreshedAt, symbols...))
			fake.Connect(id)
		}
		if _, err := coll.InsertMany(testCtx(b), docs); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
