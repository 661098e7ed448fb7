package stream_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/wsfake"
)

// fakeLambda plays Lambda's Invoke API for asynchronous invocations: it checks the SigV4 scope and
// the invocation type, answers 202, and then runs the event through the handler, as Lambda would
// on another instance.
type fakeLambda struct {
	srv     *httptest.Server
	mu      sync.Mutex
	events  []string
	done    chan error
	handler func(ctx context.Context, payload json.RawMessage) (any, error)
}

func startFakeLambda(t *testing.T) *fakeLambda {
	t.Helper()
	l := &fakeLambda{done: make(chan error, 10)}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/cryptovault-dev-stream/invocations" ||
			r.Header.Get("X-Amz-Invocation-Type") != "Event" || !strings.Contains(auth, "/"+wsfake.Region+"/lambda/aws4_request") {
			http.Error(w, `{"message":"bad invoke"}`, http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.events = append(l.events, string(body))
		l.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := l.handler(ctx, body)
			l.done <- err
		}()
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// rewrite sends every endpoint to the fake's: the events carry an execute-api domain (https), the
// fake listens on plain http.
type rewrite struct {
	api *stream.ManagementAPI
	to  string
}

func (r rewrite) Poster(string) (stream.Poster, error) { return r.api.Poster(r.to) }

// TestInitialPricesHandOff: $connect hands initial_prices to an asynchronous invocation of the
// function, which posts them once API Gateway has established the connection (410 until then),
// with the connection's coins; a connection that never becomes live gets nothing and is no error;
// a hand-off that fails does not refuse the connection.
func TestInitialPricesHandOff(t *testing.T) {
	tests := []struct {
		name        string
		establishIn time.Duration // -1: never
		lambdaDown  bool
		wantPosted  bool
	}{
		{"established before the task runs", 0, false, true},
		{"established while the task retries 410", 300 * time.Millisecond, false, true},
		{"never established", -1, false, false},
		{"Lambda unreachable", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			fake := wsfake.Start(t)
			lambda := startFakeLambda(t)
			endpoint := lambda.srv.URL
			if tt.lambdaDown {
				endpoint = "http://127.0.0.1:1"
			}
			load := func(context.Context) (aws.Config, error) { return fake.Config(), nil }
			h := stream.NewHandler(stream.HandlerOptions{
				Connections: e.conns, Prices: staticPrices(testPrices()),
				Endpoints:   rewrite{managementAPI(fake, 2), fake.Endpoint()},
				Initial:     stream.NewLambdaInvoker(load, "cryptovault-dev-stream", endpoint),
				InitialWait: time.Second, Logger: e.Deps.Logger, Now: fakeclock.New(refreshedAt).Now,
			})
			lambda.handler = h.Handle
			const id = "Zx0pQmWvIAMCJmA="
			if tt.establishIn == 0 {
				fake.Connect(id)
			}
			resp := h.HandleWebSocket(testCtx(t), wsEvent(stream.EventConnect, id, awsDomain, ""))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("connect: %+v", resp)
			}
			if tt.establishIn > 0 {
				time.Sleep(tt.establishIn) // API Gateway completes the handshake after $connect's answer
				fake.Connect(id)
			}
			if tt.lambdaDown {
				if !strings.Contains(e.Logs.String(), "initial prices not handed off") {
					t.Error("no warning for the failed hand-off")
				}
				return
			}
			select {
			case err := <-lambda.done:
				if err != nil {
					t.Fatalf("task: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the task did not finish")
			}
			if got := lambda.events; len(got) != 1 || got[0] != `{"stream_task":"initial_prices","connection_id":"`+id+`"}` {
				t.Errorf("invocations %v", got)
			}
			msgs := fake.Messages(id)
			if !tt.wantPosted {
				if len(msgs) != 0 {
					t.Errorf("%d messages to a connection that never opened", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			m := decodePrices(t, msgs[0])
			if m.Type != "initial_prices" || len(m.Data) != 10 || m.Timestamp != "2026-11-28T09:15:00Z" {
				t.Errorf("initial message %s %d coins %s", m.Type, len(m.Data), m.Timestamp)
			}
		})
	}
}

// TestSendInitialNarrowed: initial prices follow the stored subscription, and a connection without
// a document (it left already) is no error.
func TestSendInitialNarrowed(t *testing.T) {
	e := newEnv(t, nil)
	fake := wsfake.Start(t)
	h := stream.NewHandler(stream.HandlerOptions{
		Connections: e.conns, Prices: staticPrices(testPrices()), Endpoints: managementAPI(fake, 2),
		Now: fakeclock.New(refreshedAt).Now,
	})
	e.add(t, connection("sol", fake.Endpoint(), refreshedAt, "SOL", "ADA"))
	fake.Connect("sol")
	if err := h.SendInitial(testCtx(t), "sol"); err != nil {
		t.Fatal(err)
	}
	if got := decodePrices(t, fake.Messages("sol")[0]).symbols(); !reflect.DeepEqual(got, []string{"SOL", "ADA"}) {
		t.Errorf("initial coins %v", got)
	}
	if err := h.SendInitial(testCtx(t), "unknown"); err != nil {
		t.Errorf("SendInitial for a connection without document: %v", err)
	}
}
