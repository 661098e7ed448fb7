package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/stream"
)

// The price stream on the local server (api.md: ws://127.0.0.1:8001/ws/prices). It plays API
// Gateway's WebSocket API: each socket event becomes the event API Gateway would send, handed to
// the stream function's Handler in-process, and the sockets are the Poster of the local
// endpoint, so the prices function's after-refresh hook reaches them as it reaches the management
// API in AWS.
const (
	wsPath  = "/ws/prices"
	wsStage = "local"
	// wsReadLimit is API Gateway's message limit: a larger message closes the connection (1009),
	// as there. Smaller ones reach the handler, which answers those over its own limit.
	wsReadLimit = stream.MaxPostBytes
	// wsIdleTimeout is API Gateway's idle timeout: a connection that sends nothing for 10 minutes
	// is closed (clients keep it open with {"type":"ping"}).
	wsIdleTimeout = 10 * time.Minute
	// wsWriteTimeout bounds one message to a client; a client that does not read is dropped.
	wsWriteTimeout = 5 * time.Second
	// wsEventTimeout bounds one handler call (a function's timeout).
	wsEventTimeout = 10 * time.Second
)

// wsHub owns the local sockets: it serves wsPath and is the Poster of the local endpoint.
type wsHub struct {
	handler *stream.Handler
	domain  string // requestContext.domainName of the events: the listen address
	log     *slog.Logger

	mu     sync.Mutex
	conns  map[string]*websocket.Conn
	closed bool
	active sync.WaitGroup // running socket handlers (each ends with its $disconnect)
}

// mountStream serves the price stream on gw at wsPath for the server listening on addr, until ctx
// ends. The returned function closes every socket and waits for their $disconnect; run defers it,
// so it runs before the database closes. A failure to mount is logged, not fatal: the REST API
// does not depend on the stream.
func mountStream(ctx context.Context, gw *gateway, deps *app.Deps, addr string) (stop func()) {
	hub := &wsHub{domain: addr, log: gw.log, conns: map[string]*websocket.Conn{}}
	endpoint := stream.ManagementEndpoint(events.APIGatewayWebsocketProxyRequestContext{DomainName: addr, Stage: wsStage})
	unregister, err := stream.RegisterLocalEndpoint(endpoint, hub)
	if err != nil {
		gw.log.Error("price stream not served", "error", err.Error())
		return func() {}
	}
	hub.handler = stream.NewHandlerFor(deps, stream.LocalEndpoints{}, nil)
	gw.mux.Handle("GET "+wsPath, hub)
	stopWatching := context.AfterFunc(ctx, hub.closeAll)
	return func() {
		stopWatching()
		hub.closeAll()
		hub.active.Wait()
		unregister()
	}
}

// PostToConnection writes data to a local socket; ErrGone when it is not open.
func (h *wsHub) PostToConnection(ctx context.Context, id string, data []byte) error {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		return stream.ErrGone
	}
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, data); err != nil {
		// The write failed or timed out, and the library closed the socket: it is gone.
		return fmt.Errorf("%w: %v", stream.ErrGone, err)
	}
	return nil
}

// ServeHTTP runs one connection: $connect before the handshake (a refusal is an HTTP error, as
// API Gateway's), initial_prices right after it, a $default per message with the reply written
// back (the route response), $disconnect at the end.
func (h *wsHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.active.Done()
	id := newConnectionID()
	connectedAt := time.Now()
	resp := h.call(h.event(stream.EventConnect, id, connectedAt, r, message{}))
	if resp.StatusCode/100 != 2 {
		http.Error(w, http.StatusText(resp.StatusCode), resp.StatusCode)
		return
	}
	// Any origin: the stream is public data and reads no cookie or token, so a cross-site page
	// gains nothing; API Gateway checks no origin either.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		h.call(h.event(stream.EventDisconnect, id, connectedAt, nil, message{})) // the handshake failed after $connect
		return
	}
	c.SetReadLimit(wsReadLimit)
	// At most API Gateway's 2 h; the server stopping closes the socket instead (closeAll), which
	// ends the reads below.
	ctx, cancel := context.WithTimeout(context.Background(), stream.MaxConnectionAge)
	defer cancel()
	added := h.add(id, c)
	defer func() {
		h.remove(id)
		c.CloseNow()
		h.call(h.event(stream.EventDisconnect, id, connectedAt, nil, message{}))
	}()
	if !added { // the server began stopping during the handshake
		c.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	if err := h.handler.SendInitial(ctx, id); err != nil {
		h.log.Warn("price stream: initial prices not sent", "error", err.Error())
	}
	for {
		msg, err := h.read(ctx, c)
		if err != nil {
			return // closed by the client, idle, too large, or the server stopping
		}
		reply := h.call(h.event(stream.EventMessage, id, connectedAt, nil, msg))
		if reply.Body == "" {
			continue
		}
		if err := h.PostToConnection(ctx, id, []byte(reply.Body)); err != nil {
			return
		}
	}
}

// read waits for the next message for at most the idle timeout. A binary message is handed on
// base64-encoded with isBase64Encoded set (API Gateway's CONVERT_TO_TEXT form), which the handler
// decodes.
func (h *wsHub) read(ctx context.Context, c *websocket.Conn) (msg message, err error) {
	ctx, cancel := context.WithTimeout(ctx, wsIdleTimeout)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		return message{}, err
	}
	if typ == websocket.MessageBinary {
		return message{body: base64.StdEncoding.EncodeToString(data), base64: true}, nil
	}
	return message{body: string(data)}, nil
}

// message is a client message as the event carries it.
type message struct {
	body   string
	base64 bool
}

// event builds the API Gateway event of one socket event; r is the upgrade request, for $connect.
func (h *wsHub) event(eventType, id string, connectedAt time.Time, r *http.Request, msg message) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	routes := map[string]string{stream.EventConnect: "$connect", stream.EventDisconnect: "$disconnect", stream.EventMessage: "$default"}
	ev := events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: routes[eventType], EventType: eventType, ConnectionID: id, DomainName: h.domain, Stage: wsStage,
			APIID: "local", RequestID: newRequestID(), ExtendedRequestID: newRequestID(), MessageDirection: "IN",
			ConnectedAt: connectedAt.UnixMilli(), RequestTimeEpoch: now.UnixMilli(),
			RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		},
	}
	ev.Body, ev.IsBase64Encoded = msg.body, msg.base64
	if r != nil {
		ev.Headers = map[string]string{}
		ev.MultiValueHeaders = map[string][]string(r.Header.Clone())
		for k, vs := range r.Header {
			ev.Headers[k] = strings.Join(vs, ",")
		}
		ev.RequestContext.Identity.SourceIP, _, _ = net.SplitHostPort(r.RemoteAddr)
		ev.RequestContext.Identity.UserAgent = r.UserAgent()
	}
	return ev
}

// call runs the handler on one event with a function's timeout, detached from the socket's
// context so a $disconnect still runs when the connection ended by cancellation.
func (h *wsHub) call(ev events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	ctx, cancel := context.WithTimeout(context.Background(), wsEventTimeout)
	defer cancel()
	return h.handler.HandleWebSocket(ctx, ev)
}

// enter counts a new socket handler, unless the hub is closing.
func (h *wsHub) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.active.Add(1)
	return true
}

func (h *wsHub) add(id string, c *websocket.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[id] = c
	return !h.closed
}

func (h *wsHub) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, id)
}

// closeAll closes every socket with 1001 Going Away and refuses new ones; each handler then runs
// its $disconnect. The close handshakes run in parallel: one slow client must not hold the others.
func (h *wsHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, c := range h.conns {
		go c.Close(websocket.StatusGoingAway, "server shutting down")
	}
}

// newConnectionID makes an id shaped like API Gateway's: 16 characters of base64, so that '+',
// '/' and '=' occur locally too.
func newConnectionID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
