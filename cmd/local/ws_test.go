package main

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

// wsRefreshEvery is the local price schedule in these tests.
const wsRefreshEvery = 2 * time.Second

// streamServer is run() in-process with a fast price schedule, the embedded database reachable on
// mongoAddr, and a Mongo client on it.
type streamServer struct {
	addr   string
	out    *logbuf.Buffer
	conns  *mongo.Collection
	cancel context.CancelFunc
	done   chan error
}

func startStreamServer(t *testing.T) *streamServer {
	t.Helper()
	// The broadcast reaches the sockets through the prices function's after-refresh hook, which
	// the catalog wires together with the stream's entry.
	if _, ok := catalog.ByLogicalID("StreamFunction"); !ok {
		t.Fatal("the catalog has no StreamFunction entry: the local price schedule would not broadcast")
	}
	s := &streamServer{addr: freeAddr(t), out: &logbuf.Buffer{}, done: make(chan error, 1)}
	mongoAddr := freeAddr(t)
	env := map[string]string{"PRICE_REFRESH_INTERVAL": wsRefreshEvery.String()}
	f := flags{addr: s.addr, data: t.TempDir(), template: "../../template.yaml", mongoAddr: mongoAddr}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go func() { s.done <- run(ctx, f, func(k string) string { return env[k] }, s.out) }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", s.out.String())
		}
	})
	waitHealthy(t, "http://"+s.addr, s.out, time.Minute)
	// The first run also backfills a year of history (seconds, longer under the race detector)
	// and the schedule skips ticks meanwhile: "within two refreshes" counts from after it.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(s.out.String(), `msg="prices refreshed"`) {
		if time.Now().After(deadline) {
			t.Fatal("no price refresh finished within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}

	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + mongoAddr + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	s.conns = client.Database("cryptovault").Collection(stream.ConnectionsCollection)
	return s
}

// stop presses Ctrl-C and waits for run to return (idempotent).
func (s *streamServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok && err != nil {
			t.Errorf("run: %v", err)
		}
		if ok {
			close(s.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not return after shutdown\n%s", s.out.String())
	}
}

func (s *streamServer) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws/prices", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"http://localhost:3000"}}, // the frontend's, another origin
	})
	if err != nil {
		t.Fatalf("dial: %v (%v)\n%s", err, resp, s.out.String())
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// documents counts the connection documents.
func (s *streamServer) documents(t *testing.T) int64 {
	t.Helper()
	n, err := s.conns.CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitDocuments waits until there are n connection documents.
func (s *streamServer) waitDocuments(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(wsWait)
	for s.documents(t) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connection documents, want %d", s.documents(t), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wsMessage is any message of the stream.
type wsMessage struct {
	Type      string           `json:"type"`
	Data      []map[string]any `json:"data"`
	Timestamp string           `json:"timestamp"`
	Symbols   []string         `json:"symbols"`
	Error     string           `json:"error"`
}

func (m wsMessage) coins() []string {
	var out []string
	for _, c := range m.Data {
		s, _ := c["symbol"].(string)
		out = append(out, s)
	}
	return out
}

// next reads messages until one of type want arrives within timeout; price updates that arrive
// in between are skipped (they interleave with replies).
func wsNext(t *testing.T, c *websocket.Conn, want string, timeout time.Duration) wsMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, raw, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		var m wsMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
		if m.Type == want {
			return m
		}
		if m.Type != stream.TypePriceUpdate {
			t.Fatalf("got %s while waiting for %s", raw, want)
		}
	}
}

func wsSend(t *testing.T, c *websocket.Conn, typ websocket.MessageType, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

var (
	wsRFC3339  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	wsBillions = regexp.MustCompile(`^\$\d+\.\d\dB$`)
)

// wsWait bounds each wait for a message. It is generous because the machine may be loaded (the
// race detector, other test binaries): the acceptance criterion "within two refreshes" is
// checked by counting refreshes, not by the clock.
const wsWait = time.Minute

// refreshes counts the price schedule's completed runs (the prices function's log line).
func (s *streamServer) refreshes() int {
	return strings.Count(s.out.String(), `msg="prices refreshed" source=`)
}

// TestPriceStream is issue 9's acceptance test against the local server (run, in-process, with a
// 2 s price schedule): connect -> initial_prices with 10 coins -> price_update within two
// refreshes -> subscribe to BTC -> updates carry only BTC -> ping/pong -> bad input answered with
// errors -> disconnect removes the connection document; then the limits: a message over 128 KB
// closes the connection with 1009, and stopping the server closes open sockets with 1001.
func TestPriceStream(t *testing.T) {
	s := startStreamServer(t)
	all := []string{"BTC", "ETH", "USDT", "BNB", "SOL", "XRP", "USDC", "ADA", "DOGE", "TRX"}

	t.Run("acceptance", func(t *testing.T) {
		c := s.dial(t)
		connectedAt := s.refreshes()
		initial := wsNext(t, c, stream.TypeInitialPrices, wsWait)
		if !reflect.DeepEqual(initial.coins(), all) || !wsRFC3339.MatchString(initial.Timestamp) {
			t.Fatalf("initial_prices: coins %v, timestamp %q", initial.coins(), initial.Timestamp)
		}
		// data[] is GET /api/crypto's, field for field.
		resp, err := http.Get("http://" + s.addr + "/api/crypto")
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Data []map[string]any }
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if len(list.Data) == 0 || !reflect.DeepEqual(wsKeys(initial.Data[0]), wsKeys(list.Data[0])) {
			t.Errorf("initial data fields %v, GET /api/crypto's %v", wsKeys(initial.Data[0]), list.Data)
		}
		if mc, _ := initial.Data[0]["marketCap"].(string); !wsBillions.MatchString(mc) {
			t.Errorf("marketCap %q is not the display string", mc)
		}
		if n := s.documents(t); n != 1 {
			t.Errorf("%d connection documents while connected, want 1", n)
		}

		// A refresh that was running when the client connected may have broadcast before the
		// connection was stored; the next one must reach it, before it even logs its end.
		update := wsNext(t, c, stream.TypePriceUpdate, wsWait)
		if done := s.refreshes() - connectedAt; done > 2 {
			t.Errorf("first price_update after %d refreshes, want within two", done)
		}
		if !reflect.DeepEqual(update.coins(), all) {
			t.Errorf("price_update coins %v", update.coins())
		}

		wsSend(t, c, websocket.MessageText, `{"type":"subscribe","symbols":["BTC"]}`)
		if ack := wsNext(t, c, stream.TypeSubscribed, wsWait); !slices.Equal(ack.Symbols, []string{"BTC"}) {
			t.Errorf("subscribed %v", ack.Symbols)
		}
		for range 2 {
			if u := wsNext(t, c, stream.TypePriceUpdate, wsWait); !slices.Equal(u.coins(), []string{"BTC"}) {
				t.Errorf("update after subscribing to BTC carries %v", u.coins())
			}
		}

		wsSend(t, c, websocket.MessageText, `{"type":"ping"}`)
		wsNext(t, c, stream.TypePong, wsWait)
		wsSend(t, c, websocket.MessageBinary, `{"type":"ping"}`)
		wsNext(t, c, stream.TypePong, wsWait)

		bad := []struct{ name, msg, want string }{
			{"invalid JSON", `{"type":`, "Invalid JSON"},
			{"not an object", `[1,2]`, "Message must be a JSON object"},
			{"unknown type", `{"type":"dance"}`, "Unknown message type: use ping or subscribe"},
			{"unknown coin", `{"type":"subscribe","symbols":["NOPE"]}`, "symbols must be a list of 1 to 10 supported coin symbols"},
			{"over 1 KB", `{"type":"ping","pad":"` + strings.Repeat("x", 2000) + `"}`, "Message too large (at most 1024 bytes)"},
		}
		for _, b := range bad {
			wsSend(t, c, websocket.MessageText, b.msg)
			if m := wsNext(t, c, stream.TypeError, wsWait); m.Error != b.want {
				t.Errorf("%s: error %q, want %q", b.name, m.Error, b.want)
			}
		}

		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Errorf("close: %v", err)
		}
		s.waitDocuments(t, 0)
	})

	t.Run("over 128 KB closes 1009", func(t *testing.T) {
		big := s.dial(t)
		wsNext(t, big, stream.TypeInitialPrices, wsWait)
		wsSend(t, big, websocket.MessageText, strings.Repeat("x", stream.MaxPostBytes+1))
		if err := wsClosed(big); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Errorf("oversize message: %v, want close 1009", err)
		}
		s.waitDocuments(t, 0)
	})

	t.Run("shutdown closes 1001", func(t *testing.T) {
		open := s.dial(t)
		wsNext(t, open, stream.TypeInitialPrices, wsWait)
		s.waitDocuments(t, 1)
		// Keep reading while the server stops: the client answers the close handshake.
		closed := make(chan error, 1)
		go func() { closed <- wsClosed(open) }()
		s.stop(t)
		if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("at shutdown: %v, want close 1001", err)
		}
		if !strings.Contains(s.out.String(), "msg=stopped") {
			t.Error("server did not stop cleanly")
		}
	})
}

// wsClosed reads (and drops) messages until the connection ends, and returns why.
func wsClosed(c *websocket.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return err
		}
	}
}

func wsKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
