package stream_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/wsfake"
)

// recorder is a Poster that keeps what it is sent (the local server's sockets, in a test).
type recorder struct {
	mu   sync.Mutex
	sent map[string][][]byte
}

func (r *recorder) PostToConnection(_ context.Context, id string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = map[string][][]byte{}
	}
	r.sent[id] = append(r.sent[id], data)
	return nil
}

// TestPricesFunctionBroadcasts runs the prices function as its bootstrap builds it, with the
// stream's after-refresh hook: in AWS the update reaches the connection through the management
// API with awsconfig's configuration (region and credentials from the environment);
// on the local server it reaches the local endpoint and never leaves the process.
func TestPricesFunctionBroadcasts(t *testing.T) {
	tests := []struct {
		environment string
	}{{"dev"}, {"local"}}
	for _, tt := range tests {
		t.Run(tt.environment, func(t *testing.T) {
			fake := wsfake.Start(t)
			for k, v := range map[string]string{
				"AWS_REGION": wsfake.Region, "AWS_ACCESS_KEY_ID": wsfake.AccessKeyID, "AWS_SECRET_ACCESS_KEY": wsfake.SecretAccessKey,
				"AWS_SESSION_TOKEN": "",
			} {
				t.Setenv(k, v)
			}
			e := newEnv(t, map[string]string{"ENVIRONMENT": tt.environment, "PRICE_FEED": "simulated"})
			rec := &recorder{}
			endpoint := fake.Endpoint()
			if tt.environment == "local" {
				endpoint = "https://127.0.0.1:0/local-test"
				unregister, err := stream.RegisterLocalEndpoint(endpoint, rec)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(unregister)
			}
			e.add(t, connection("c1", endpoint, refreshedAt.AddDate(10, 0, 0))) // far from expiry whatever the clock
			fake.Connect("c1")

			fn, err := market.NewPricesFunctionWith(stream.AfterRefresh)(e.Deps)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fn.Handle(testCtx(t), json.RawMessage(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)); err != nil {
				t.Fatalf("prices run: %v\n%s", err, e.Logs.String())
			}
			msgs := fake.Messages("c1")
			if tt.environment == "local" {
				if len(msgs) != 0 {
					t.Error("the local server posted to a remote endpoint")
				}
				msgs = rec.sent["c1"]
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1\n%s", len(msgs), e.Logs.String())
			}
			if m := decodePrices(t, msgs[0]); m.Type != "price_update" || len(m.Data) != 10 {
				t.Errorf("got %s with %d coins", m.Type, len(m.Data))
			}
			if metrics := e.Metrics.String(); !strings.Contains(metrics, `"StreamMessagesSent":1`) || !strings.Contains(metrics, `"Service":"prices"`) {
				t.Errorf("no broadcast metrics: %s", e.Metrics.String())
			}
		})
	}
}

// TestRegisterLocalEndpoint: one owner per endpoint; unregistering frees it.
func TestRegisterLocalEndpoint(t *testing.T) {
	const ep = "https://127.0.0.1:1/register-test"
	unregister, err := stream.RegisterLocalEndpoint(ep, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.RegisterLocalEndpoint(ep, &recorder{}); err == nil {
		t.Error("a second registration of one endpoint succeeded")
	}
	if _, err := (stream.LocalEndpoints{}).Poster(ep); err != nil {
		t.Errorf("registered endpoint: %v", err)
	}
	unregister()
	if _, err := (stream.LocalEndpoints{}).Poster(ep); err == nil {
		t.Error("unregistered endpoint still resolves")
	}
	again, err := stream.RegisterLocalEndpoint(ep, &recorder{})
	if err != nil {
		t.Fatalf("register after unregister: %v", err)
	}
	again()
}
