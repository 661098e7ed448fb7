package stream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "stream"

// API Gateway's WebSocket event types (requestContext.eventType).
const (
	EventConnect    = "CONNECT"
	EventDisconnect = "DISCONNECT"
	EventMessage    = "MESSAGE"
)

const (
	// InitialWait bounds how long the initial_prices task retries a 410: the asynchronous
	// invocation may start before API Gateway has finished the handshake that $connect's answer
	// completes (tens of milliseconds).
	InitialWait = 3 * time.Second
	// handOffTimeout bounds $connect's Invoke call (Lambda answers 202 in tens of milliseconds); a
	// client waits for $connect, and losing the hand-off costs only the wait for the next update.
	handOffTimeout = time.Second
	// taskInitialPrices is the asynchronous task that posts initial_prices.
	taskInitialPrices = "initial_prices"
)

// PriceSource gives every current price (market.Store, whose per-instance cache makes a burst of
// connects one database read).
type PriceSource interface {
	All(ctx context.Context) ([]market.Price, error)
}

// HandlerOptions configures a Handler.
type HandlerOptions struct {
	Connections *Connections
	Prices      PriceSource
	// Endpoints reaches the connections for initial_prices.
	Endpoints Endpoints
	// Initial, when set, is how $connect gets initial_prices sent (the asynchronous invocation in
	// AWS). nil: $connect hands off nothing, and the caller sends it with SendInitial once the
	// connection is established (the local server).
	Initial Invoker
	// InitialWait bounds SendInitial's retries of a 410 (default InitialWait).
	InitialWait time.Duration
	Logger      *slog.Logger     // default: discard
	Now         func() time.Time // default time.Now
}

// Handler is the stream function: API Gateway WebSocket events and its own asynchronous task. It
// is safe for concurrent use.
type Handler struct {
	conns     *Connections
	prices    PriceSource
	endpoints Endpoints
	initial   Invoker
	wait      time.Duration
	log       *slog.Logger
	now       func() time.Time
}

// NewHandler returns the handler. It does no I/O.
func NewHandler(o HandlerOptions) *Handler {
	h := &Handler{conns: o.Connections, prices: o.Prices, endpoints: o.Endpoints, initial: o.Initial, wait: o.InitialWait, log: o.Logger, now: o.Now}
	if h.wait <= 0 {
		h.wait = InitialWait
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// task is the event of the asynchronous invocation. It carries only the connection id: the
// endpoint to post to is read from the connection's document, so the event cannot point the
// function at an arbitrary URL.
type task struct {
	Task         string `json:"stream_task"`
	ConnectionID string `json:"connection_id"`
}

// Handle is the Lambda entry point: a WebSocket event (requestContext.eventType and connectionId
// present) or the initial_prices task. Anything else fails the invocation loudly.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		RequestContext *struct {
			EventType    string `json:"eventType"`
			ConnectionID string `json:"connectionId"`
		} `json:"requestContext"`
		task
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object", lambdahttp.ErrUnsupportedEvent)
	}
	switch {
	case probe.RequestContext != nil && probe.RequestContext.EventType != "" && probe.RequestContext.ConnectionID != "":
		var ev events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("%w: malformed WebSocket event: %v", lambdahttp.ErrUnsupportedEvent, err)
		}
		return h.HandleWebSocket(ctx, ev), nil
	case probe.Task == taskInitialPrices:
		return map[string]string{"status": "ok"}, h.SendInitial(ctx, probe.ConnectionID)
	default:
		return nil, fmt.Errorf("%w for function %s", lambdahttp.ErrUnsupportedEvent, Name)
	}
}

// HandleWebSocket answers one API Gateway WebSocket event. For $default the body is the reply
// that the route response sends back on the connection; for $connect a non-2xx status refuses the
// connection.
func (h *Handler) HandleWebSocket(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	rc := ev.RequestContext
	if !validConnectionID(rc.ConnectionID) {
		h.log.WarnContext(ctx, "stream: event with a malformed connection id", "event_type", rc.EventType, "request_id", rc.RequestID)
		return response(http.StatusBadRequest, rc.RequestID, nil)
	}
	switch rc.EventType {
	case EventConnect:
		return h.connect(ctx, rc)
	case EventDisconnect:
		return h.disconnect(ctx, rc)
	case EventMessage:
		return response(http.StatusOK, rc.RequestID, h.message(ctx, rc.ConnectionID, ev.Body, ev.IsBase64Encoded))
	default:
		h.log.WarnContext(ctx, "stream: unknown WebSocket event type", "event_type", rc.EventType, "request_id", rc.RequestID)
		return response(http.StatusBadRequest, rc.RequestID, nil)
	}
}

// ManagementEndpoint is the management API endpoint of the API an event came through: API
// Gateway's execute-api domain and the stage. (Behind a custom domain the domainName would be
// that domain; the stream has none.)
func ManagementEndpoint(rc events.APIGatewayWebsocketProxyRequestContext) string {
	return "https://" + rc.DomainName + "/" + rc.Stage
}

func (h *Handler) connect(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) events.APIGatewayProxyResponse {
	if rc.DomainName == "" || rc.Stage == "" {
		h.log.WarnContext(ctx, "stream: connect event without domainName or stage", "request_id", rc.RequestID)
		return response(http.StatusBadRequest, rc.RequestID, nil)
	}
	now := h.now().UTC().Truncate(time.Millisecond) // as BSON stores it
	conn := Connection{
		ID: rc.ConnectionID, ConnectedAt: now, ExpiresAt: now.Add(MaxConnectionAge), Endpoint: ManagementEndpoint(rc),
	}
	if err := h.conns.Add(ctx, conn); err != nil {
		// Refuse the connection: unregistered, it would never get an update.
		h.log.ErrorContext(ctx, "stream: connection not stored; refused", "request_id", rc.RequestID, "error", err.Error())
		return response(http.StatusInternalServerError, rc.RequestID, nil)
	}
	if h.initial != nil {
		h.handOff(ctx, rc)
	}
	h.log.InfoContext(ctx, "stream: connected", "connection_id", rc.ConnectionID, "request_id", rc.RequestID)
	return response(http.StatusOK, rc.RequestID, nil)
}

// handOff queues the initial_prices task. A failure is logged, not returned: the connection is
// fine, and the client gets the prices with the next update.
func (h *Handler) handOff(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) {
	payload, _ := json.Marshal(task{Task: taskInitialPrices, ConnectionID: rc.ConnectionID})
	ctx, cancel := context.WithTimeout(ctx, handOffTimeout)
	defer cancel()
	if err := h.initial.InvokeAsync(ctx, payload); err != nil {
		h.log.WarnContext(ctx, "stream: initial prices not handed off; the client gets the next update",
			"request_id", rc.RequestID, "error", err.Error())
	}
}

func (h *Handler) disconnect(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) events.APIGatewayProxyResponse {
	if err := h.conns.Remove(ctx, rc.ConnectionID); err != nil {
		// The connection is closed whatever we answer; its document is skipped once expired.
		h.log.ErrorContext(ctx, "stream: connection document not removed", "request_id", rc.RequestID, "error", err.Error())
		return response(http.StatusInternalServerError, rc.RequestID, nil)
	}
	h.log.InfoContext(ctx, "stream: disconnected", "connection_id", rc.ConnectionID, "request_id", rc.RequestID)
	return response(http.StatusOK, rc.RequestID, nil)
}

// message answers one client message; every outcome is a reply, errors included.
func (h *Handler) message(ctx context.Context, id, body string, base64Encoded bool) []byte {
	raw := []byte(body)
	if base64Encoded {
		if len(body) > base64.StdEncoding.EncodedLen(MaxMessageBytes) {
			return errorReply(msgTooLarge)
		}
		decoded, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return errorReply(msgInvalidJSON)
		}
		raw = decoded
	}
	req, problem := parseRequest(raw)
	if problem != "" {
		h.log.DebugContext(ctx, "stream: message refused", "connection_id", id, "reason", problem, "bytes", len(raw))
		return errorReply(problem)
	}
	switch req.Type {
	case TypeSubscribe:
		err := h.conns.Subscribe(ctx, id, req.Symbols, h.now())
		if errors.Is(err, ErrNoConnection) {
			return errorReply(msgNotRegistered)
		}
		if err != nil {
			h.log.ErrorContext(ctx, "stream: subscription not stored", "connection_id", id, "error", err.Error())
			return errorReply(msgUnavailable)
		}
		return subscribedReply(req.Symbols)
	default: // ping
		return pongReply
	}
}

// SendInitial posts initial_prices (the connection's coins, every coin after connect) to a
// registered connection. A 410 is retried for up to HandlerOptions.InitialWait, since the connection may not be
// established yet; a connection that has no document or stays gone has left, which is no error.
func (h *Handler) SendInitial(ctx context.Context, connectionID string) error {
	if !validConnectionID(connectionID) {
		return fmt.Errorf("stream: initial prices: malformed connection id")
	}
	now := h.now()
	conn, err := h.conns.Get(ctx, connectionID, now)
	if errors.Is(err, ErrNoConnection) {
		return nil
	}
	if err != nil {
		return err
	}
	prices, err := h.prices.All(ctx)
	if err != nil {
		return fmt.Errorf("stream: initial prices: %w", err)
	}
	msg, ok, err := encodePrices(TypeInitialPrices, prices, conn.Symbols, pricesTime(prices, now))
	if err != nil || !ok {
		return err
	}
	poster, err := h.endpoints.Poster(conn.Endpoint)
	if err != nil {
		return fmt.Errorf("stream: initial prices: %w", err)
	}
	start := time.Now()
	for pause := 50 * time.Millisecond; ; pause *= 2 {
		err := poster.PostToConnection(ctx, connectionID, msg)
		if !errors.Is(err, ErrGone) {
			return err
		}
		if time.Since(start)+pause > h.wait {
			h.log.DebugContext(ctx, "stream: initial prices: connection gone", "connection_id", connectionID)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// response is the integration response. Headers mean nothing to a WebSocket client; X-Request-Id
// is there for the same correlation as the REST functions' responses.
func response(status int, requestID string, body []byte) events.APIGatewayProxyResponse {
	headers := map[string]string{"X-Request-Id": requestID}
	if body != nil {
		headers["Content-Type"] = "application/json; charset=utf-8"
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(body)}
}
