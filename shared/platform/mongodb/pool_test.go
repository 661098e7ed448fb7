package mongodb_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// poolPeaks follows a pool through its monitor: connections open and checked out, and their peaks.
type poolPeaks struct {
	mu                           sync.Mutex
	open, out, peakOpen, peakOut int
}

func (p *poolPeaks) monitor() *event.PoolMonitor {
	return &event.PoolMonitor{Event: func(e *event.PoolEvent) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch e.Type {
		case event.ConnectionCreated:
			p.open++
		case event.ConnectionClosed:
			p.open--
		case event.ConnectionCheckedOut:
			p.out++
		case event.ConnectionCheckedIn:
			p.out--
		}
		p.peakOpen, p.peakOut = max(p.peakOpen, p.open), max(p.peakOut, p.out)
	}}
}

// TestPoolCapAndMonitor: the pool monitor sees the pool's connections, and under more parallel
// commands than the pool holds the client opens exactly its cap (DefaultMaxPoolSize when Options
// leave it zero) and the others wait; at the server that is the cap plus the monitoring
// connections, within MonitoringConnsPerServer.
func TestPoolCapAndMonitor(t *testing.T) {
	tests := []struct {
		name    string
		maxPool uint64
		want    int
	}{
		{name: "default", maxPool: 0, want: mongodb.DefaultMaxPoolSize},
		{name: "explicit", maxPool: 2, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := testenv.DB(t)
			peaks := &poolPeaks{}
			c := mongodb.New(mongodb.Options{URI: constURI(db.URI()), Database: "test", MaxPoolSize: tt.maxPool, PoolMonitor: peaks.monitor()})
			t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
			if got := c.Options().MaxPoolSize; got != uint64(tt.want) {
				t.Fatalf("Options().MaxPoolSize = %d, want %d", got, tt.want)
			}
			ctx := context.Background()
			d, err := c.Database(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Slow finds (the delay is outside the engine's command lock, so they overlap), four
			// times as many as the pool holds: every connection is in use while others wait.
			db.Inject(devdb.Fault{Command: "find", Delay: 50 * time.Millisecond})
			var wg sync.WaitGroup
			for range 4 * tt.want {
				wg.Go(func() {
					if err := d.Collection("x").FindOne(ctx, bson.D{}).Err(); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
						t.Errorf("find: %v", err)
					}
				})
			}
			wg.Wait()
			db.ClearFaults()

			peaks.mu.Lock()
			peakOpen, peakOut := peaks.peakOpen, peaks.peakOut
			peaks.mu.Unlock()
			server := db.ConnStats().Peak
			t.Logf("pool: peak open %d, peak checked out %d; server: peak %d", peakOpen, peakOut, server)
			if peakOpen != tt.want || peakOut != tt.want {
				t.Errorf("pool peaks: open %d, checked out %d; want both %d (the cap, reached)", peakOpen, peakOut, tt.want)
			}
			if server < tt.want+1 || server > tt.want+mongodb.MonitoringConnsPerServer {
				t.Errorf("server peak %d connections, want the pool's %d + 1..%d monitoring", server, tt.want, mongodb.MonitoringConnsPerServer)
			}
		})
	}
}
