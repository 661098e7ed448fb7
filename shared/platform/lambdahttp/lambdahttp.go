// Package lambdahttp runs a function's net/http handler on AWS Lambda: it accepts API Gateway REST
// (payload v1) events through aws-lambda-go-api-proxy (its core request conversion and response
// writer, as its httpadapter uses them), EventBridge scheduled events
// for functions that also run on a schedule, and closes the warm clients on SIGTERM.
//
// The local server and the tests call Function.Handle with the same events, so one code path is
// exercised everywhere.
package lambdahttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// Function is one Lambda function: an HTTP handler, a scheduled task, or both.
type Function struct {
	Name string
	// HTTP serves API Gateway requests; it is the fully wrapped handler (middleware included).
	HTTP http.Handler
	// Scheduled runs for EventBridge scheduled events ("detail-type": "Scheduled Event").
	Scheduled func(ctx context.Context, ev events.EventBridgeEvent) error
	// Routes are the HTTP routes ("GET /api/status") the handler serves; tests compare them with
	// template.yaml, and the local server checks them at start.
	Routes []string
	// Indexes are the indexes the function's queries need; they are ensured at init (see
	// app.EnsureIndexes), never on a request path.
	Indexes []mongodb.Index
	Logger  *slog.Logger

	accessor core.RequestAccessor
}

// ErrUnsupportedEvent is returned for a payload that is neither an API Gateway request nor a
// scheduled event this function handles: the invocation fails loudly instead of answering nonsense.
var ErrUnsupportedEvent = errors.New("unsupported event")

// eventKind holds the fields that tell the event sources apart.
type eventKind struct {
	HTTPMethod string `json:"httpMethod"`
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
}

// Handle is the Lambda entry point: it dispatches a raw event to HTTP or Scheduled.
func (f *Function) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var kind eventKind
	if err := json.Unmarshal(payload, &kind); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrUnsupportedEvent)
	}
	switch {
	case kind.HTTPMethod != "" && f.HTTP != nil:
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("%w: malformed API Gateway event: %v", ErrUnsupportedEvent, err)
		}
		return f.ServeEvent(ctx, ev)
	case kind.DetailType == "Scheduled Event" && f.Scheduled != nil:
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("%w: malformed EventBridge event: %v", ErrUnsupportedEvent, err)
		}
		return map[string]string{"status": "ok"}, f.Scheduled(ctx, ev)
	default:
		return nil, fmt.Errorf("%w for function %s", ErrUnsupportedEvent, f.Name)
	}
}

// ServeEvent serves one API Gateway REST request through the HTTP handler. It is httpadapter's
// ProxyWithContext (the same request conversion and response writer from the api-proxy core),
// except that a malformed event (a body flagged base64 that is not, a path the http package
// refuses) gets a 400 in the envelope instead of the adapter's 504, and the event is converted
// once, not twice.
func (f *Function) ServeEvent(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	ctx, cancel := handlerContext(ctx)
	defer cancel()
	req, err := f.accessor.EventToRequestWithContext(ctx, ev)
	if err != nil {
		f.logger().WarnContext(ctx, "unconvertible API Gateway event", "error", err.Error())
		return badEvent(ev.RequestContext.RequestID), nil
	}
	w := core.NewProxyResponseWriter()
	f.HTTP.ServeHTTP(w, req)
	resp, err := w.GetProxyResponse()
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("build proxy response: %w", err)
	}
	return resp, nil
}

// ResponseReserve caps the part of an invocation's remaining time (at most a quarter of it) that
// the handler does not get: its context ends that much before Lambda's deadline, so a request
// whose database call outlives its time still answers (503 in the envelope, with CORS) instead of
// being cut off, which API Gateway would turn into a bare 502/504. The writes that follow an
// outcome (mongodb.Detach) may use the first half of the reserve; the second is the response's.
const ResponseReserve = time.Second

// handlerContext returns the handler's context for an invocation context: without a deadline (the
// local server, schedules' callers) it is ctx itself.
func handlerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	reserve := min(ResponseReserve, time.Until(deadline)/4)
	ctx = mongodb.WithFollowUpDeadline(ctx, deadline.Add(-reserve/2))
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}

func (f *Function) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

func badEvent(requestID string) events.APIGatewayProxyResponse {
	body, _ := json.Marshal(map[string]string{
		"error": "Malformed request", "detail": "Malformed request", "code": "INVALID_REQUEST", "request_id": requestID,
	})
	return events.APIGatewayProxyResponse{
		StatusCode: http.StatusBadRequest,
		MultiValueHeaders: map[string][]string{
			"Content-Type":           {"application/json; charset=utf-8"},
			"Cache-Control":          {"no-store"},
			"X-Content-Type-Options": {"nosniff"},
			"X-Request-Id":           {requestID},
		},
		Body: string(body),
	}
}

// RequestID returns the API Gateway request id of r (set by the adapter), or "" outside Lambda.
// The web middleware uses it so the id a client sees is the one in API Gateway's access log.
func RequestID(r *http.Request) string {
	rc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok {
		return ""
	}
	return rc.RequestID
}

// ShutdownTimeout bounds the SIGTERM hook: Lambda gives the runtime about 300 ms after SIGTERM
// before it kills the process.
const ShutdownTimeout = 250 * time.Millisecond

// ShutdownHook returns the SIGTERM callback: it runs close with a ShutdownTimeout deadline.
func ShutdownHook(log *slog.Logger, close func(ctx context.Context) error) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		start := time.Now()
		if err := close(ctx); err != nil {
			log.Error("shutdown: close failed", "error", err.Error())
			return
		}
		log.Info("shutdown: clients closed", "duration_ms", time.Since(start).Milliseconds())
	}
}

// Start hands f to the Lambda runtime; close runs on SIGTERM (disconnecting the warm clients so
// Atlas does not keep connections of frozen instances open).
func Start(f *Function, close func(ctx context.Context) error) {
	lambda.StartWithOptions(f.Handle, lambda.WithEnableSIGTERM(ShutdownHook(f.logger(), close)))
}
