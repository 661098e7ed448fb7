package devdb

import (
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// waitConnStats polls until ok accepts the counts (the proxy counts a connection when its accept
// loop gets it and uncounts it when its goroutine ends, both a moment after the client's side).
func waitConnStats(t *testing.T, s *Server, what string, ok func(ConnStats) bool) ConnStats {
	t.Helper()

	deadline := time.Now().Add(5 * time.Second)

	for {
		st := s.ConnStats()
		if ok(st) {
			return st
		}

		if time.Now().After(deadline) {
			t.Fatalf("%s: connection counts %+v", what, st)
		}

		time.Sleep(5 * time.Millisecond)
	}
}

// TestConnStats: the counts follow raw connections exactly, Peak keeps the high-water mark until
// ResetConnPeak, and a driver client's pool and monitoring connections are counted and released.
func TestConnStats(t *testing.T) {
	s := startServer(t, Options{})

	u, err := url.Parse(s.URI())
	if err != nil {
		t.Fatal(err)
	}

	var raw []net.Conn

	t.Cleanup(func() {
		for _, c := range raw {
			_ = c.Close()
		}
	})

	var (
		client *mongo.Client
		// afterRaw is Open with the raw connections left open, before the driver's.
		afterRaw int
	)

	const poolSize = 2

	steps := []struct {
		name string
		do   func(t *testing.T)
		want func(ConnStats) bool
	}{
		{
			name: "none yet",
			do:   func(*testing.T) {},
			want: func(st ConnStats) bool { return st == ConnStats{} },
		},
		{
			name: "five raw connections",
			do: func(t *testing.T) {
				for range 5 {
					c, err := net.Dial("tcp", u.Host)
					if err != nil {
						t.Fatal(err)
					}

					raw = append(raw, c)
				}
			},
			want: func(st ConnStats) bool { return st == ConnStats{Open: 5, Peak: 5, Accepted: 5} },
		},
		{
			name: "two closed: Open drops, Peak stays",
			do: func(*testing.T) {
				for _, c := range raw[:2] {
					_ = c.Close()
				}

				raw = raw[2:]
			},
			want: func(st ConnStats) bool { return st == ConnStats{Open: 3, Peak: 5, Accepted: 5} },
		},
		{
			name: "ResetConnPeak",
			do:   func(*testing.T) { s.ResetConnPeak(); afterRaw = 3 },
			want: func(st ConnStats) bool { return st == ConnStats{Open: 3, Peak: 3, Accepted: 5} },
		},
		{
			// Twenty slow finds at once want twenty connections; the pool holds two, and the
			// driver adds its monitoring connection(s): one or two.
			name: "driver client under demand",
			do: func(t *testing.T) {
				client = connect(t, s.URI(), func(o *options.ClientOptions) { o.SetMaxPoolSize(poolSize) })
				s.Inject(Fault{Command: "find", Delay: 20 * time.Millisecond})
				t.Cleanup(s.ClearFaults)

				coll := client.Database("connstats").Collection("c")
				ctx := testCtx(t)

				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						if err := coll.FindOne(ctx, bson.D{}).Err(); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
							t.Errorf("find: %v", err)
						}
					})
				}

				wg.Wait()
				s.ClearFaults()
			},
			want: func(st ConnStats) bool {
				extra := st.Peak - afterRaw
				return extra >= poolSize+1 && extra <= poolSize+2 && st.Open == st.Peak
			},
		},
		{
			name: "driver client disconnected",
			do: func(t *testing.T) {
				if err := client.Disconnect(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			},
			want: func(st ConnStats) bool { return st.Open == afterRaw },
		},
		{
			name: "all closed",
			do: func(*testing.T) {
				for _, c := range raw {
					_ = c.Close()
				}

				raw = nil
			},
			want: func(st ConnStats) bool { return st.Open == 0 && st.Peak >= afterRaw+poolSize+1 },
		},
	}

	for _, step := range steps {
		step.do(t)
		st := waitConnStats(t, s, step.name, step.want)
		t.Logf("%-40s %+v", step.name, st)
	}
}
