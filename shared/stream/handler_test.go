package stream_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
)

const awsDomain = "abc123.execute-api.us-east-1.amazonaws.com"

func newHandler(e *env, clock *fakeclock.Clock) *stream.Handler {
	return stream.NewHandler(stream.HandlerOptions{
		Connections: e.conns, Prices: staticPrices(testPrices()), Endpoints: stream.LocalEndpoints{},
		Logger: e.Deps.Logger, Now: clock.Now,
	})
}

// TestConnectStoresConnection: $connect accepts without credentials and stores the document of
// the issue: id, connected_at, expires_at 2 h later, the management endpoint, no symbols.
func TestConnectStoresConnection(t *testing.T) {
	e := newEnv(t, nil)
	clock := fakeclock.New(refreshedAt)
	h := newHandler(e, clock)

	resp := h.HandleWebSocket(testCtx(t), wsEvent(stream.EventConnect, "L0SM9cOFvHcCIhw=", awsDomain, ""))
	if resp.StatusCode != http.StatusOK || resp.Headers["X-Request-Id"] != "req-L0SM9cOFvHcCIhw=" {
		t.Fatalf("connect: %+v", resp)
	}
	doc, ok := e.doc(t, "L0SM9cOFvHcCIhw=")
	if !ok {
		t.Fatal("no connection document")
	}
	want := map[string]any{
		"connected_at": refreshedAt,
		"expires_at":   refreshedAt.Add(2 * time.Hour),
		"endpoint":     "https://" + awsDomain + "/dev",
	}
	for k, v := range want {
		got := doc[k]
		if dt, ok := got.(interface{ Time() time.Time }); ok {
			got = dt.Time().UTC()
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if syms, ok := doc["symbols"]; !ok || reflect.ValueOf(syms).Len() != 0 {
		t.Errorf("symbols = %#v, want an empty list", syms)
	}
}

// TestMessages: every client message gets one reply on its connection, bad input included.
func TestMessages(t *testing.T) {
	e := newEnv(t, nil)
	clock := fakeclock.New(refreshedAt)
	h := newHandler(e, clock)
	const id = "msg-conn"
	if r := h.HandleWebSocket(testCtx(t), wsEvent(stream.EventConnect, id, awsDomain, "")); r.StatusCode != 200 {
		t.Fatalf("connect: %+v", r)
	}
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name, body  string
		base64      bool
		reply       string   // the exact reply
		wantSymbols []string // the stored subscription afterwards (nil: unchanged)
	}{
		{"ping", `{"type":"ping"}`, false, `{"type":"pong"}`, nil},
		{"ping with extra fields", `{"type":"ping","id":7}`, false, `{"type":"pong"}`, nil},
		{"ping base64", b64([]byte(`{"type":"ping"}`)), true, `{"type":"pong"}`, nil},
		{"subscribe one", `{"type":"subscribe","symbols":["BTC"]}`, false, `{"type":"subscribed","symbols":["BTC"]}`, []string{"BTC"}},
		{"subscribe ids and case, deduplicated, in list order", `{"type":"subscribe","symbols":["eth","bitcoin","BTC"]}`, false,
			`{"type":"subscribed","symbols":["BTC","ETH"]}`, []string{"BTC", "ETH"}},
		{"invalid JSON", `{"type":`, false, `{"type":"error","error":"Invalid JSON"}`, nil},
		{"empty message", ``, false, `{"type":"error","error":"Invalid JSON"}`, nil},
		{"bad base64", `!!!`, true, `{"type":"error","error":"Invalid JSON"}`, nil},
		{"array", `["ping"]`, false, `{"type":"error","error":"Message must be a JSON object"}`, nil},
		{"string", `"ping"`, false, `{"type":"error","error":"Message must be a JSON object"}`, nil},
		{"null", `null`, false, `{"type":"error","error":"Message must be a JSON object"}`, nil},
		{"oversize", `{"type":"ping","pad":"` + strings.Repeat("x", stream.MaxMessageBytes) + `"}`, false,
			`{"type":"error","error":"Message too large (at most 1024 bytes)"}`, nil},
		{"oversize base64", b64([]byte(strings.Repeat(" ", 2*stream.MaxMessageBytes))), true,
			`{"type":"error","error":"Message too large (at most 1024 bytes)"}`, nil},
		{"unknown type", `{"type":"hello"}`, false, `{"type":"error","error":"Unknown message type: use ping or subscribe"}`, nil},
		{"server type echoed", `{"type":"price_update"}`, false, `{"type":"error","error":"Unknown message type: use ping or subscribe"}`, nil},
		{"no type", `{}`, false, `{"type":"error","error":"Message type must be a string: ping or subscribe"}`, nil},
		{"type not a string", `{"type":1}`, false, `{"type":"error","error":"Message type must be a string: ping or subscribe"}`, nil},
		{"subscribe without symbols", `{"type":"subscribe"}`, false, `{"type":"error","error":"symbols must be a list of 1 to 10 supported coin symbols"}`, nil},
		{"subscribe to a string", `{"type":"subscribe","symbols":"BTC"}`, false, `{"type":"error","error":"symbols must be a list of 1 to 10 supported coin symbols"}`, nil},
		{"subscribe to nothing", `{"type":"subscribe","symbols":[]}`, false, `{"type":"error","error":"symbols must be a list of 1 to 10 supported coin symbols"}`, nil},
		{"subscribe to an unknown coin", `{"type":"subscribe","symbols":["BTC","DOGGO"]}`, false, `{"type":"error","error":"symbols must be a list of 1 to 10 supported coin symbols"}`, nil},
		{"subscribe to numbers", `{"type":"subscribe","symbols":[1]}`, false, `{"type":"error","error":"symbols must be a list of 1 to 10 supported coin symbols"}`, nil},
		{"subscribe to too many", `{"type":"subscribe","symbols":["BTC","BTC","BTC","BTC","BTC","BTC","BTC","BTC","BTC","BTC","BTC"]}`, false,
			`{"type":"error","error":"symbols must be a list of 1 to 10 supported coin symbols"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := wsEvent(stream.EventMessage, id, awsDomain, tt.body)
			ev.IsBase64Encoded = tt.base64
			resp := h.HandleWebSocket(testCtx(t), ev)
			if resp.StatusCode != http.StatusOK || resp.Body != tt.reply {
				t.Errorf("reply %d %s, want 200 %s", resp.StatusCode, resp.Body, tt.reply)
			}
			if tt.wantSymbols != nil {
				doc, _ := e.doc(t, id)
				var got []string
				raw, _ := json.Marshal(doc["symbols"])
				_ = json.Unmarshal(raw, &got)
				if !reflect.DeepEqual(got, tt.wantSymbols) {
					t.Errorf("stored symbols %v, want %v", got, tt.wantSymbols)
				}
			}
		})
	}
}

// TestConnectionLifecycle: disconnect removes the document; a subscribe from a connection without
// a live document (removed, or past its 2 h) is told to reconnect; a ping still works.
func TestConnectionLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	clock := fakeclock.New(refreshedAt)
	h := newHandler(e, clock)
	ctx := testCtx(t)
	subscribe := `{"type":"subscribe","symbols":["BTC"]}`
	notRegistered := `{"type":"error","error":"Connection is not registered; reconnect"}`

	h.HandleWebSocket(ctx, wsEvent(stream.EventConnect, "a", awsDomain, ""))
	h.HandleWebSocket(ctx, wsEvent(stream.EventConnect, "b", awsDomain, ""))
	if r := h.HandleWebSocket(ctx, wsEvent(stream.EventDisconnect, "a", awsDomain, "")); r.StatusCode != 200 {
		t.Fatalf("disconnect: %+v", r)
	}
	if _, ok := e.doc(t, "a"); ok {
		t.Error("disconnect left the document")
	}
	if r := h.HandleWebSocket(ctx, wsEvent(stream.EventDisconnect, "a", awsDomain, "")); r.StatusCode != 200 {
		t.Errorf("second disconnect: %+v", r)
	}
	if r := h.HandleWebSocket(ctx, wsEvent(stream.EventMessage, "a", awsDomain, subscribe)); r.Body != notRegistered {
		t.Errorf("subscribe after disconnect: %s", r.Body)
	}
	clock.Advance(2*time.Hour + time.Second)
	if r := h.HandleWebSocket(ctx, wsEvent(stream.EventMessage, "b", awsDomain, subscribe)); r.Body != notRegistered {
		t.Errorf("subscribe after expiry: %s", r.Body)
	}
	if r := h.HandleWebSocket(ctx, wsEvent(stream.EventMessage, "b", awsDomain, `{"type":"ping"}`)); r.Body != `{"type":"pong"}` {
		t.Errorf("ping after expiry: %s", r.Body)
	}
}

// TestMalformedEvents: what API Gateway never sends is refused, never stored.
func TestMalformedEvents(t *testing.T) {
	e := newEnv(t, nil)
	h := newHandler(e, fakeclock.New(refreshedAt))
	tests := []struct {
		name string
		ev   func() any
		want int
	}{
		{"connection id with a space", func() any { return wsEvent(stream.EventConnect, "a b", awsDomain, "") }, 400},
		{"connection id too long", func() any { return wsEvent(stream.EventConnect, strings.Repeat("x", 129), awsDomain, "") }, 400},
		{"connection id with a control character", func() any { return wsEvent(stream.EventConnect, "a\nb", awsDomain, "") }, 400},
		{"connect without a domain", func() any { return wsEvent(stream.EventConnect, "x", "", "") }, 400},
		{"unknown event type", func() any { return wsEvent("UPGRADE", "x", awsDomain, "") }, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := json.Marshal(tt.ev())
			out, err := h.Handle(testCtx(t), raw)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ = json.Marshal(out)
			var resp struct{ StatusCode int }
			_ = json.Unmarshal(raw, &resp)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.want, raw)
			}
		})
	}
	// Payloads that are no event of this function fail the invocation.
	for _, payload := range []string{`[]`, `{"httpMethod":"GET","path":"/api/status"}`,
		`{"detail-type":"Scheduled Event","source":"aws.events"}`, `{"stream_task":"other"}`} {
		if _, err := h.Handle(testCtx(t), json.RawMessage(payload)); !errors.Is(err, lambdahttp.ErrUnsupportedEvent) {
			t.Errorf("Handle(%s): err = %v, want ErrUnsupportedEvent", payload, err)
		}
	}
}

// TestConnectRefusedWithoutDatabase: a connection that cannot be stored is refused (it would
// never get an update).
func TestConnectRefusedWithoutDatabase(t *testing.T) {
	e := newEnv(t, nil)
	h := newHandler(e, fakeclock.New(refreshedAt))
	if err := e.srv.StopEngine(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := h.HandleWebSocket(ctx, wsEvent(stream.EventConnect, "x", awsDomain, ""))
	if resp.StatusCode != http.StatusInternalServerError || resp.Body != "" {
		t.Errorf("connect with the database down: %+v", resp)
	}
}
